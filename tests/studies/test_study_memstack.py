"""memstack experiment: taus and weights programmed into memstack cells, fallback curves, quick run."""

from __future__ import annotations

import numpy as np
import pytest

from pycircuits.errors import UsageError
from pycircuits.extract.curve import TransferCurve
from pycircuits.network.hardware import FALLBACK_TAU_SIGMA, HardwareModel
from pycircuits.studies import memstack as ms

A_Y = np.linspace(0.6, 1.5, 7)  # V
TAU_C = np.array([6.3, 12.0, 20.3, 30.7, 39.4, 47.6, 50.6]) * 1e-6  # s, the shape of the circuit's curve


def _tau_curve_with_devices(sigma: float = 0.08, n_dev: int = 400) -> TransferCurve:
    """Monte Carlo tau curve: device j is TAU_C times its own factor exp(sigma z_j) (a C mismatch)."""
    ratio = np.exp(sigma * np.random.default_rng(0).standard_normal(n_dev))
    return TransferCurve.from_samples("memstack-tau", A_Y, TAU_C[:, None] * ratio[None, :], "V", "s")


def _chip(tau_curve=None, weight_curve=None, step=1.0) -> ms.MemstackChip:
    return ms.MemstackChip.from_curves(tau_curve or _tau_curve_with_devices(),
                                       weight_curve or ms.fallback_weight_curve(), 0.3, step)


# ------------------------------------------------------------------ tau mapping


def test_tau_range_is_the_curve_scaled_to_its_geometric_middle():
    curve = _tau_curve_with_devices()
    chip = _chip(curve)
    lo, hi = chip.tau_range_s
    np.testing.assert_allclose(np.sqrt(lo * hi), 0.3, rtol=1e-12)
    np.testing.assert_allclose(hi / lo, curve.y.max() / curve.y.min(), rtol=1e-12)


def test_tau_inside_the_range_maps_back_to_itself_and_outside_is_clipped():
    chip = _chip()
    lo, hi = chip.tau_range_s
    taus = np.geomspace(lo, hi, 41)[1:-1]
    setting = chip.tau_setting(taus)
    assert np.all((setting > A_Y[0]) & (setting < A_Y[-1])) and np.all(np.diff(setting) > 0)
    np.testing.assert_allclose(chip.program_tau(setting, None), taus, rtol=1e-9)
    np.testing.assert_allclose(chip.map_tau(taus, None), taus, rtol=1e-9)
    out = chip.map_tau(np.array([lo / 3, lo * 0.999, hi * 1.001, 5 * hi]), None)
    np.testing.assert_allclose(out, [lo, lo, hi, hi], rtol=1e-9)
    np.testing.assert_allclose(chip.tau_setting(np.array([1e-4, 50.0])), A_Y[[0, -1]], rtol=1e-9)


@pytest.mark.parametrize("target", [0.15, 0.3, 0.7])
def test_tau_spread_matches_the_curve_devices(target):
    sigma = 0.08
    curve = _tau_curve_with_devices(sigma)
    chip = _chip(curve)
    mapped = chip.map_tau(np.full(20000, target), np.random.default_rng(1))
    # every device is its factor times the median at any setting: the drawn relative
    # spread is the spread of the devices' factors, computed here from the samples
    dev = np.log(curve.samples[0] / curve.y[0])
    np.testing.assert_allclose(np.std(np.log(mapped / target)), np.std(dev), rtol=0.05)
    np.testing.assert_allclose(np.median(mapped) / target, 1.0, atol=0.01)


def test_tau_spread_without_curve_spread_is_the_fallback_sigma():
    chip = _chip(ms.fallback_tau_curve())
    mapped = chip.map_tau(np.full(20000, 0.3), np.random.default_rng(2))
    np.testing.assert_allclose(np.std(np.log(mapped / 0.3)), FALLBACK_TAU_SIGMA, rtol=0.05)
    np.testing.assert_allclose(np.mean(np.log(mapped / 0.3)), 0.0, atol=0.01)


def test_bad_tau_input_is_a_usage_error():
    chip = _chip()
    with pytest.raises(UsageError):
        chip.map_tau(np.array([0.1, -0.2]), None)
    bumpy = TransferCurve("memstack-tau", A_Y, "V", TAU_C[[0, 2, 1, 3, 4, 5, 6]], "s")
    with pytest.raises(UsageError, match="monotone"):
        ms.MemstackChip.from_curves(bumpy, ms.fallback_weight_curve())
    with pytest.raises(UsageError, match="tau_mid_s"):
        ms.MemstackChip.from_curves(_tau_curve_with_devices(), ms.fallback_weight_curve(), tau_mid_s=0.0)


# --------------------------------------------------------------- weight mapping


@pytest.mark.parametrize("step", [None, 1.0])
def test_weights_take_only_the_curves_levels_nearest_with_sign(step):
    chip = _chip(step=step)
    n_levels = len(ms.fallback_weight_curve().x) if step is None else 13  # 0..12 pulses
    assert len(chip.settings) == len(chip.levels) == n_levels
    w = np.random.default_rng(3).standard_normal((64, 48)).astype(np.float32)
    w[0, :5] = 0.0
    mapped = chip.map_weights(w, None)
    w_max = np.abs(w).max()
    mags = np.unique(np.abs(mapped))
    assert len(mags) <= n_levels
    u = np.abs(w.astype(float)) / w_max
    # nearest level by brute force over the curve's own levels
    q = np.abs(np.asarray(ms.fallback_weight_curve()(chip.settings)))
    levels = (q - q.min()) / (q.max() - q.min())
    nearest = levels[np.argmin(np.abs(u[..., None] - levels), axis=-1)]
    np.testing.assert_allclose(np.abs(mapped), w_max * nearest, rtol=1e-6, atol=1e-7)
    assert np.all(np.sign(mapped)[mapped != 0] == np.sign(w)[mapped != 0])
    assert np.all(mapped[0, :5] == 0.0) and mapped.dtype == w.dtype


def _write(folder, curve: TransferCurve) -> None:
    folder.mkdir()
    curve.to_json(folder / ms.WEIGHT_FILE)


def test_weights_follow_the_curve_file(tmp_path):
    n = np.array([0.0, 1, 2, 3, 4, 6, 8, 12])
    linear = TransferCurve("memstack-weight", n, "pulses", 2e-15 + 1e-14 * n, "C")
    _write(tmp_path / "model", ms.fallback_weight_curve())
    _write(tmp_path / "linear", linear)
    w = np.random.default_rng(4).standard_normal((40, 32))
    mapped, chips = {}, {}
    for name in ("model", "linear"):
        tau, weight, src = ms.load_curves(HardwareModel.from_curves(tmp_path / name))
        assert str(tmp_path / name) in src["weight"] and "fallback" in src["tau"]
        chips[name] = ms.MemstackChip.from_curves(tau, weight)
        mapped[name] = chips[name].map_weights(w, None)
    assert not np.allclose(mapped["model"], mapped["linear"])
    # a charge linear in the pulse count gives 12 equal steps: w_max * round(12 |w| / w_max) / 12
    w_max = np.abs(w).max()
    np.testing.assert_allclose(chips["linear"].levels, np.arange(13) / 12, atol=1e-12)
    np.testing.assert_allclose(mapped["linear"], np.sign(w) * w_max * np.rint(12 * np.abs(w) / w_max) / 12,
                               rtol=1e-9, atol=1e-12)


def test_weight_spread_is_relative_to_each_programmed_device():
    chip = _chip(step=None)  # fallback curve: no spread of its own -> FALLBACK_WEIGHT_SIGMA per device
    mapped = chip.map_weights(np.ones(20000), np.random.default_rng(5))  # every weight at full scale
    q = chip.charges
    q_on, q_off = q.max(), q[chip.off]
    # G+ at full scale and G- off, each log-normal: mean (q_on - q_off) * exp(s^2/2) / (q_on - q_off) ~ 1
    s = chip.weight_sigma
    expected_std = np.sqrt((q_on**2 + q_off**2) * (np.exp(s**2) - 1) * np.exp(s**2)) / (q_on - q_off)
    np.testing.assert_allclose(np.std(mapped), expected_std, rtol=0.05)


# ---------------------------------------------------------------- fallback curves


def test_fallback_curves_follow_the_documented_memstack_model():
    w = ms.fallback_weight_curve()
    x = np.array(w.extra["x_state"])
    # memstack.lib header, measured in ngspice: x = 0.091 / 0.896 after 1 / 12 pulses, G(12) = 62.0 uS
    np.testing.assert_allclose(x[[1, -1]], [0.091, 0.896], atol=0.002)
    np.testing.assert_allclose(w.y[-1] / (0.2 * 10e-9), 62.0e-6, rtol=0.01)
    t = ms.fallback_tau_curve()
    # tau = C / g_leak: 500 fF / 10 nS at full polarization; F(0.6 V) = smoothstep(0.1) = 0.028
    np.testing.assert_allclose(t.y[-1], 500e-15 / 10e-9, rtol=1e-3)
    np.testing.assert_allclose(t.y[0], (50e-15 + 450e-15 * 0.028) / 10e-9, rtol=1e-3)
    assert t.is_monotone and w.is_monotone


def test_range_aware_layers_keep_their_taus_in_the_range():
    tc = ms.QUICK.mts
    model = ms._model(tc, 40, 2, 0.3, True, 0, bounds=(0.11, 0.8))
    lif = model.layers[0]
    lif.params["tau"][:3] = [0.01, 0.5, 2.0]
    model.constrain()
    assert np.all((lif.tau >= 0.11 - 1e-7) & (lif.tau <= 0.8 + 1e-7))
    np.testing.assert_allclose(lif.tau[:3], [0.11, 0.5, 0.8], rtol=1e-6)


# ---------------------------------------------------------------------- quick run


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    hw = HardwareModel.from_curves(None, **ms.STUDY.hw_options)
    return [ms.runner(hw, ms.QUICK, seed, tmp_path_factory.mktemp(f"q{i}")) for i, seed in enumerate((3, 3, 4))]


def test_quick_run_is_deterministic_and_differs_for_another_seed(quick):
    (m1, t1, f1), (m2, t2, _), (m3, _, _) = quick
    assert m1 == m2 and t1 == t2
    assert m1["mts_xor/chip/trained"]["values"] != m3["mts_xor/chip/trained"]["values"]
    assert all(f.endswith(".png") for f in f1) and len(f1) == 2
    assert "fallback" in m1["curves"]["tau"] and "fallback" in m1["curves"]["weight"]
    n = ms.QUICK.n_seeds * ms.QUICK.n_chips
    assert len(m1["ecg/chip/fixed"]["values"]) == n and len(m1["mts_xor/gain_on_chip/trained"]["values"]) == n
    assert all(set(r) == {"metric", "ours", "published"} for r in t1)


def test_quick_run_reads_a_curves_folder(tmp_path):
    folder = tmp_path / "curves"
    folder.mkdir()
    _tau_curve_with_devices().to_json(folder / ms.TAU_FILE)
    ms.fallback_weight_curve().to_json(folder / ms.WEIGHT_FILE)
    m, _, _ = ms.runner(HardwareModel.from_curves(folder, **ms.STUDY.hw_options), ms.QUICK, 3, tmp_path / "out")
    assert str(folder / ms.TAU_FILE) in m["curves"]["tau"] and "Monte Carlo (400 devices)" in m["curves"]["tau"]
    np.testing.assert_allclose(m["chip"]["tau_ratio"], TAU_C.max() / TAU_C.min(), rtol=0.05)
