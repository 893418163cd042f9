"""The behavioural RRAM (devicemodels/rram.lib) through the rram-iv circuit."""

from __future__ import annotations

import numpy as np
import pytest

from pycircuits.circuits.run import run_circuit

from marks import requires_ngspice

pytestmark = requires_ngspice


@pytest.fixture(scope="module")
def loop():
    return run_circuit("rram-iv", {"v_max": 1.5, "v_min": 1.5, "n_periods": 2})


def test_loop_is_pinched_at_zero_volts(loop):
    w = loop.waveforms
    v, i = w["v(p)"], -w["i(vs)"]
    # I = V/R(x) with R >= r_lrs, so |I| <= |V|/r_lrs everywhere, and I -> 0 as V -> 0
    assert np.all(np.abs(i) <= np.abs(v) / 10e3 * (1 + 1e-9) + 1e-15)
    near_zero = np.abs(v) < 1e-3
    assert near_zero.sum() > 4
    assert np.max(np.abs(i[near_zero])) <= 1e-3 / 10e3 * 1.001


def test_loop_has_two_distinct_branches(loop):
    # at V = 0.45 V the up branch (HRS) and down branch (LRS) differ by the full r_hrs/r_lrs ratio
    assert loop.measures["branch_ratio"] == pytest.approx(100.0, rel=0.02)
    assert loop.measures["x_max"] > 0.99 and loop.measures["x_min"] < 0.01


def test_sweep_below_thresholds_switches_nothing():
    res = run_circuit("rram-iv", {"v_max": 0.8, "v_min": 0.8, "x0": 0.5})
    w = res.waveforms
    assert np.max(np.abs(w["v(x)"] - 0.5)) < 1e-6
    assert res.measures["branch_ratio"] == pytest.approx(1.0, abs=1e-6)


def test_thousand_read_pulses_leave_the_state_unchanged():
    res = run_circuit("rram-iv", {"v_max": 1.0, "v_min": 0.0, "n_periods": 1, "period": 4e-6,
                                  "n_reads": 1000, "v_read": 0.2, "t_read": 1e-6,
                                  "n_steps_per_period": 50})
    x_before, x_after = res.measures["x_after_sweep"], res.measures["x_final"]
    assert 0.01 < x_before < 0.99  # partially set: a state reads could disturb either way
    assert abs(x_after - x_before) < 1e-6
    # the reads really happened: 1000 pulses of 0.2 V through R(x)
    w = res.waveforms
    reads = w["time"] > 4e-6
    r = 1e6 * (10e3 / 1e6) ** x_before
    assert np.max(-w["i(vs)"][reads]) == pytest.approx(0.2 / r, rel=0.01)


def test_set_then_reset_reaches_lrs_then_hrs():
    set_only = run_circuit("rram-iv", {"v_max": 1.5, "v_min": 0.0, "n_periods": 1})
    assert set_only.measures["r_final_ohm"] == pytest.approx(10e3, rel=0.02)
    full = run_circuit("rram-iv", {"v_max": 1.5, "v_min": 1.5, "n_periods": 1})
    assert full.measures["r_final_ohm"] == pytest.approx(1e6, rel=0.02)
