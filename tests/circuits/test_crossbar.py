"""Crossbar arrays: the MAC with ideal wires is G^T v, and with wires ngspice agrees with the NumPy nodal twin."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pycircuits.circuits.crossbar import conductances, driven_rows, row_voltages
from pycircuits.circuits.run import run_circuit
from pycircuits.twins.crossbar import ideal_mac, sneak_current, solve

from marks import requires_ngspice

pytestmark = requires_ngspice


def twin(p):
    r_seg = p.r_wire_per_m * p.pitch
    return solve(conductances(p), row_voltages(p), r_seg, r_seg, p.r_driver,
                 p.r_sense if p.sense == "resistive" else 0.0, driven=driven_rows(p))


@pytest.mark.parametrize("backend", ["session", "batch"])
def test_ideal_wires_give_the_exact_mac(backend):
    r = run_circuit("crossbar", {"rows": 6, "cols": 5, "r_wire_per_m": 0, "seed": 3}, backend=backend)
    g = conductances(r.params)
    np.testing.assert_allclose(r.measures["col_current_a"], ideal_mac(g, np.full(6, 0.2)), rtol=1e-12)
    np.testing.assert_allclose(r.measures["rel_error"], 0.0, atol=1e-12)
    assert r.measures["v_cell_min_v"] == pytest.approx(0.2, abs=1e-12)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("extra", [{}, {"r_driver": 500.0, "sense": "resistive", "r_sense": 200.0}])
def test_small_arrays_match_a_nodal_analysis(n, extra):
    values = {"rows": n, "cols": n, "r_wire_per_m": 5e9, **extra}  # 500 Ohm per segment: visible IR drop
    r = run_circuit("crossbar", values)
    sol = twin(r.params)
    np.testing.assert_allclose(r.measures["col_current_a"], sol.i_col, rtol=1e-9)
    assert r.measures["v_cell_min_v"] == pytest.approx(sol.v_cell.min(), rel=1e-9)
    assert np.all(r.measures["rel_error"] < -1e-3)  # the wires cost current


def test_the_mac_error_grows_with_size_and_wire_resistance_as_the_nodal_twin_says():
    errors = {}
    for r_wire in (2e6, 2e7):
        for n in (4, 8, 16):
            r = run_circuit("crossbar", {"rows": n, "cols": n, "r_wire_per_m": r_wire, "seed": 7})
            sol = twin(r.params)
            np.testing.assert_allclose(r.measures["col_current_a"], sol.i_col, rtol=1e-8)
            errors[r_wire, n] = float(np.mean(np.abs(r.measures["rel_error"])))
    for r_wire in (2e6, 2e7):
        assert errors[r_wire, 4] < errors[r_wire, 8] < errors[r_wire, 16]
    for n in (4, 8, 16):
        assert errors[2e7, n] > 5 * errors[2e6, n]


def test_the_generated_deck_runs_in_bare_ngspice(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pycircuits", "netlist", "crossbar", "-p", "rows=3", "-p", "cols=2",
                        "-o", "x.cir"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = subprocess.run(["ngspice", "-b", "x.cir"], cwd=tmp_path, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=120)
    assert out.returncode == 0 and "vsense1#branch" in out.stdout


@pytest.mark.parametrize("args, needle", [
    (["-p", "rows=257"], "rows=257 is out of range [1, 256]"),
    (["-p", "g_file=g.npy"], "shape (2, 2), the array is rows x cols = (3, 3)"),
    (["-p", "g_file=bad.csv", "-p", "rows=2", "-p", "cols=2"], "holds non-finite values"),
    (["-p", "g_file=big.csv", "-p", "rows=2", "-p", "cols=2"], "outside the cell's [1/r_hrs, 1/r_lrs]"),
    (["-p", "r_lrs=2meg"], "r_lrs=2e+06 must be below r_hrs=1e+06"),
])
def test_bad_arrays_give_one_line_and_exit_2(tmp_path, args, needle):
    np.save(tmp_path / "g.npy", np.full((2, 2), 1e-5))
    (tmp_path / "bad.csv").write_text("1e-5,nan\n1e-5,1e-5\n")
    (tmp_path / "big.csv").write_text("1e-5,1\n1e-5,1e-5\n")
    r = subprocess.run([sys.executable, "-m", "pycircuits", "netlist", "crossbar", "-p", "rows=3", "-p", "cols=3",
                        *args] if "rows=2" not in args else
                       [sys.executable, "-m", "pycircuits", "netlist", "crossbar", *args],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and needle in lines[0], r.stderr


def test_monte_carlo_draws_each_cells_spread_seeded_and_records_each_samples_errors():
    from pycircuits.sweep import sweep
    kw = dict(vary={"r_wire_per_m": [0.0, 2e7]}, params={"rows": 6, "cols": 6, "sigma_g": 0.3}, mc=4, seed=2,
              cache=False)
    one, two = sweep("crossbar", jobs=1, **kw), sweep("crossbar", jobs=2, **kw)
    assert one.rel_error.dims == ("r_wire_per_m", "mc", "rel_error_index") and one.rel_error.shape == (2, 4, 6)
    assert one.col_current_a.values.tobytes() == two.col_current_a.values.tobytes()
    # ideal wires: every sample's MAC is its own G^T v exactly, and the samples differ
    np.testing.assert_allclose(one.rel_error.values[0], 0.0, atol=1e-12)
    ideal = one.ideal_mac_a.values[0]
    assert np.all(np.std(ideal, axis=0) / np.mean(ideal, axis=0) > 0.02)
    # with wires, each sample's error matches the nodal twin of its own drawn array
    from pycircuits.circuits import get
    from pycircuits.params import make_params
    for m in range(4):
        p = make_params(get("crossbar").params, {"rows": 6, "cols": 6, "sigma_g": 0.3, "r_wire_per_m": 2e7,
                                                 "device_seed": int(one.mc_device_seed.values[1, m])})
        np.testing.assert_allclose(one.col_current_a.values[1, m], twin(p).i_col, rtol=1e-8)


def test_the_rram_cell_model_reads_as_the_resistor_of_its_state():
    values = {"rows": 4, "cols": 4, "r_wire_per_m": 5e9, "r_driver": 100.0, "seed": 5}
    fast = run_circuit("crossbar", values)
    device = run_circuit("crossbar", {**values, "cell": "rram"})
    assert "rram" in device.netlist and "rram" not in fast.netlist.split("\n", 1)[1]
    np.testing.assert_allclose(device.measures["col_current_a"], fast.measures["col_current_a"], rtol=1e-9)


def test_an_input_vector_reads_as_its_mac_and_as_the_nodal_twin():
    inputs = "1,0.5,0,0.25,1"
    ideal = run_circuit("crossbar", {"rows": 5, "cols": 4, "r_wire_per_m": 0, "inputs": inputs, "seed": 4})
    v = np.array([1, 0.5, 0, 0.25, 1]) * 0.2
    np.testing.assert_allclose(ideal.measures["col_current_a"], ideal_mac(conductances(ideal.params), v),
                               rtol=1e-12)
    wired = run_circuit("crossbar", {"rows": 5, "cols": 4, "r_wire_per_m": 5e9, "inputs": inputs, "seed": 4})
    np.testing.assert_allclose(wired.measures["col_current_a"], twin(wired.params).i_col, rtol=1e-9)


# one row read, the others' drivers off, a resistive sense: the layout where a 1R array leaks
SNEAK = {"rows": 4, "cols": 4, "inputs": "1,0,0,0", "unselected": "float", "sense": "resistive",
         "r_sense": 1e3, "r_wire_per_m": 5e9, "seed": 2}


def test_floating_rows_of_a_1r_array_carry_sneak_currents_as_the_nodal_twin_says():
    r = run_circuit("crossbar", SNEAK)
    sol = twin(r.params)
    np.testing.assert_allclose(r.measures["col_current_a"], sol.i_col, rtol=1e-9)
    unselected = row_voltages(r.params) == 0
    sneak = sneak_current(conductances(r.params), sol, unselected)
    np.testing.assert_allclose(r.measures["sneak_current_a"], sneak, rtol=1e-6)
    # the sneak paths are a large share of what the columns read
    assert np.max(np.abs(sneak) / np.abs(sol.i_col)) > 0.1


def test_the_1t1r_array_has_no_sneak_path_to_an_unselected_row():
    one_r = run_circuit("crossbar", SNEAK)
    t1r = run_circuit("crossbar", {**SNEAK, "access": "1t1r"})
    assert "Ma0_0" in t1r.netlist or "Xa0_0" in t1r.netlist
    leak = np.abs(t1r.measures["sneak_current_a"])
    assert np.all(leak < 1e-2 * np.abs(one_r.measures["sneak_current_a"]))
    assert np.all(leak < 1e-3 * np.abs(t1r.measures["col_current_a"]))
    # the columns read the selected row alone: its cells through the on transistors, a few % below
    # the nodal twin of that row by itself (the rows below it cut off)
    g = conductances(t1r.params).copy()
    g[1:] = 1e-18
    r_seg = 5e9 * t1r.params.pitch
    alone = solve(g, row_voltages(t1r.params), r_seg, r_seg, 0.0, 1e3, driven=driven_rows(t1r.params)).i_col
    ratio = t1r.measures["col_current_a"] / alone
    assert np.all((ratio > 0.9) & (ratio < 1.001)), ratio  # above 1 only by the off current


def test_a_pulse_train_reads_as_the_operating_point_and_carries_the_ideal_charge():
    values = {"rows": 4, "cols": 3, "r_wire_per_m": 0, "seed": 6}
    op = run_circuit("crossbar", values)
    tran = run_circuit("crossbar", {**values, "analysis": "tran", "n_pulses": 3})
    np.testing.assert_allclose(tran.measures["col_current_a"], op.measures["col_current_a"], rtol=1e-9)
    # trapezoids sampled at 100 steps: the area of each pulse is exact for piecewise-linear currents
    np.testing.assert_allclose(tran.measures["col_charge_c"], tran.measures["ideal_charge_c"], rtol=1e-3)
    wired = run_circuit("crossbar", {**values, "r_wire_per_m": 5e9, "analysis": "tran"})
    np.testing.assert_allclose(wired.measures["col_current_a"], twin(wired.params).i_col, rtol=1e-6)


def test_an_input_vector_of_the_wrong_length_gives_one_line_and_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pycircuits", "netlist", "crossbar", "-p", "rows=3",
                        "-p", "inputs=1,0"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "2 values given, rows=3 needs 3" in lines[0], r.stderr
