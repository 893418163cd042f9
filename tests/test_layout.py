"""The layout's rules hold: the network side and extraction never load the engine, python -m works."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded_after(imports: str) -> set[str]:
    probe = f"import sys; {imports}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("package", ["pycircuits.network", "pycircuits.studies", "pycircuits.twins"])
def test_network_side_does_not_import_pyspice_or_the_engine(package):
    loaded = _loaded_after(f"import {package}; import {package}.__init__")
    assert package in loaded
    assert not any(m == "PySpice" or m.startswith("PySpice.") for m in loaded)
    assert not any(m == "pycircuits.spice" or m.startswith("pycircuits.spice.") for m in loaded)


def test_every_study_module_imports_without_the_engine():
    from pycircuits.studies import STUDIES
    mods = ", ".join(sorted({s.runner.__module__ for s in STUDIES.values()}))
    loaded = _loaded_after(f"import {mods}")
    assert not any(m.startswith(("PySpice", "pycircuits.spice", "pycircuits.circuits")) for m in loaded)


def test_extract_does_not_import_the_engine():
    loaded = _loaded_after("import pycircuits.extract, pycircuits.extract.curve, pycircuits.extract.measures, "
                           "pycircuits.extract.recipes")
    assert "pycircuits.extract.recipes" in loaded
    assert not any(m == "pycircuits.spice" or m.startswith("pycircuits.spice.") for m in loaded)


def test_plots_import_no_stage():
    loaded = _loaded_after("import pycircuits.plots")
    stages = ("spice", "circuits", "sweep", "extract", "network", "studies", "flows", "regress", "twins")
    assert not [m for m in loaded if m.startswith(tuple(f"pycircuits.{s}" for s in stages))]


def test_public_api_is_importable_from_the_package():
    import pycircuits
    from pycircuits import HardwareModel, Session, TransferCurve, load_dataset, run_circuit, sweep
    from pycircuits.extract.curve import TransferCurve as TC
    from pycircuits.sweep.runner import sweep as sweep_function
    assert TransferCurve is TC and callable(run_circuit) and callable(load_dataset)
    assert HardwareModel.__name__ == "HardwareModel" and Session.__name__ == "Session"
    # `sweep` is both the sweep() function and the subpackage pycircuits.sweep
    assert callable(sweep) and sweep.sweep is sweep_function and pycircuits.sweep is sweep


def test_python_dash_m_runs_the_command_line():
    out = subprocess.run([sys.executable, "-m", "pycircuits", "list"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] and "denram" in out.stdout and "scgru" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "pycircuits", "list", "nosuch"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
