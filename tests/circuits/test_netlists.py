"""Golden netlists: regenerated output equals the checked-in files, and each runs in bare ngspice."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pycircuits.circuits import get, names
from pycircuits.circuits.run import run_circuit
from pycircuits.flows import golden_text
from pycircuits.params import make_params
from pycircuits.spice import Waveforms
from pycircuits.spice.rawfile import read_raw

from marks import requires_ngspice

GOLDEN = Path(__file__).resolve().parents[2] / "netlists"


@pytest.mark.parametrize("circuit", names())
def test_generator_output_matches_the_checked_in_netlist(circuit):
    path = GOLDEN / f"{circuit}.cir"
    assert path.is_file(), f"missing {path}: run `make netlists`"
    assert golden_text(circuit, path) == path.read_text(), \
        f"{circuit} generator drifted from {path}; run `make netlists` if the change is intended"


def _same(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-18, equal_nan=True)


@requires_ngspice
@pytest.mark.parametrize("circuit", names())
def test_golden_netlist_runs_in_bare_ngspice_with_the_tools_result(circuit, tmp_path):
    raw = tmp_path / "out.raw"
    proc = subprocess.run(["ngspice", "-b", "-r", str(raw), str(GOLDEN / f"{circuit}.cir")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-2000:]
    plot = read_raw(raw)[-1]
    waves = Waveforms.from_vectors("tran", plot.vectors())
    defn = get(circuit)
    bare = defn.measure(waves, make_params(defn.params))
    tool = run_circuit(circuit).measures
    assert bare.keys() == tool.keys()
    for key in tool:
        assert _same(bare[key], tool[key]), f"{circuit}.{key}: bare {bare[key]} != tool {tool[key]}"
