"""Any circuit against a recorded trace table: a deck driven by a recorded stimulus, and the twins' records."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import signal

from pycircuits.regress.table import Column, TableTrace, load_table_trace, replay, save_table_trace

from marks import requires_ngspice

pytestmark = requires_ngspice

RC = """* rc filter
.param r=1k c=1n
V1 in 0 PULSE(0 1 1u 1n 1n 50u 100u)
R1 in out {r}
C1 out 0 {c}
.tran 10n 20u
.end
"""


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def recorded_rc(r: float = 1e3, c: float = 1e-9) -> TableTrace:
    """A PWL stimulus and the RC output it gives, from the transfer function 1/(RCs + 1) (exact for PWL)."""
    rng = np.random.default_rng(4)
    t = np.linspace(0.0, 20e-6, 81)
    u = np.clip(np.cumsum(rng.normal(0, 0.2, t.size)), -1, 1.5)
    u[0] = 0.0
    _, y, _ = signal.lsim(([1.0], [r * c, 1.0]), U=u, T=t)
    return TableTrace("rcf.cir", {"r": r}, [Column("time", t), Column("src:V1", u),
                                            Column("v(out)", y, tol_abs=2e-3)], {"model": "lsim"})


def test_a_deck_driven_by_a_recorded_stimulus_follows_the_transfer_function(tmp_path):
    (tmp_path / "rcf.cir").write_text(RC)
    save_table_trace(tmp_path / "t.csv", recorded_rc())
    r = cli("regress", "rcf.cir", "--traces", "t.csv", "-o", "rep", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok   v(out)" in r.stdout and r.stdout.splitlines()[-2] == "PASS"
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["passed"] and summary["columns"][0]["points"] == 81
    assert 0 < summary["columns"][0]["max_err"] < 2e-3
    assert (tmp_path / "rep" / "overlay.png").stat().st_size > 10_000
    # the same trace as NPZ, both backends
    save_table_trace(tmp_path / "t.npz", load_table_trace(tmp_path / "t.csv"))
    for backend in ("session", "batch"):
        r = cli("regress", "rcf.cir", "--traces", "t.npz", "--backend", backend, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    # a 20 % larger R is outside the tolerance: exit 1, with the first failing time
    r = cli("regress", "rcf.cir", "--traces", "t.csv", "-p", "r=1.2k", cwd=tmp_path)
    assert r.returncode == 1 and "FAIL v(out)" in r.stdout and "first at t=" in r.stdout


def test_the_stimulus_replaces_the_source_and_the_run_stays_a_plain_deck(tmp_path):
    (tmp_path / "rcf.cir").write_text(RC)
    trace = recorded_rc()
    report = replay(str(tmp_path / "rcf.cir"), trace, check_circuit=False)
    result = report.results[0]
    assert report.passed and result.simulated.shape == (81,)
    # the driven deck runs in bare ngspice -b: the same output at the last sample
    from pycircuits.circuits import generate
    from pycircuits.regress.table import drive_sources
    _, _, text = generate(str(tmp_path / "rcf.cir"))
    driven = drive_sources(text, trace.time, {"V1": trace.column("src:V1").values})
    assert "PULSE" not in driven and driven.count("PWL(") == 1
    (tmp_path / "driven.cir").write_text(driven.replace(".end\n", ".print tran v(out)\n.end\n"))
    out = subprocess.run(["ngspice", "-b", "driven.cir"], cwd=tmp_path, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60)
    assert out.returncode == 0 and "v(out)" in out.stdout


@pytest.mark.parametrize("circuit, perturbed", [("denram", "c_delay=1.3e-12"), ("pcm-trace", "nu_trace=0.12"),
                                                ("memstack", "g_leak=12e-9")])
def test_each_twin_record_passes_its_replay_and_fails_with_one_perturbed_parameter(tmp_path, circuit, perturbed):
    r = cli("regress", circuit, "--record", "-o", "t.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    trace = load_table_trace(tmp_path / "t.csv")
    assert trace.circuit == circuit and trace.of_kind("measure")
    r = cli("regress", circuit, "--traces", "t.csv", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "PASS", r.stdout + r.stderr
    r = cli("regress", circuit, "--traces", "t.csv", "-p", perturbed, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout.splitlines()[-1] == "FAIL", r.stdout + r.stderr


BAD = {
    "no_tol.csv": ("# pycircuits-trace 2\ntime,v(out)\n0,0\n1e-6,0.1\n", "column v(out) has no tolerance"),
    "nan.csv": ("# pycircuits-trace 2\n# tol * abs=1e-3\ntime,v(out)\n0,zz\n1e-6,0.1\n", "'zz' is not a number"),
    "header.csv": ("time,v(out)\n0,0\n", "the first line must be '# pycircuits-trace 2'"),
    "src.csv": ("# pycircuits-trace 2\n# tol * abs=1e-3\ntime,src:V9,v(out)\n0,0,0\n1e-6,1,0.1\n",
                "no independent source V9 to drive; it has V1"),
    "long.csv": ("# pycircuits-trace 2\n# tol * abs=1e-3\ntime,v(out)\n0,0\n1e-3,0.1\n",
                 "the trace runs to 0.001 s but the circuit's .tran stops at 2e-05 s"),
    "vec.csv": ("# pycircuits-trace 2\n# tol * abs=1e-3\ntime,v(nope)\n0,0\n1e-6,0.1\n", "no vector 'v(nope)'"),
    "tol.csv": ("# pycircuits-trace 2\n# tol v(out) abs=-1\ntime,v(out)\n0,0\n1e-6,0.1\n", "'abs=-1' is not"),
    "time.csv": ("# pycircuits-trace 2\n# tol * abs=1e-3\ntime,v(out)\n0,0\n0,0.1\n", "strictly increasing"),
    "meas.csv": ("# pycircuits-trace 2\n# tol * rel=0.1\nmeas:tdelay\n1e-6\n", "has no measure 'tdelay'"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_traces_give_one_line_and_exit_2(tmp_path, name):
    (tmp_path / "rcf.cir").write_text(RC)
    text, needle = BAD[name]
    (tmp_path / name).write_text(text)
    r = cli("regress", "rcf.cir", "--traces", name, "-o", "rep", cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and needle in lines[0], r.stderr
    assert not (tmp_path / "rep").exists()


def test_a_trace_of_another_circuit_and_a_record_without_a_twin_are_refused(tmp_path):
    r = cli("regress", "memstack", "--record", "-o", "m.csv", cwd=tmp_path)
    assert r.returncode == 0
    r = cli("regress", "denram", "--traces", "m.csv", cwd=tmp_path)
    assert r.returncode == 2 and "the trace is for circuit memstack, not denram" in r.stderr
    r = cli("regress", "rc", "--record", "-o", "x.csv", cwd=tmp_path)
    assert r.returncode == 2 and "no software twin records a trace of rc" in r.stderr
