"""The ngspice engine: RC law, backend agreement, alterparam re-runs, error classification."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from pycircuits.circuits.run import run_circuit
from pycircuits.errors import ConvergenceError, NetlistError, SimulationError
from pycircuits.spice import Session, run_batch, simulate
from pycircuits.spice.messages import classify, raise_for_errors

from marks import requires_ngspice

pytestmark = requires_ngspice


@pytest.mark.parametrize("r,c", [(10e3, 1e-9), (1e6, 1e-12), (1e3, 1e-6)])
def test_rc_time_constant_matches_r_times_c(r, c):
    res = run_circuit("rc", {"r": r, "c": c, "t_stop": 8 * r * c})
    assert res.measures["tau_s"] == pytest.approx(r * c, rel=0.01)
    assert res.measures["t50_s"] == pytest.approx(r * c * np.log(2), rel=0.01)


def test_rc_waveform_follows_the_exponential_law():
    r, c = 10e3, 1e-9
    res = run_circuit("rc", {"r": r, "c": c})
    t, v = res.waveforms["time"], res.waveforms["v(out)"]
    assert np.max(np.abs(v - (1 - np.exp(-t / (r * c))))) < 2e-3


def test_session_and_batch_backends_give_the_same_waveform():
    a = run_circuit("rc", backend="session").waveforms
    b = run_circuit("rc", backend="batch").waveforms
    assert a.backend == "session" and b.backend == "batch"
    assert set(a) == set(b)
    np.testing.assert_array_equal(a["time"], b["time"])
    scale = np.max(np.abs(b["v(out)"]))
    assert np.max(np.abs(a["v(out)"] - b["v(out)"])) / scale < 1e-6
    assert np.max(np.abs(a["i(vin)"] - b["i(vin)"])) / np.max(np.abs(b["i(vin)"])) < 1e-6


def test_alterparam_rerun_equals_a_fresh_load(session):
    base = run_circuit("rc").netlist
    fresh = Session()
    for r in (2e3, 47e3, 10e3, 5e3):
        rerun = session.run(base, {"r": r})
        loads = session.loads
        netlist_r = base.replace(".param r=10000.0", f".param r={r!r}")
        ref = run_batch(netlist_r)
        np.testing.assert_allclose(rerun["v(out)"], ref["v(out)"], rtol=0, atol=1e-12)
        assert session.loads == loads  # the re-run did not load the circuit again
    # dropping the override returns to the netlist's own value
    again = session.run(base)
    np.testing.assert_allclose(again["v(out)"], run_batch(base)["v(out)"], atol=1e-12)
    fresh.close()


def test_alterparam_really_changes_the_result(session):
    base = run_circuit("rc").netlist
    a = session.run(base, {"r": 10e3})["v(out)"]
    b = session.run(base, {"r": 20e3})["v(out)"]
    assert np.max(np.abs(a - b)) > 0.1


BAD_MODEL = """* bad
V1 in 0 1
R1 in out foo
C1 out 0 1u
.tran 1u 1m
.end
"""


@pytest.mark.parametrize("backend", ["session", "batch"])
def test_netlist_error_carries_ngspice_text_and_the_offending_line(backend):
    with pytest.raises(NetlistError) as err:
        simulate(BAD_MODEL, backend=backend)
    assert "r1 in out foo" in str(err.value).lower()


@pytest.mark.parametrize("backend", ["session", "batch"])
def test_unknown_subcircuit_is_a_netlist_error(backend):
    net = "* x\nV1 a 0 1\nX1 a 0 nosuch\n.tran 1u 1m\n.end\n"
    with pytest.raises(NetlistError, match="nosuch"):
        simulate(net, backend=backend)


def test_session_survives_an_error_and_runs_the_next_circuit(session):
    with pytest.raises(SimulationError):
        session.run(BAD_MODEL)
    res = session.run(run_circuit("rc").netlist)
    assert res["v(out)"][-1] > 0.99


def test_convergence_notes_are_information_not_errors():
    lines = ["Note: Starting dynamic gmin stepping", "Trying gmin =   1.0000E-03 Note: One successful gmin step",
             "Supplies reduced to  50.0000% Note: One successful source step",
             "Warning: singular matrix check", "Note: Transient op started"]
    info, errors = classify(lines[:3] + lines[4:])
    assert errors == [] and len(info) == 4
    raise_for_errors(lines[:3])  # no exception


def test_timestep_too_small_is_a_convergence_error():
    with pytest.raises(ConvergenceError):
        raise_for_errors(["doAnalyses: TRAN:  Timestep too small; time = 1e-9, timestep = 1e-21: trouble with node out",
                          "tran simulation(s) aborted"])


def _cli(args, env, cwd=None):
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_missing_ngspice_executable_gives_one_line_and_exit_2(clean_env, tmp_path):
    env = dict(clean_env)
    env["PATH"] = str(tmp_path)  # nothing there
    env["PYCIRCUITS_NGSPICE"] = ""
    r = _cli(["run", "rc", "--backend", "batch"], env)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install ngspice" in lines[0]


def test_missing_libngspice_gives_one_line_and_exit_2(clean_env):
    env = dict(clean_env)
    env["NGSPICE_LIBRARY_PATH"] = "/nonexistent/libngspice.so"
    r = _cli(["run", "rc"], env)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "libngspice" in lines[0] and "apt-get install" in lines[0]


def test_batch_timeout_kills_the_run():
    from pycircuits.errors import SimulationTimeout
    endless = "* endless\nV1 in 0 SIN(0 1 1e6)\nR1 in out 1k\nC1 out 0 1n\n.tran 1e-12 10 0 1e-12\n.end\n"
    with pytest.raises(SimulationTimeout):
        run_batch(endless, timeout_s=1.0)


def test_environment_without_ngspice_is_detected_by_doctor(clean_env, tmp_path):
    env = dict(clean_env)
    env["PATH"] = str(tmp_path)
    env["NGSPICE_LIBRARY_PATH"] = "/nonexistent/libngspice.so"
    r = _cli(["doctor"], env)
    assert r.returncode == 2 and "MISSING" in r.stdout
    assert os.path.exists(sys.executable)


@pytest.mark.parametrize("plot,short", [("Transient Analysis", "tran"), ("DC transfer characteristic", "dc"),
                                        ("AC Analysis", "ac"), ("Operating Point", "op"), ("tran1", "tran"),
                                        ("dc2", "dc"), ("Noise Spectral Density Curves", "noise")])
def test_analysis_names_of_raw_files_and_sessions(plot, short):
    from pycircuits.spice.deck import analysis_of
    assert analysis_of(plot) == short


@requires_ngspice
def test_a_dc_sweep_is_dc_on_both_backends(session):
    from pycircuits.spice import simulate
    deck = "* dc\nV1 a 0 0\nR1 a 0 1k\n.dc V1 0 1 0.5\n.end\n"
    for backend in ("session", "batch"):
        w = simulate(deck, backend=backend)
        assert w.analysis == "dc", backend
        np.testing.assert_allclose(w["i(v1)"], -np.array([0.0, 0.5, 1.0]) / 1e3, atol=1e-12)
