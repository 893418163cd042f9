"""Sweep plans: exact points of grid/log/list plans, seeded Monte Carlo, validation, structures, batches."""

from __future__ import annotations

import numpy as np
import pytest

from pycircuits.circuits import generate
from pycircuits.errors import UsageError
from pycircuits.spice.deck import numeric_params
from pycircuits.sweep.batches import make_batches, prepare, structure_key
from pycircuits.sweep.plan import MAX_POINTS, build_plan, load_plan_file, parse_axis


def test_grid_is_the_product_with_the_first_axis_outermost():
    plan = build_plan("rc", {"r": "lin:1k:3k:3", "c": "list:1n,2.5n"})
    assert plan.dims == ("r", "c") and plan.shape == (3, 2) and plan.n_points == 6
    pts = plan.points()
    assert [p.coords for p in pts] == [(1000.0, 1e-9), (1000.0, 2.5e-9), (2000.0, 1e-9),
                                       (2000.0, 2.5e-9), (3000.0, 1e-9), (3000.0, 2.5e-9)]
    assert [p.index for p in pts] == list(range(6))
    assert all(p.mc_index is None and p.mc_values == {} and p.corner == "tt" for p in pts)
    assert pts[3].params_values == {"r": 2000.0, "c": 2.5e-9}


def test_log_plan_is_geometric_with_exact_endpoints():
    axis = parse_axis("r=log:1k:1meg:4")
    assert axis.name == "r" and axis.kind == "log"
    assert axis.values[0] == 1e3 and axis.values[-1] == 1e6
    np.testing.assert_allclose(axis.values, [1e3, 1e4, 1e5, 1e6], rtol=1e-12)
    ratios = np.diff(np.log10(axis.values))
    np.testing.assert_allclose(ratios, 1.0, rtol=1e-12)


def test_integer_parameters_sweep_integers():
    plan = build_plan("rc", {"n_steps": "lin:100:1000:4"})
    values = [p.params_values["n_steps"] for p in plan.points()]
    assert values == [100, 400, 700, 1000] and all(type(v) is int for v in values)
    with pytest.raises(UsageError, match="not an integer"):
        build_plan("rc", {"n_steps": "lin:100:101:3"})


def test_base_params_apply_to_every_point_and_lists_accept_python_values():
    plan = build_plan("rc", {"c": [1e-9, 2e-9]}, {"r": "2k"})
    assert [p.params_values for p in plan.points()] == [{"r": 2000.0, "c": 1e-9}, {"r": 2000.0, "c": 2e-9}]


def test_corners_and_monte_carlo_dims_and_order():
    plan = build_plan("rc", {"r": "list:1k,2k"}, {"sigma_r": 0.1}, mc=3, seed=5, corners="tt,ss")
    assert plan.dims == ("corner", "r", "mc") and plan.shape == (2, 2, 3)
    pts = plan.points()
    assert [(p.corner, p.coords[0], p.mc_index) for p in pts[:4]] == [
        ("tt", 1000.0, 0), ("tt", 1000.0, 1), ("tt", 1000.0, 2), ("tt", 2000.0, 0)]
    assert pts[6].corner == "ss" and pts[6].mc_index == 0


def test_monte_carlo_draws_come_from_the_spawned_seed_of_each_point():
    plan = build_plan("rc", {"r": "list:1k,4k"}, {"sigma_r": 0.2}, mc=5, seed=1)
    pts = plan.points()
    children = np.random.SeedSequence(1).spawn(plan.n_points)
    for p in pts:
        factor = np.random.default_rng(children[p.index]).lognormal(0.0, 0.2)
        assert p.mc_values["r"] == p.coords[0] * factor  # bit for bit
        assert p.params_values["r"] == p.mc_values["r"] and type(p.mc_values["r"]) is float
    again = build_plan("rc", {"r": "list:1k,4k"}, {"sigma_r": 0.2}, mc=5, seed=1).points()
    assert [p.mc_values for p in again] == [p.mc_values for p in pts]
    other = build_plan("rc", {"r": "list:1k,4k"}, {"sigma_r": 0.2}, mc=5, seed=2).points()
    assert all(a.mc_values["r"] != b.mc_values["r"] for a, b in zip(pts, other, strict=True))


@pytest.mark.parametrize("vary,params,kw,needle", [
    ({"zz": "lin:1:2:3"}, None, {}, "unknown parameter zz"),
    ({"r": "lin:1k:2k:0"}, None, {}, "empty range"),
    ({"r": "list:"}, None, {}, "empty list"),
    ({"r": "log:0:1k:5"}, None, {}, "positive bounds"),
    ({"r": "log:-1k:1k:5"}, None, {}, "positive bounds"),
    ({"r": f"lin:1k:2k:{MAX_POINTS + 1}"}, None, {}, "at most"),
    ({"r": "lin:1k:2k:1001", "c": "lin:1n:2n:1000"}, None, {}, "at most"),
    ({"r": "lin:-1k:1k:3"}, None, {}, "out of range"),
    ({"r": "lin:1k:2k:2.5"}, None, {}, "must be an integer"),
    ({"r": "geo:1:2:3"}, None, {}, "expected lin"),
    ({"r": "lin:1k:2k"}, None, {}, "START:STOP:N"),
    ({"r": "list:1k,shell"}, None, {}, "not a number"),
    ({"r": "lin:1k:2k:2"}, {"r": "1k"}, {}, "also set with -p"),
    (["r=lin:1k:2k:2", "r=list:3k"], None, {}, "swept twice"),
    (None, {"zz": 1}, {}, "unknown parameter"),
    (None, None, {"mc": -1}, "non-negative integer"),
    (None, None, {"corners": "tt,xx"}, "no corner"),
    (None, None, {"pdk": "tsmc7"}, "unknown PDK"),
])
def test_bad_plans_are_refused_with_one_line(vary, params, kw, needle):
    with pytest.raises(UsageError, match=needle) as err:
        build_plan("rc", vary, params, **kw)
    assert "\n" not in str(err.value)


def test_monte_carlo_needs_a_sampler():
    with pytest.raises(UsageError, match="no Monte Carlo sampler"):
        build_plan("inverter", mc=3)


def test_plan_file_holds_the_same_as_the_options(tmp_path):
    f = tmp_path / "plan.toml"
    f.write_text('circuit = "rc"\ncorners = ["tt", "ss"]\nmc = 4\nseed = 3\n'
                 '[params]\nsigma_r = 0.1\n[vary]\nr = "log:1k:100k:3"\nc = [1e-9, 2e-9]\n')
    spec = load_plan_file(f)
    plan = build_plan(spec["circuit"], spec["vary"], spec["params"], mc=spec["mc"], seed=spec["seed"],
                      corners=spec["corners"])
    assert plan.dims == ("corner", "r", "c", "mc") and plan.n_points == 2 * 3 * 2 * 4
    (tmp_path / "bad.toml").write_text('circuit = "rc"\nsweeps = 3\n')
    with pytest.raises(UsageError, match="unknown key 'sweeps'"):
        load_plan_file(tmp_path / "bad.toml")
    (tmp_path / "broken.toml").write_text('circuit = "rc\n')
    with pytest.raises(UsageError, match="not valid TOML"):
        load_plan_file(tmp_path / "broken.toml")


def test_structure_key_ignores_param_values_only():
    a = str(generate("rc", {"r": 1e3})[2])
    b = str(generate("rc", {"r": 5e3, "c": 3e-9})[2])
    c = str(generate("rc", {"n_steps": 500})[2])
    assert a != b and structure_key(a) == structure_key(b)
    assert structure_key(a) != structure_key(c)  # the analysis line differs
    assert numeric_params(b) == {"r": 5e3, "c": 3e-9, "v_step": 1.0}


def test_batches_hold_one_structure_and_about_points_over_four_jobs():
    plan = build_plan("rc", {"n_steps": "list:200,400", "r": "lin:1k:16k:16"})
    pts = plan.points()
    prepared = prepare(plan, pts, "ngspice-test")
    batches = make_batches(prepared, range(len(pts)), "rc", "pycircuits.circuits.rc", jobs=2)
    assert all(len(b.tasks) == 4 for b in batches) and len(batches) == 8  # 32 / 2 / 4
    assert sorted(t.index for b in batches for t in b.tasks) == list(range(32))
    for b in batches:
        assert len({prepared.structure_of[t.index] for t in b.tasks}) == 1
        assert b.netlist == str(generate("rc", pts[b.tasks[0].index].params_values | {"r": 1e3})[2])
    one = make_batches(prepared, [0, 1, 2], "rc", "pycircuits.circuits.rc", jobs=8)
    assert [len(b.tasks) for b in one] == [1, 1, 1]


def test_cache_keys_differ_per_point_and_follow_the_netlist():
    plan = build_plan("rc", {"r": "list:1k,2k"})
    keys = [t.key for t in prepare(plan, plan.points(), "ngspice-39").tasks]
    alone = build_plan("rc", {"r": "list:1k"})  # the same point in another sweep: the same key
    assert keys[0] != keys[1] and keys[0] == prepare(alone, alone.points(), "ngspice-39").tasks[0].key
    other = [t.key for t in prepare(plan, plan.points(), "ngspice-40").tasks]
    assert other[0] != keys[0]
