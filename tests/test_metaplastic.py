"""Metaplastic quantized perceptron: rule, quantizer, straight-through gradient, quick run."""

from __future__ import annotations

import numpy as np
import pytest

from pycircuits.network.metaplastic import (
    METAPLASTIC_QUICK,
    QuantizedMLP,
    digits_task,
    metaplastic_update,
    quantize,
    run_metaplastic,
)


def test_rule_with_m0_is_plain_sgd_bit_for_bit():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((50, 40)) * 3
    g = rng.standard_normal((50, 40))
    for lr in (0.1, 3.0, 1e-3):
        assert np.array_equal(metaplastic_update(w, g, lr, 0.0), w - lr * g)


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


def test_identity_quantizer_for_32_bits():
    w = np.random.default_rng(1).standard_normal(100) * 5
    assert np.array_equal(quantize(w, 32), w) and np.array_equal(quantize(w, None), w)


@pytest.mark.parametrize("bits", [32, 2])
def test_straight_through_gradient_matches_finite_differences_of_unquantized_network(bits):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 6))
    y = rng.integers(0, 4, 7)
    net = QuantizedMLP(6, 5, 4, bits, rng)
    _, grads = net.loss_and_grads(x, y)
    ref = QuantizedMLP(6, 5, 4, 32, rng)  # the un-quantized network at the quantized weights
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


def test_digits_task_is_deterministic_and_permuted():
    a = digits_task(5, 50, 20)
    b = digits_task(5, 50, 20)
    for u, v in zip(a, b, strict=False):
        assert np.array_equal(u, v)
    assert sorted(a[4]) == list(range(64)) and not np.array_equal(a[4], np.arange(64))


def test_quick_run_is_deterministic_and_metaplasticity_keeps_task_a(tmp_path):
    m1, t1 = run_metaplastic(METAPLASTIC_QUICK, 0, tmp_path)
    m2, t2 = run_metaplastic(METAPLASTIC_QUICK, 0, None)
    assert t1 == t2
    assert (tmp_path / "metrics.json").is_file() and (tmp_path / "metaplastic.png").is_file()
    keys = [k for k in m1 if k.endswith(("_acc_a_after_b", "_acc_b"))]
    for k in keys:
        assert m1[k]["values"] == m2[k]["values"]
    # Measured (seed 0, quick, m=2): A after B 0.186 (m=0) vs 0.327 (m=2), per sub-seed
    # gains of ~0.1-0.2; both arms learn B (> 0.5, chance 0.1).
    assert m1["meta_acc_a_after_b"]["mean"] > m1["plain_acc_a_after_b"]["mean"] + 0.05
    assert min(m1["meta_acc_b"]["values"]) > 0.4 and min(m1["plain_acc_b"]["values"]) > 0.4
    assert len(t1) == 6 and all(set(r) == {"metric", "ours", "published"} for r in t1)
