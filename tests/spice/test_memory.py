"""Memory of a long-lived Session: 10,000 runs must not grow the resident set by 20 MB."""

from __future__ import annotations

import os

import pytest

from pycircuits.circuits import generate
from pycircuits.spice import Session

from marks import requires_ngspice


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@requires_ngspice
@pytest.mark.slow
def test_ten_thousand_session_runs_grow_rss_by_less_than_20_mb():
    netlist = str(generate("rc", {"n_steps": 200})[2])
    s = Session()
    for _ in range(50):
        s.run(netlist, {"r": 10e3})
    start = _rss_mb()
    for k in range(10_000):
        s.run(netlist, {"r": 10e3 + (k % 100)})
    assert _rss_mb() - start < 20.0


@requires_ngspice
def test_reloading_different_circuits_frees_the_old_ones():
    s = Session()
    nets = [str(generate("rc", {"r": 1e3 * (k + 1), "n_steps": 200})[2]).replace(
        ".param r=", f"* variant {k}\n.param r=") for k in range(2)]
    for k in range(40):  # warm-up, then each run replaces the loaded circuit
        s.run(nets[k % 2])
    start = _rss_mb()
    for k in range(400):
        s.run(nets[k % 2])
    assert _rss_mb() - start < 5.0
    assert s._ng._n_circuits == 1
