"""ngspice's OpenMP threads: one per session by default, N when asked, same results, clean exits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pycircuits.circuits import generate
from pycircuits.errors import UsageError
from pycircuits.spice import Session, run_batch
from pycircuits.spice.ngshared import check_threads

from marks import requires_ngspice

pytestmark = requires_ngspice

# A fresh process: runs the generic130 inverter (BSIM4, whose device evaluation
# ngspice spreads over its OpenMP threads) and counts the process's threads.
_PROBE = textwrap.dedent("""
    import os, sys
    from pycircuits.circuits import generate
    from pycircuits.spice import Session
    ask = int(sys.argv[1]) if len(sys.argv) > 1 else None
    s = Session() if ask is None else Session(threads=ask)
    net = str(generate("inverter", {"n_stages": 3})[2])
    before = len(os.listdir("/proc/self/task"))
    s.run(net)
    s.run(net, {"wn": 2e-6})
    print(s.threads, len(os.listdir("/proc/self/task")) - before)
""")


def _probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_a_session_runs_one_openmp_thread_by_default():
    p = _probe()
    assert p.returncode == 0, p.stderr
    reported, new_threads = map(int, p.stdout.split())
    assert reported == 1
    assert new_threads == 0  # no OpenMP team was started


def test_a_session_runs_n_threads_when_asked():
    p = _probe("3")
    assert p.returncode == 0, p.stderr
    reported, new_threads = map(int, p.stdout.split())
    assert reported == 3
    assert new_threads >= 2  # libgomp started the team's two other threads


@pytest.mark.parametrize("policy", [None, "passive", "active"])
def test_exit_is_clean_whatever_the_wait_policy(policy):
    """With OMP_WAIT_POLICY=active and 2 threads the process used to die of SIGSEGV at exit."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    for threads in ("1", "2"):
        p = _probe(threads, env=env)
        assert p.returncode == 0, f"OMP_WAIT_POLICY={policy}, {threads} threads: exit {p.returncode} {p.stderr}"


def test_results_are_bit_identical_with_one_and_two_threads():
    net = str(generate("inverter", {"n_stages": 3})[2])
    s = Session()
    try:
        s.threads = 2
        two = s.run(net)
        s.threads = 1
        one = s.run(net)
    finally:
        s.threads = 1
    assert set(one.vectors) == set(two.vectors)
    for name in one.vectors:
        assert np.asarray(one[name]).tobytes() == np.asarray(two[name]).tobytes(), name
    batch = run_batch(net, threads=2)
    assert np.asarray(batch["v(n3)"]).tobytes() == np.asarray(run_batch(net)["v(n3)"]).tobytes()


def test_changing_threads_applies_at_the_next_run_without_reloading():
    net = str(generate("rc")[2])
    s = Session()
    s.run(net)
    loads = s.loads
    s.threads = 2
    assert s.threads == 2
    s.run(net)
    s.threads = 1
    assert s.loads == loads and s.threads == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, 257, "2", True, float("nan")])
def test_bad_thread_counts_are_refused(bad):
    with pytest.raises(UsageError, match="ngspice threads"):
        check_threads(bad)


def test_cli_takes_ngspice_threads_and_refuses_bad_ones():
    ok = subprocess.run([sys.executable, "-m", "pycircuits", "run", "rc", "--ngspice-threads", "2"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "tau_s" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "pycircuits", "run", "rc", "--ngspice-threads", "0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "pycircuits: error: --ngspice-threads: expected an integer from 1 to 256, got '0'"]


def test_a_rerun_reports_where_its_time_went():
    net = str(generate("rc")[2])
    s = Session()
    s.run(net)
    w = s.run(net, {"r": 2e3})
    phases = s.last_phases
    assert set(phases) == {"load_and_alterparam", "reset", "run", "fetch", "destroy"}
    assert all(v >= 0 for v in phases.values())
    assert sum(phases.values()) <= w.wall_time_s
    assert phases["run"] == w.analysis_time_s
