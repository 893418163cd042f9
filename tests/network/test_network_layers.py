"""Gradients of the network layers against finite differences and reference loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycircuits.network.layers import (
    LIF,
    DelayedDense,
    DelayedSynapses,
    Dense,
    LeakyIntegrator,
    RecurrentLIF,
    add_weight_noise,
    alpha_from_tau,
)

F64 = np.float64
DT = 0.005  # s


def fd_grad(loss, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of loss() wrt every element of arr (in place)."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        orig = arr[idx]
        arr[idx] = orig + eps
        up = loss()
        arr[idx] = orig - eps
        down = loss()
        arr[idx] = orig
        grad[idx] = (up - down) / (2 * eps)
    return grad


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def check_gradients(layer, x: np.ndarray, names: tuple[str, ...] = (), seed: int = 0) -> None:
    """Hand-written backward == central FD of L = sum(R * out), rel. err < 1e-4."""
    out = layer.forward(x)
    r = np.random.default_rng(seed).standard_normal(out.shape)
    grad_x = layer.backward(r)
    analytic = {name: layer.grads[name].copy() for name in names}

    def loss() -> float:
        return float(np.sum(layer.forward(x) * r))

    assert rel_err(grad_x, fd_grad(loss, x)) < 1e-4
    for name in names:
        numeric = fd_grad(loss, layer.params[name])
        assert np.linalg.norm(numeric) > 0, f"{name}: loss does not depend on it"
        assert rel_err(analytic[name], numeric) < 1e-4, name


class SmoothLIF(LIF):
    """LIF whose spike is a sigmoid: the same BPTT code, now exactly differentiable."""

    def spike(self, v):
        return 1.0 / (1.0 + np.exp(-4.0 * (v - self.v_th)))

    def spike_grad(self, v):
        s = self.spike(v)
        return 4.0 * s * (1.0 - s)


class SmoothRecurrentLIF(RecurrentLIF):
    spike = SmoothLIF.spike
    spike_grad = SmoothLIF.spike_grad


@pytest.fixture
def x_small() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((2, 9, 3))


# --------------------------------------------------------------- dense / LI


def test_dense_gradients_match_finite_differences(x_small):
    check_gradients(Dense(3, 4, rng=0, bias=True, dtype=F64), x_small, ("W", "b"))


@pytest.mark.parametrize("readout", ["max", "last", "mean", "none"])
@pytest.mark.parametrize("clip", [False, True])
def test_leaky_integrator_gradients_match_finite_differences(x_small, readout, clip):
    li = LeakyIntegrator(3, 0.02, DT, clip_nonneg=clip, readout=readout, dtype=F64)
    check_gradients(li, x_small + 0.3)


def test_leaky_integrator_heterogeneous_tau_gradient(x_small):
    li = LeakyIntegrator(3, np.array([0.01, 0.02, 0.1]), DT, readout="max", dtype=F64)
    check_gradients(li, x_small)


def test_leaky_integrator_clip_keeps_voltage_nonnegative_and_blocks_gradient():
    x = np.zeros((1, 6, 1))
    x[0, :, 0] = [1.0, -3.0, 0.5, 0.0, 0.0, 0.0]
    li = LeakyIntegrator(1, 0.02, DT, clip_nonneg=True, readout="none", dtype=F64)
    v = li.forward(x)[0, :, 0]
    a = np.exp(-DT / 0.02)
    np.testing.assert_allclose(v, [1.0, 0.0, 0.5, 0.5 * a, 0.5 * a**2, 0.5 * a**3])
    g = li.backward(np.ones_like(x))[0, :, 0]
    # step 1 was clipped: I[1] has no effect, and I[0] only counts through V[0]
    np.testing.assert_allclose(g, [1.0, 0.0, 1 + a + a**2 + a**3, 1 + a + a**2, 1 + a, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("readout", ["max", "last", "mean", "none"])
def test_leaky_integrator_lfilter_equals_explicit_loop(readout, dtype):
    x = np.random.default_rng(2).standard_normal((4, 50, 5)).astype(dtype)
    fast = LeakyIntegrator(5, 0.02, DT, readout=readout, method="lfilter", dtype=dtype)
    loop = LeakyIntegrator(5, 0.02, DT, readout=readout, method="loop", dtype=dtype)
    y_fast, y_loop = fast.forward(x), loop.forward(x)
    assert y_fast.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y_fast, y_loop, rtol=tol, atol=tol)
    g = np.random.default_rng(3).standard_normal(y_fast.shape).astype(dtype)
    np.testing.assert_allclose(fast.backward(g), loop.backward(g), rtol=tol, atol=tol)


# ------------------------------------------------------------------ delays


def test_delayed_synapses_follow_definition():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 12, 3))
    delays = rng.integers(0, 15, (3, 4))  # some longer than the record
    out = DelayedSynapses(3, delays, dtype=F64).forward(x)
    for i, k, t in np.ndindex(3, 4, 12):
        src = t - delays[i, k]
        expected = x[:, src, i] if src >= 0 else 0.0
        np.testing.assert_array_equal(out[:, t, i * 4 + k], expected)


def test_delayed_synapses_gradient_matches_finite_differences(x_small):
    delays = np.random.default_rng(5).integers(0, 6, (3, 4))
    check_gradients(DelayedSynapses(3, delays, dtype=F64), x_small)


@pytest.mark.parametrize("method", ["taps", "events"])
def test_delayed_dense_gradients_match_finite_differences(x_small, method):
    delays = np.random.default_rng(6).integers(0, 6, (3, 4))
    layer = DelayedDense(3, 2, delays, rng=0, bias=True, method=method, dtype=F64)
    check_gradients(layer, x_small, ("W", "b"))


@pytest.mark.parametrize("method", ["taps", "events"])
def test_delayed_dense_equals_delayed_synapses_then_dense_exactly(method):
    rng = np.random.default_rng(7)
    n_in, k, n_out = 5, 16, 3
    x = (rng.random((3, 40, n_in)) < 0.1).astype(F64)
    delays = rng.integers(0, 45, (n_in, k))
    # weights and output gradients on a 2^-8 grid: every partial sum is exact
    # in float64, so any summation order gives bit-identical results
    w = rng.integers(-256, 257, (n_in * k, n_out)) / 256.0
    g = rng.integers(-64, 65, (3, 40, n_out)) / 64.0
    fused = DelayedDense(n_in, n_out, delays, method=method, dtype=F64)
    fused.params["W"][...] = w
    syn, dense = DelayedSynapses(n_in, delays, dtype=F64), Dense(n_in * k, n_out, dtype=F64)
    dense.params["W"][...] = w
    np.testing.assert_array_equal(fused.forward(x), dense.forward(syn.forward(x)))
    np.testing.assert_array_equal(fused.backward(g), syn.backward(dense.backward(g)))
    np.testing.assert_array_equal(fused.grads["W"], dense.grads["W"])


@settings(max_examples=30, deadline=None)
@given(
    n_in=st.integers(1, 6),
    k=st.integers(1, 16),
    t_len=st.integers(1, 30),
    max_delay=st.integers(0, 40),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_delayed_dense_equals_reference_for_any_shape(n_in, k, t_len, max_delay, density, seed):
    rng = np.random.default_rng(seed)
    x = (rng.random((2, t_len, n_in)) < density).astype(F64)
    delays = rng.integers(0, max_delay + 1, (n_in, k))
    w = rng.integers(-64, 65, (n_in * k, 3)) / 64.0
    g = rng.integers(-64, 65, (2, t_len, 3)) / 64.0
    syn, dense = DelayedSynapses(n_in, delays, dtype=F64), Dense(n_in * k, 3, dtype=F64)
    dense.params["W"][...] = w
    ref_y, ref_gx = dense.forward(syn.forward(x)), syn.backward(dense.backward(g))
    for method in ("taps", "events", "auto"):
        fused = DelayedDense(n_in, 3, delays, method=method, dtype=F64)
        fused.params["W"][...] = w
        np.testing.assert_array_equal(fused.forward(x), ref_y)
        np.testing.assert_array_equal(fused.backward(g), ref_gx)
        np.testing.assert_array_equal(fused.grads["W"], dense.grads["W"])


def test_delayed_dense_float32_methods_agree_on_random_weights():
    rng = np.random.default_rng(8)
    x = (rng.random((4, 60, 10)) < 0.05).astype(np.float32)
    delays = rng.integers(0, 30, (10, 16))
    taps = DelayedDense(10, 4, delays, rng=1, method="taps")
    events = DelayedDense(10, 4, delays, rng=1, method="events")
    np.testing.assert_allclose(taps.forward(x), events.forward(x), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal((4, 60, 4)).astype(np.float32)
    np.testing.assert_allclose(taps.backward(g), events.backward(g), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(taps.grads["W"], events.grads["W"], rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------- LIF


def test_lif_forward_resets_by_subtraction_one_step_later():
    # alpha = 0.5, constant input 0.9: V = 0.9, 1.35 (spike), 0.575, 1.1875
    # (spike), 0.49375, ... the spike at t is subtracted at t+1
    lif = LIF(1, DT / np.log(2.0), DT, dtype=F64)
    s = lif.forward(np.full((1, 6, 1), 0.9))[0, :, 0]
    v, prev, expected = 0.0, 0.0, []
    for _ in range(6):
        v = 0.5 * v + 0.9 - prev
        prev = float(v > 1.0)
        expected.append(prev)
    np.testing.assert_array_equal(s, expected)
    np.testing.assert_array_equal(s, [0, 1, 0, 1, 0, 1])


def test_lif_alpha_is_clipped_to_published_range():
    lif = LIF(3, np.array([1e-4, 0.02, 100.0]), DT)
    np.testing.assert_allclose(lif.alpha, [0.1, np.exp(-DT / 0.02), 0.99], rtol=1e-6)


def test_lif_bptt_matches_finite_differences_with_smooth_spike(x_small):
    tau = np.array([0.01, 0.02, 0.05])
    lif = SmoothLIF(3, tau, DT, trainable_tau=True, dtype=F64)
    check_gradients(lif, x_small + 0.6, ("tau",))


def test_recurrent_lif_bptt_matches_finite_differences_with_smooth_spike(x_small):
    tau = np.array([0.01, 0.02, 0.05, 0.03])
    layer = SmoothRecurrentLIF(3, 4, tau, DT, trainable_tau=True, rng=0, dtype=F64)
    check_gradients(layer, x_small + 0.6, ("tau", "W_in", "W_rec"))
    assert np.all(np.diag(layer.grads["W_rec"]) == 0)


def test_tau_gradient_is_zero_where_alpha_is_clipped(x_small):
    lif = SmoothLIF(3, np.array([0.02, 5.0, 1e-4]), DT, trainable_tau=True, dtype=F64)
    lif.forward(x_small + 0.6)
    lif.backward(np.ones((2, 9, 3)))
    assert lif.grads["tau"][0] != 0
    np.testing.assert_array_equal(lif.grads["tau"][1:], 0.0)


def surrogate_jvp(x, dx, layer, dtau, dw_in=None, dw_rec=None):
    """Forward-mode derivative of sum(R * S) under the box surrogate.

    An independent, straightforward loop: it carries (V, dV) and (S, dS)
    forward in time with dS = box(V) * dV, the rule the BPTT code inverts.
    Returns the directional derivative as a function of R: (B, T, N) -> float.
    """
    alpha, dalpha_dtau = alpha_from_tau(layer.tau, layer.dt)
    dalpha = dalpha_dtau * dtau
    if dw_in is not None:
        w_in, w_rec = layer.params["W_in"], layer.params["W_rec"]
        cur, dcur = x @ w_in, dx @ w_in + x @ dw_in
    else:
        cur, dcur = x, dx
    v = dv = s = ds = np.zeros((x.shape[0], layer.n))
    tangents = []
    for t in range(x.shape[1]):
        i_t, di_t = cur[:, t], dcur[:, t]
        if dw_in is not None:
            i_t, di_t = i_t + s @ w_rec, di_t + ds @ w_rec + s @ dw_rec
        dv = dalpha * v + alpha * dv + di_t - (0.0 if layer.detach_reset else layer.v_th) * ds
        v = alpha * v + i_t - layer.v_th * s
        box = np.abs(v - layer.v_th) < layer.surrogate_width
        s, ds = (v > layer.v_th).astype(float), box * dv
        tangents.append(ds)
    return np.stack(tangents, axis=1)


@pytest.mark.parametrize("detach_reset", [False, True])
def test_lif_box_surrogate_bptt_equals_forward_mode_reference(detach_reset):
    rng = np.random.default_rng(9)
    x = rng.random((3, 30, 4)) * 0.8
    tau = np.array([0.01, 0.02, 0.04, 0.08])
    lif = LIF(4, tau, DT, trainable_tau=True, detach_reset=detach_reset, dtype=F64)
    s = lif.forward(x)
    assert 0.05 < s.mean() < 0.6, "must test a spiking regime"
    r = rng.standard_normal(s.shape)
    grad_x = lif.backward(r)
    for _ in range(3):
        dx, dtau = rng.standard_normal(x.shape), rng.standard_normal(4) * 1e-3
        ref = np.sum(r * surrogate_jvp(x, dx, lif, dtau))
        mine = np.sum(grad_x * dx) + np.sum(lif.grads["tau"] * dtau)
        assert abs(mine - ref) <= 1e-10 * max(1.0, abs(ref))


def test_recurrent_lif_box_surrogate_bptt_equals_forward_mode_reference():
    rng = np.random.default_rng(10)
    x = (rng.random((3, 30, 5)) < 0.4).astype(F64)
    layer = RecurrentLIF(
        5,
        4,
        np.array([0.01, 0.02, 0.04, 0.08]),
        DT,
        trainable_tau=True,
        rng=1,
        init_scale_in=0.8,
        init_scale_rec=0.5,
        dtype=F64,
    )
    s = layer.forward(x)
    assert 0.05 < s.mean() < 0.6, "must test a spiking regime"
    r = rng.standard_normal(s.shape)
    grad_x = layer.backward(r)
    g = layer.grads
    for _ in range(3):
        dx, dtau = rng.standard_normal(x.shape), rng.standard_normal(4) * 1e-3
        dw_in = rng.standard_normal((5, 4))
        dw_rec = rng.standard_normal((4, 4)) * (1 - np.eye(4))
        ref = np.sum(r * surrogate_jvp(x, dx, layer, dtau, dw_in, dw_rec))
        mine = np.sum(grad_x * dx) + np.sum(g["tau"] * dtau) + np.sum(g["W_in"] * dw_in) + np.sum(g["W_rec"] * dw_rec)
        assert abs(mine - ref) <= 1e-10 * max(1.0, abs(ref))


def test_layers_default_to_float32():
    x = (np.random.default_rng(11).random((2, 10, 3)) < 0.3).astype(np.float64)
    model = [Dense(3, 4, rng=0), LIF(4, 0.02, DT), LeakyIntegrator(4, 0.02, DT)]
    for layer in model:
        x = layer.forward(x)
        assert x.dtype == np.float32
    delays = np.zeros((3, 2), dtype=int)
    assert DelayedDense(3, 2, delays, rng=0).forward(np.ones((1, 4, 3))).dtype == np.float32


# ------------------------------------------------------------ weight noise


def test_weight_noise_zero_gives_identical_outputs():
    rng = np.random.default_rng(12)
    x = (rng.random((2, 20, 6)) < 0.3).astype(np.float32)
    delays = rng.integers(0, 5, (6, 3))
    for make in (
        lambda k: Dense(6, 4, rng=0, weight_noise=k),
        lambda k: DelayedDense(6, 4, delays, rng=0, weight_noise=k),
        lambda k: RecurrentLIF(6, 4, 0.02, DT, rng=0, weight_noise=k),
    ):
        clean = make(0.0).forward(x)
        np.testing.assert_array_equal(make(0.0).forward(x, rng=np.random.default_rng(1)), clean)
        noisy = make(0.2).forward(x, rng=np.random.default_rng(1))
        assert not np.array_equal(noisy, clean)


def test_weight_noise_std_is_k_times_max_abs_weight():
    w = np.random.default_rng(13).standard_normal((300, 300))
    for k in (0.1, 0.2):
        delta = add_weight_noise(w, k, np.random.default_rng(14)) - w
        assert abs(delta.mean()) < 0.01 * k * np.abs(w).max()
        np.testing.assert_allclose(delta.std(), k * np.abs(w).max(), rtol=0.02)
    w[0, :5] = 0.0
    np.testing.assert_array_equal(add_weight_noise(w, 0.2, np.random.default_rng(0))[0, :5], 0.0)


def test_weight_noise_gradient_is_straight_through():
    rng = np.random.default_rng(15)
    x, g = rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    noisy = Dense(4, 3, rng=0, weight_noise=0.1, dtype=F64)
    w_clean = noisy.params["W"].copy()
    y = noisy.forward(x, rng=np.random.default_rng(16))
    grad_x = noisy.backward(g)
    w_noisy = add_weight_noise(w_clean, 0.1, np.random.default_rng(16))
    fixed = Dense(4, 3, dtype=F64)
    fixed.params["W"][...] = w_noisy
    np.testing.assert_allclose(y, fixed.forward(x))
    np.testing.assert_allclose(grad_x, fixed.backward(g))
    np.testing.assert_allclose(noisy.grads["W"], fixed.grads["W"])
    np.testing.assert_array_equal(noisy.params["W"], w_clean)  # forward never edits W
