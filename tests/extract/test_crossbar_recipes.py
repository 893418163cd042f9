"""crossbar-irdrop recipes: the curve of a Monte Carlo sweep against the nodal twin of each sample."""

from __future__ import annotations

import numpy as np

from pycircuits.extract.recipes import build_curve, get_recipe
from pycircuits.extract.recipes.crossbar import _params, twin_rel_error
from pycircuits.flows import run_recipe_sweep

from marks import requires_ngspice

pytestmark = requires_ngspice


def test_the_position_curve_is_the_nodal_twins_median_with_the_cells_spread():
    r = get_recipe("crossbar-irdrop")
    ds = run_recipe_sweep(r, mc=6, seed=2, jobs=2, overrides={"size": 16}, cache=False, progress=False)
    curve = build_curve(r, ds)
    assert curve.x.tolist() == list(range(16)) and curve.samples.shape == (16, 6)
    twins = np.array([twin_rel_error(_params({"size": 16, "sigma_g": 0.3, "device_seed": int(s)}))
                      for s in ds.mc_device_seed.values])
    np.testing.assert_allclose(curve.y, np.median(twins, axis=0), rtol=0.02)
    assert np.all(curve.y < 0) and curve.y[-1] < curve.y[0]  # farther from the drivers, more IR drop
    assert np.ptp(curve.samples[-1]) > 0  # the spread is the cells'


def test_the_size_and_wire_curves_follow_the_twin_and_grow_in_magnitude():
    for name, over in (("crossbar-irdrop-size", {"size": "list:4,8,16"}), ("crossbar-irdrop-wire", {})):
        r = get_recipe(name)
        from pycircuits.sweep import sweep
        vary = {"size": over["size"]} if over else {"r_wire_per_m": "log:2e6:2e8:3"}
        params = {"sigma_g": 0.0} if over else {"size": 8, "sigma_g": 0.0}
        ds = sweep("crossbar", vary=vary, params=params, jobs=1, cache=False, progress=False)
        curve = build_curve(r, ds)
        law = r.analytic(curve)
        np.testing.assert_allclose(curve.y, law(curve.x), rtol=0.02)
        assert np.all(np.diff(curve.y) < 0)
