"""Extraction recipes: sweeps to TransferCurves that follow the circuit laws; bad sweeps refused."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pycircuits.errors import UsageError
from pycircuits.extract.curve import TransferCurve
from pycircuits.extract.recipes import build_curve, get_recipe, recipe_names
from pycircuits.flows import run_recipe_sweep

from marks import requires_ngspice

pytestmark = requires_ngspice


def _curve(name: str, mc: int, tmp_path, **overrides):
    r = get_recipe(name)
    ds = run_recipe_sweep(r, mc=mc, seed=1, jobs=2, cache=tmp_path / "cache", progress=False,
                          overrides=overrides, output=tmp_path / f"{name}.nc")
    return r, ds, build_curve(r, ds)


def test_denram_delay_curve_follows_the_rc_law_within_10_percent(tmp_path):
    r, ds, curve = _curve("denram-delay", 0, tmp_path)
    law = r.analytic(curve)
    rel = np.abs(curve.y / law(curve.x) - 1)
    assert curve.x[0] == pytest.approx(1e5) and curve.x[-1] == pytest.approx(1e7)
    assert rel.max() < 0.10
    assert np.all(np.diff(curve.y) > 0)
    # the curve round-trips exactly and inverts: the resistance for a target delay
    path = tmp_path / "delay.json"
    curve.to_json(path)
    again = TransferCurve.from_json(path)
    np.testing.assert_array_equal(again.y, curve.y)
    assert again.inverse(again(3e5)) == pytest.approx(3e5, rel=1e-6)


def test_pcm_drift_curve_returns_the_models_nu_within_3_percent(tmp_path):
    _, _, curve = _curve("pcm-drift", 3, tmp_path, sigma_nu=0.0)
    nu_model = curve.extra["nu_model"]
    assert curve.extra["nu_median"] == pytest.approx(nu_model, rel=0.03)
    assert curve.extra["nu_fit_of_median"] == pytest.approx(nu_model, rel=0.03)
    t0 = curve.extra["t0_s"]
    np.testing.assert_allclose(curve.y, ((curve.x + t0) / t0) ** -nu_model, rtol=0.02)


def test_monte_carlo_spread_reaches_the_curve_samples(tmp_path):
    _, ds, curve = _curve("rc-tau", 12, tmp_path)
    assert curve.samples.shape == (7, 12)
    raw = np.asarray(ds["tau_s"].values)
    np.testing.assert_allclose(np.sort(curve.samples, axis=1), np.sort(raw, axis=1))
    assert np.all(curve.percentiles[95] > curve.percentiles[5])


def test_recipe_refuses_a_sweep_of_another_circuit_or_without_its_measure(tmp_path):
    from pycircuits.sweep import sweep
    ds = sweep("rc", vary={"r": "log:1k:10k:2"}, jobs=1, cache=False, progress=False)
    with pytest.raises(UsageError, match="needs a sweep of circuit denram"):
        build_curve(get_recipe("denram-delay"), ds)
    with pytest.raises(UsageError, match="needs measure 'tau_s'"):
        build_curve(get_recipe("rc-tau"), ds.drop_vars("tau_s"))
    path = tmp_path / "rc.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    r = subprocess.run([sys.executable, "-m", "pycircuits", "extract", "pcm-drift", str(path), "-o",
                        str(tmp_path / "c.json")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c.json").exists()


def test_every_recipe_is_listed_with_its_circuit():
    r = subprocess.run([sys.executable, "-m", "pycircuits", "extract", "--list"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0
    for name in recipe_names():
        assert name in r.stdout
    assert {"denram-delay", "denram-weight", "denram-energy", "pcm-drift", "pcm-step", "memstack-tau",
            "memstack-weight", "scgru-mac", "scgru-update", "scgru-energy"} <= set(recipe_names())


def test_scgru_mac_transfer_is_monotone_and_reports_its_nonlinearity(tmp_path):
    _, _, curve = _curve("scgru-mac", 0, tmp_path, n_steps=30)
    assert curve.is_monotone and np.all(np.diff(curve.y) > 0)
    # the charge-sharing MAC maps value a to V_mid + v_swing*a: gain v_swing, integral nonlinearity small
    p = curve.params
    vdd = p["vdd"] or 1.2
    assert curve.extra["gain_v_per_unit"] == pytest.approx(p["v_swing_frac"] * vdd, rel=0.05)
    assert curve.extra["inl_max_v"] < 0.01
