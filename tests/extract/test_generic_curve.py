"""Curves from any sweep: a deck's .meas against its swept parameter, with the Monte Carlo spread."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from pycircuits import HardwareModel, TransferCurve, sweep
from pycircuits.errors import UsageError
from pycircuits.extract.recipes import build_curve, curve_from_sweep, get_recipe

from marks import requires_ngspice

pytestmark = requires_ngspice

RC = """* rc filter
.param r=1k c=1n
V1 in 0 PULSE(0 1 1u 1n 1n 500u 1m)
R1 in out {r}
C1 out 0 {c}
.tran 10n 200u
.meas tran tdelay TRIG v(in) VAL=0.5 RISE=1 TARG v(out) VAL=0.5 RISE=1
.end
"""


@pytest.fixture(scope="module")
def deck_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deck")
    (folder / "rcf.cir").write_text(RC)
    ds = sweep(str(folder / "rcf.cir"), vary={"r": "log:1k:100k:5"}, mc=12, seed=3,
               vary_mc={"c": "normal:5%"}, cache=False, jobs=2, output=folder / "s.nc")
    return folder, ds


def test_deck_curve_follows_rc_ln2_with_the_monte_carlo_spread(deck_sweep):
    _, ds = deck_sweep
    curve = curve_from_sweep(ds, "r", "tdelay", log_x=True)
    assert curve.name == "tdelay-vs-r" and curve.log_x and curve.circuit.endswith("rcf.cir")
    np.testing.assert_allclose(curve.y, curve.x * 1e-9 * math.log(2), rtol=0.05)
    # the spread is the drawn capacitors': 5 % relative, so p95/p5 ~ exp(2*1.645*0.05) ~ 1.18
    ratio = curve.percentiles[95] / curve.percentiles[5]
    assert np.all((ratio > 1.05) & (ratio < 1.4))
    # each sample is R*C_drawn*ln2 for its own drawn C
    np.testing.assert_allclose(curve.samples, ds.r.values[:, None] * ds.mc_c.values * math.log(2), rtol=3e-3)


def test_cli_extract_curve_and_hardware_model_read_it(deck_sweep, tmp_path):
    folder, _ = deck_sweep
    out = tmp_path / "curves" / "tdelay-vs-r.json"
    out.parent.mkdir()
    r = subprocess.run([sys.executable, "-m", "pycircuits", "extract", "curve", str(folder / "s.nc"), "--x", "r",
                        "--y", "tdelay", "--log-x", "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "tdelay-vs-r: 5 points" in r.stdout
    curve = HardwareModel.from_curves(out.parent).curve("tdelay-vs-r")
    assert curve.log_x and curve.name == "tdelay-vs-r"
    np.testing.assert_array_equal(curve.samples, TransferCurve.from_json(out).samples)
    assert curve.samples.shape == (5, 12)
    for args, needle in [(["--x", "zz", "--y", "tdelay"], "does not vary 'zz'; it varies r"),
                         (["--x", "r", "--y", "nope"], "no measure 'nope'; it has tdelay"),
                         (["--x", "r"], "usage: pycircuits extract curve")]:
        r = subprocess.run([sys.executable, "-m", "pycircuits", "extract", "curve", str(folder / "s.nc"), *args,
                            "-o", str(tmp_path / "x.json")], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and needle in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
        assert not (tmp_path / "x.json").exists()


def test_an_x_measure_recipe_is_the_generic_extraction_under_a_name():
    ds = sweep("rc", vary={"r": "log:1k:100k:3"}, params={"sigma_r": 0.05, "t_stop": 1e-3, "n_steps": 4000},
               mc=4, seed=1, cache=False, jobs=1)
    named = build_curve(get_recipe("rc-tau"), ds)
    generic = curve_from_sweep(ds, "r", "tau_s")
    np.testing.assert_array_equal(named.samples, generic.samples)
    np.testing.assert_array_equal(named.y, generic.y)
    assert (generic.x_unit, generic.y_unit) == ("ohm", "s")  # the dataset's UDUNITS strings


def test_only_measures_and_swept_parameters_make_curves(deck_sweep):
    _, ds = deck_sweep
    with pytest.raises(UsageError, match="no measure 'error'; it has tdelay"):
        curve_from_sweep(ds, "r", "error")
    with pytest.raises(UsageError, match="does not vary 'c'; it varies r"):
        curve_from_sweep(ds, "c", "tdelay")  # drawn, not swept


def test_a_measure_that_failed_everywhere_makes_no_curve(tmp_path, capfd):
    import os
    ds = sweep("rc", vary={"r": "log:1k:10k:3"}, params={"t_stop": 1e-9, "n_steps": 10}, cache=False, jobs=64)
    assert f"--jobs 64 capped at the machine's {os.cpu_count()} CPUs" in capfd.readouterr().err
    assert int(ds.attrs["executor"].removeprefix("local:")) <= os.cpu_count()
    assert np.isnan(ds.tau_s.values).all()
    with pytest.raises(UsageError, match="tau is NaN at 3 of 3 x points"):
        build_curve(get_recipe("rc-tau"), ds)
    with pytest.raises(UsageError, match="tau_s is NaN at 3 of 3 x points"):
        curve_from_sweep(ds, "r", "tau_s")
