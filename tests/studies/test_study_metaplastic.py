"""Metaplastic quantized perceptron: rule, quantizer, device levels from a curve, straight-through gradient, runs."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from pycircuits.errors import UsageError
from pycircuits.extract.curve import TransferCurve
from pycircuits.network.hardware import FALLBACK_WEIGHT_SIGMA, HardwareModel
from pycircuits.network.tasks import digits_task
from pycircuits.network.training import Adam
from pycircuits.studies import metaplastic as mp
from pycircuits.studies.metaplastic import (
    METAPLASTIC_QUICK,
    QuantizedMLP,
    device_levels,
    level_index,
    metaplastic_step,
    metaplastic_update,
    quantize,
    run_metaplastic,
    runner,
)


def _curve(rate: float, sigma: float | None = 0.1, n_samples: int = 200, seed: int = 0) -> TransferCurve:
    """Exponential charge vs pulse count 0..12, optionally with log-normal Monte Carlo columns."""
    x = np.arange(13.0)
    y = 2e-15 * rate**x
    if sigma is None:
        return TransferCurve("memstack-weight", x, "pulses", y, "C")
    z = np.random.default_rng(seed).standard_normal((1, n_samples))
    return TransferCurve("memstack-weight", x, "pulses", y, "C", samples=y[:, None] * np.exp(sigma * z))


def _hw_with(tmp_path: Path, curve: TransferCurve) -> HardwareModel:
    tmp_path.mkdir(parents=True, exist_ok=True)
    curve.to_json(tmp_path / "memstack-weight.json")
    return HardwareModel.from_curves(tmp_path)


# ------------------------------------------------------------------ rule and quantizer


def test_rule_with_m0_is_plain_sgd_bit_for_bit():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((50, 40)) * 3
    g = rng.standard_normal((50, 40))
    for lr in (0.1, 3.0, 1e-3):
        assert np.array_equal(metaplastic_update(w, g, lr, 0.0), w - lr * g)
        assert np.array_equal(metaplastic_step(w, lr * g, 0.0), w + lr * g)  # any optimizer's step


def test_rule_with_m_attenuates_updates_towards_zero_of_large_weights_only():
    w = np.array([0.01, 3.0, -3.0, 3.0, -3.0, 0.01])
    g = np.array([1.0, 1.0, -1.0, -1.0, 1.0, -1.0])  # first 3 shrink |w| (or cross zero), 4-5 grow |w|
    lr, m = 0.1, 2.0
    step = metaplastic_update(w, g, lr, m) - w
    plain = -lr * g
    # towards zero, large |w|: shrunk by 1 - tanh^2(6) ~ 2.5e-5
    np.testing.assert_allclose(step[1:3], plain[1:3] * (1 - np.tanh(6.0) ** 2), rtol=1e-8)  # (w+step)-w rounding
    assert np.all(np.abs(step[1:3]) < 1e-4 * np.abs(plain[1:3]))
    # towards zero, small |w|: nearly unchanged
    np.testing.assert_allclose(step[0], plain[0], rtol=1e-3)
    # away from zero: unchanged
    np.testing.assert_array_equal(metaplastic_update(w, g, lr, m)[3:], (w - lr * g)[3:])


def test_adam_first_step_is_lr_times_sign_and_later_steps_follow_the_moments():
    g1, g2 = np.array([0.3, -2.0, 1e-3]), np.array([0.1, 1.0, 1e-3])
    opt = Adam.for_shapes([(3,)], lr=0.01)
    (d1,) = opt.deltas([g1])
    np.testing.assert_allclose(d1, -0.01 * g1 / (np.abs(g1) + 1e-8), rtol=1e-12)
    (d2,) = opt.deltas([g2])
    m = (0.9 * 0.1 * g1 + 0.1 * g2) / (1 - 0.9**2)
    v = (0.999 * 0.001 * g1**2 + 0.001 * g2**2) / (1 - 0.999**2)
    np.testing.assert_allclose(d2, -0.01 * m / (np.sqrt(v) + 1e-8), rtol=1e-12)


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_quantizer_has_exactly_2_to_the_b_symmetric_levels(bits):
    w = np.linspace(-3, 3, 20001)
    levels = np.unique(quantize(w, bits, w_max=1.5))
    assert len(levels) == 2**bits
    np.testing.assert_allclose(levels, -levels[::-1], atol=1e-15)
    assert levels.min() == -1.5 and levels.max() == 1.5
    np.testing.assert_allclose(np.diff(levels), 3.0 / (2**bits - 1))
    # nearest level
    q = quantize(w, bits, 1.5)
    inside = np.abs(w) <= 1.5
    assert np.all(np.abs(q - w)[inside] <= 1.5 / (2**bits - 1) + 1e-12)
    assert np.array_equal(np.unique(level_index(w, bits, 1.5)), np.arange(2**bits))


def test_identity_quantizer_for_32_bits():
    w = np.random.default_rng(1).standard_normal(100) * 5
    assert np.array_equal(quantize(w, 32), w) and np.array_equal(quantize(w, None), w)


def test_bad_bits_and_optimizer_are_usage_errors():
    with pytest.raises(UsageError):
        quantize(np.zeros(3), 0)
    with pytest.raises(UsageError):
        device_levels(None, 0)
    net = QuantizedMLP(4, 3, 2, 2, np.random.default_rng(0))
    with pytest.raises(UsageError):
        mp.train_task(net, np.zeros((4, 4)), np.zeros(4, int), 1, 0.1, 0.0, 2, np.random.default_rng(0),
                      optimizer="rmsprop")


# ------------------------------------------------------------------ device levels


def test_levels_from_curve_minimise_the_stated_cost_and_are_antisymmetric():
    curve = _curve(1.5, sigma=None)  # no spread in the file: fallback log-normal variance
    d = device_levels(curve, 2)
    g = 2e-15 * 1.5 ** np.arange(13.0)
    g_fs = g[-1] - g[0]
    s2 = FALLBACK_WEIGHT_SIGMA**2
    var = (g / g_fs) ** 2 * (np.exp(s2) - 1) * np.exp(s2)
    for k, t in enumerate(d.ideal):
        best = min(((a, b) for a in range(13) for b in range(13)),
                   key=lambda ab: ((g[ab[0]] - g[ab[1]]) / g_fs - abs(t)) ** 2 + var[ab[0]] + var[ab[1]])
        a, b = d.pulses[k] if t > 0 else d.pulses[k][::-1]
        assert (a, b) == best
        np.testing.assert_allclose(d.levels[k], (g[d.pulses[k, 0]] - g[d.pulses[k, 1]]) / g_fs, rtol=1e-9)
    np.testing.assert_allclose(d.levels, -d.levels[::-1], rtol=0, atol=0)
    assert d.levels[-1] == pytest.approx(1.0) and tuple(d.pulses[-1]) == (12, 0)


def test_changing_the_curve_file_changes_the_realised_levels(tmp_path):
    cfg = replace(METAPLASTIC_QUICK, bits=3)
    d1, src1 = mp._weights_source(_hw_with(tmp_path / "a", _curve(1.5)), cfg)
    d2, src2 = mp._weights_source(_hw_with(tmp_path / "b", _curve(1.15)), cfg)
    d0, src0 = mp._weights_source(HardwareModel.from_curves(None), cfg)
    assert "a/memstack-weight.json" in src1["weight"] and "fallback" not in src1["weight"]
    assert "sigma 0.1" in src0["weight"] and d0.pulses is None
    np.testing.assert_array_equal(d0.levels, d0.ideal)
    assert not np.allclose(d1.levels, d2.levels, atol=1e-3)
    assert not np.allclose(d1.levels, d1.ideal, atol=1e-3)  # an exponential curve does not give uniform levels
    # a curve file under another name, by config field
    (tmp_path / "a" / "memstack-weight.json").rename(tmp_path / "a" / "other.json")
    d3, _ = mp._weights_source(HardwareModel.from_curves(tmp_path / "a"), replace(cfg, weight_curve="other.json"))
    np.testing.assert_array_equal(d3.levels, d1.levels)


def test_without_spread_the_network_holds_exactly_the_chosen_levels():
    d = device_levels(_curve(1.4), 2, spread=False)
    rng = np.random.default_rng(0)
    net = QuantizedMLP(8, 6, 3, 2, rng, w_max=1.5, devices=d)
    for w, g in zip(net.w, net.quantized(), strict=True):
        np.testing.assert_array_equal(g, 1.5 * d.levels[level_index(w, 2, 1.5)])
    assert set(np.unique(net.g[0]).tolist()) <= set((1.5 * d.levels).tolist())


def test_only_pairs_whose_level_changes_are_reprogrammed_with_a_new_draw():
    d = device_levels(_curve(1.4), 2)
    net = QuantizedMLP(20, 10, 3, 2, np.random.default_rng(0), devices=d, device_rng=np.random.default_rng(1))
    g_before = [g.copy() for g in net.g]
    k_before = [k.copy() for k in net.k]
    net.w[0] = -net.w[0]  # every nonzero weight changes level (levels are symmetric)
    net.w[1] = net.w[1] * (1 + 1e-9)  # no level changes
    net.reprogram()
    np.testing.assert_array_equal(net.g[1], g_before[1])
    changed = level_index(net.w[0], 2) != k_before[0]
    assert changed.mean() > 0.9
    assert np.all(net.g[0][changed] != g_before[0][changed])
    assert net.n_programmed == changed.sum()
    # same level again -> a fresh draw, not the old value
    net.w[0] = -net.w[0]
    net.reprogram()
    assert np.all(net.g[0][changed] != g_before[0][changed])
    # the realised sign follows the level
    assert np.all(np.sign(net.g[0]) == np.sign(d.ideal[net.k[0]]))


def test_spread_of_reprogrammed_devices_matches_the_curve():
    curve = _curve(1.4, sigma=0.12, n_samples=400)
    d = device_levels(curve, 2)
    k = np.full(60000, 3)  # level +w_max: pair (12, 0)
    draws = d.program(k, np.random.default_rng(5))
    a, b = d.pulses[3]
    assert (a, b) == (12, 0)
    # independent: the curve's Monte Carlo columns at the two pulse counts (integer grid points)
    ga, gb = curve.samples[a], curve.samples[b]
    std = np.sqrt(ga.var() + gb.var()) / d.g_fs
    mean = (ga.mean() - gb.mean()) / d.g_fs
    assert draws.std() == pytest.approx(std, rel=0.03)
    assert draws.mean() == pytest.approx(mean, rel=0.01)
    # relative spread of one device ~ the curve's sigma of ln G
    inner = d.program(np.full(60000, 2), np.random.default_rng(6))
    assert inner.std() > 0


def test_spread_of_reprogrammed_devices_matches_the_fallback_sigma():
    d = device_levels(None, 2)
    draws = d.program(np.full(50000, 3), np.random.default_rng(0))  # level +1 on G+ alone
    assert np.log(draws).std() == pytest.approx(FALLBACK_WEIGHT_SIGMA, rel=0.03)
    assert np.log(draws).mean() == pytest.approx(0.0, abs=2e-3)
    inner = d.program(np.full(50000, 1), np.random.default_rng(1))  # level -1/3 on G- alone
    assert np.all(inner < 0) and np.log(-inner / (1 / 3)).std() == pytest.approx(FALLBACK_WEIGHT_SIGMA, rel=0.03)


# ------------------------------------------------------------------ gradient


@pytest.mark.parametrize("bits,devices", [(32, False), (2, False), (2, True)])
def test_straight_through_gradient_matches_finite_differences_of_unquantized_network(bits, devices):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 6))
    y = rng.integers(0, 4, 7)
    dev = device_levels(_curve(1.5), 2) if devices else None
    net = QuantizedMLP(6, 5, 4, bits, rng, devices=dev)
    _, grads = net.loss_and_grads(x, y)
    ref = QuantizedMLP(6, 5, 4, 32, rng)  # the un-quantized network at the programmed weights
    ref.w = [w.copy() for w in net.quantized()]
    eps = 1e-6
    for j in range(2):
        num = np.zeros_like(ref.w[j])
        for idx in np.ndindex(*num.shape):
            old = ref.w[j][idx]
            ref.w[j][idx] = old + eps
            lp = ref.loss_and_grads(x, y)[0]
            ref.w[j][idx] = old - eps
            lm = ref.loss_and_grads(x, y)[0]
            ref.w[j][idx] = old
            num[idx] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(grads[j], num, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------ task and runs


def test_digits_task_is_deterministic_and_permuted():
    a = digits_task(5, 50, 20)
    b = digits_task(5, 50, 20)
    for u, v in zip(a, b, strict=False):
        assert np.array_equal(u, v)
    assert sorted(a[4]) == list(range(64)) and not np.array_equal(a[4], np.arange(64))


def test_study_is_registered_with_its_configurations():
    study = mp.STUDY
    assert study.name == "metaplastic" and study.config == mp.MetaplasticConfig() and study.quick is METAPLASTIC_QUICK
    assert isinstance(study.doc, str) and "\n" not in study.doc and study.uses == ()
    json.dumps(asdict(study.config))
    HardwareModel.from_curves(None, **study.hw_options)


def test_quick_run_is_deterministic_and_metaplasticity_keeps_task_a(tmp_path):
    m1, t1, files = runner(HardwareModel.from_curves(None), METAPLASTIC_QUICK, 0, tmp_path)
    m2, t2 = run_metaplastic(METAPLASTIC_QUICK, 0, None)
    m3, _ = run_metaplastic(METAPLASTIC_QUICK, 1, None)
    assert t1 == t2
    assert files == [str(tmp_path / "metaplastic.png")] and Path(files[0]).is_file()
    assert "sigma 0.1" in m1["curves"]["weight"]
    keys = [k for k in m1 if k.endswith(("_acc_a_after_b", "_acc_b"))]
    for k in keys:
        assert m1[k]["values"] == m2[k]["values"]
    assert any(m1[k]["values"] != m3[k]["values"] for k in keys)
    # Measured (seed 0, quick, Adam, m=3): A after B 0.19 (m=0) vs 0.31 (m=3); both arms learn B (> 0.52).
    assert m1["meta_acc_a_after_b"]["mean"] > m1["plain_acc_a_after_b"]["mean"] + 0.05
    assert min(m1["meta_acc_b"]["values"]) > 0.4 and min(m1["plain_acc_b"]["values"]) > 0.4
    assert all(set(r) == {"metric", "ours", "published"} for r in t1)
    json.dumps(m1)


def test_quick_run_with_a_curve_folder_reads_the_curve_and_reports_the_sweeps(tmp_path):
    hw = _hw_with(tmp_path / "curves", _curve(1.5))
    cfg = replace(METAPLASTIC_QUICK, n_seeds=1, m_sweep=(1.0,), hidden_bits_sweep=(None, 4))
    m1, t1, _ = runner(hw, cfg, 0, tmp_path / "out")
    assert "memstack-weight.json" in m1["curves"]["weight"]
    assert m1["levels"]["pulses"] is not None and m1["meta_n_programmed"]["mean"] > 0
    assert sorted(m1["m_sweep"]) == ["0", "1", "3"]  # m = 0, cfg.m and the sweep
    assert m1["m_sweep"]["3"]["acc_b"] == m1["meta_acc_b"]
    assert list(m1["hidden_bits_sweep"]) == ["float"]  # 4 bits is the run itself
    assert any("float hidden weights" in r["metric"] for r in t1)
