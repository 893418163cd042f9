"""Quantized S4D: convolution = recurrence, hand gradients (float and STE), quantizer levels, quick run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pycircuits.errors import UsageError
from pycircuits.network.hardware import HardwareModel
from pycircuits.network.training import softmax_cross_entropy
from pycircuits.studies import s4d


def _model(h: int = 3, n_state: int = 4, n_layers: int = 2, seed: int = 0) -> s4d.S4DNet:
    """A small model with every parameter moved off its structured initial value."""
    rng = np.random.default_rng(seed)
    net = s4d.S4DNet(h, n_state, n_layers, 4, rng, dt_min=0.05, dt_max=0.5)
    for group in net.groups():
        for name, p in group.items():
            p += 0.3 * rng.standard_normal(p.shape) * (0.3 if name == "log_dt" else 1.0)
    return net


def _data(seed: int = 1, n: int = 3, t: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, t)), rng.integers(0, 4, n)


def _loss(net: s4d.S4DNet, u: np.ndarray, y: np.ndarray, forward) -> float:
    return softmax_cross_entropy(forward(net, u)[0], y)[0]


def _check_gradients(net, u, y, forward, backward, skip=(), eps=1e-6, tol=1e-5) -> None:
    """Hand gradients of every parameter array vs central finite differences of ``forward``'s loss."""
    out, cache = forward(net, u)
    grads = backward(net, cache, softmax_cross_entropy(out, y)[1])
    for gi, (group, g) in enumerate(zip(net.groups(), grads, strict=True)):
        assert set(g) == set(group)
        for name, p in group.items():
            if (gi, name) in skip:
                continue
            fd = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + eps
                lp = _loss(net, u, y, forward)
                p[i] = old - eps
                lm = _loss(net, u, y, forward)
                p[i] = old
                fd[i] = (lp - lm) / (2 * eps)
            assert np.max(np.abs(fd)) > 0, (gi, name)
            err = np.max(np.abs(g[name] - fd)) / np.max(np.abs(fd))
            assert err < tol, (gi, name, err)


# ------------------------------------------------------------------ convolution vs recurrence


def test_kernel_is_the_impulse_response_of_the_recurrence():
    net = _model()
    d = net.discretize(0)
    k = s4d.ssm_kernel(d, 30)
    x = d["B_bar"].copy()  # x_0 for a unit impulse at t = 0
    for t in range(30):
        np.testing.assert_allclose(k[:, t], 2 * np.real(np.sum(d["C"] * x, axis=1)), rtol=1e-12, atol=1e-14)
        x = d["A_bar"] * x


def test_convolution_mode_equals_recurrent_mode_float64():
    net = _model(h=4, n_state=6)
    u, _ = _data(n=5, t=64)
    conv = s4d.forward_conv(net, u)[0]
    rec = s4d.forward_rec(net, u)[0]
    assert np.max(np.abs(conv - rec)) <= 1e-9 * np.max(np.abs(conv))


def test_zoh_discretisation():
    net = _model()
    d = net.discretize(1)
    dt = np.exp(net.ssm[1]["log_dt"])[:, None]
    a = -np.exp(net.ssm[1]["log_A_re"]) + 1j * net.ssm[1]["A_im"]
    np.testing.assert_allclose(d["A_bar"], np.exp(dt * a), rtol=1e-14)
    # B_bar = int_0^dt exp(A s) ds B
    s = np.linspace(0, 1, 20001)[None, None, :] * dt[..., None]
    integral = np.trapezoid(np.exp(a[..., None] * s), s, axis=-1)
    np.testing.assert_allclose(d["B_bar"], integral * d["B"], rtol=1e-7)


# ------------------------------------------------------------------ hand gradients


def test_convolution_gradients_match_finite_differences():
    net = _model()
    u, y = _data()
    _check_gradients(net, u, y, s4d.forward_conv, s4d.backward_conv)


def _clipping_ranges(net: s4d.S4DNet, t: int) -> dict:
    """Ranges from other data, shrunk so that some (not all) values of the test batch clip."""
    u_cal, _ = _data(seed=7, n=30, t=t)
    r = s4d.calibrate(net, u_cal)
    r["blocks"] = [{k: (lo * (0.8 if k.startswith("x") else 0.95), hi * (0.8 if k.startswith("x") else 0.95))
                    for k, (lo, hi) in b.items()} for b in r["blocks"]]
    return r


@pytest.mark.parametrize("a_bar", s4d.A_BAR_OPTIONS)
def test_qat_gradients_match_finite_differences_of_the_ste_surrogate(a_bar):
    """Quantizers replaced by their STE pass-through (clip without rounding): BPTT = exact derivative."""
    net = _model()
    u, y = _data()
    spec = s4d.QuantSpec(4, 6, 5, a_bar)
    ranges = _clipping_ranges(net, u.shape[1])
    _, cache = s4d.forward_rec(net, u, spec, ranges, s4d.FakeQuant("clip"))
    mask = np.concatenate([b["mask"].ravel() for b in cache["blocks"]])
    assert 0 < mask.mean() < 1  # the state clips somewhere, not everywhere

    def fwd(n, x):
        return s4d.forward_rec(n, x, spec, ranges, s4d.FakeQuant("clip"))

    dynamics = {(1 + i, k) for i in range(net.n_layers) for k in ("log_A_re", "A_im", "log_dt")}
    skip = dynamics if a_bar == "frozen" else ()
    _check_gradients(net, u, y, fwd, s4d.backward_rec, skip=skip)
    if a_bar == "frozen":
        out, cache = fwd(net, u)
        grads = s4d.backward_rec(net, cache, softmax_cross_entropy(out, y)[1])
        assert all(not np.any(grads[1 + i][k]) for i in range(net.n_layers) for k in net.ssm[i])


def test_qat_gradients_are_the_exact_ste_path_of_the_quantized_network():
    """Replay: clip(v) + the recorded rounding offsets equals the quantized network at the recorded point,
    and its exact derivative (finite differences) equals the hand STE gradient of the quantized network."""
    net = _model()
    u, y = _data()
    spec = s4d.QuantSpec(4, 6, 5, "trained")
    ranges = _clipping_ranges(net, u.shape[1])
    rec = s4d.FakeQuant("round", record=True)
    out_q, cache_q = s4d.forward_rec(net, u, spec, ranges, rec)
    out_float = s4d.forward_rec(net, u)[0]
    assert np.max(np.abs(out_q - out_float)) > 1e-3  # the quantizers do act
    out_r = s4d.forward_rec(net, u, spec, ranges, s4d.FakeQuant("replay", offsets=rec.offsets))[0]
    np.testing.assert_array_equal(out_r, out_q)
    g_q = s4d.backward_rec(net, cache_q, softmax_cross_entropy(out_q, y)[1])

    def fwd(n, x):
        return s4d.forward_rec(n, x, spec, ranges, s4d.FakeQuant("replay", offsets=rec.offsets))

    _check_gradients(net, u, y, fwd, lambda n, c, d: g_q)


def test_state_range_gradients_match_finite_differences_of_the_replayed_network():
    """Learned state ranges: the replay clip(v, lo, hi) + offset (hi - lo) equals the quantized network at the
    recorded point; its exact derivative with respect to each head's lo and hi is the hand STE gradient."""
    net = _model()
    u, y = _data()
    spec = s4d.QuantSpec(4, 6, 3, "trained")
    ranges = _clipping_ranges(net, u.shape[1])
    rec = s4d.FakeQuant("round", record=True)
    out_q, cache = s4d.forward_rec(net, u, spec, ranges, rec)
    s4d.backward_rec(net, cache, softmax_cross_entropy(out_q, y)[1])

    def loss() -> float:
        out = s4d.forward_rec(net, u, spec, ranges, s4d.FakeQuant("replay", offsets=rec.offsets))[0]
        return softmax_cross_entropy(out, y)[0]

    assert loss() == softmax_cross_entropy(out_q, y)[0]
    eps = 1e-6
    for l, blk in enumerate(ranges["blocks"]):
        g_lo, g_hi = cache["blocks"][l]["g_x_range"]
        for j, key in enumerate(("x_re", "x_im")):
            for end, g in ((0, g_lo), (1, g_hi)):
                arr = blk[key][end]
                fd = np.zeros_like(arr)
                for h in range(len(arr)):
                    old = arr[h]
                    arr[h] = old + eps
                    lp = loss()
                    arr[h] = old - eps
                    lm = loss()
                    arr[h] = old
                    fd[h] = (lp - lm) / (2 * eps)
                assert np.max(np.abs(fd)) > 0, (l, key, end)
                err = np.max(np.abs(g[:, j] - fd)) / np.max(np.abs(fd))
                assert err < 1e-5, (l, key, end, err)


def test_ste_gradient_is_identity_inside_the_range_and_zero_where_clipped():
    v = np.linspace(-3, 3, 601)
    lo, hi = -1.25, 2.0
    q, m = s4d.FakeQuant()(v, lo, hi, 4)
    inside = (v >= lo) & (v <= hi)
    np.testing.assert_array_equal(m, inside.astype(float))
    np.testing.assert_array_equal(s4d.ste_mask(v, lo, hi), m)
    # the surrogate the STE differentiates is clip(v): its slope is the mask (away from the two corners)
    eps = 1e-7
    slope = (s4d.FakeQuant("clip")(v + eps, lo, hi, 4)[0] - s4d.FakeQuant("clip")(v - eps, lo, hi, 4)[0]) / (2 * eps)
    away = (np.abs(v - lo) > 1e-3) & (np.abs(v - hi) > 1e-3)
    np.testing.assert_allclose(slope[away], m[away], atol=1e-6)
    assert np.all(q[v < lo] == lo) and np.all(q[v > hi] == hi)


# ------------------------------------------------------------------ quantizer


def test_32_bit_quantizers_reproduce_the_float_model():
    net = _model(h=4, n_state=6)
    u, _ = _data(n=6, t=64)
    ranges = s4d.calibrate(net, u)
    spec = s4d.QuantSpec(32, 32, 32, "trained")
    q = s4d.forward_rec(net, u, spec, ranges)[0]
    f = s4d.forward_conv(net, u)[0]
    assert np.max(np.abs(q - f)) <= 1e-5 * np.max(np.abs(f))
    coarse = s4d.forward_rec(net, u, s4d.QuantSpec(4, 4, 4), ranges)[0]
    assert np.max(np.abs(coarse - f)) > 1e-3 * np.max(np.abs(f))  # and fewer bits do change the outputs


@pytest.mark.parametrize("bits", [2, 4, 6, 8])
def test_per_head_quantizer_has_exactly_2_to_the_b_levels_including_min_and_max(bits):
    rng = np.random.default_rng(bits)
    heads = np.array([[-0.3, 2.0], [0.9, 0.999], [-50.0, 12.5]])  # per-head (min, max)
    v = heads[:, :1] + (heads[:, 1:] - heads[:, :1]) * np.sort(rng.random((3, 20000)), axis=1)
    v[:, 0], v[:, -1] = heads[:, 0], heads[:, 1]
    lo, hi = v.min(axis=1, keepdims=True), v.max(axis=1, keepdims=True)
    q = s4d.quantize(v, lo, hi, bits)
    for h in range(3):
        levels = np.unique(q[h])
        assert len(levels) == 2**bits
        assert levels[0] == heads[h, 0] and levels[-1] == heads[h, 1]
        np.testing.assert_allclose(np.diff(levels), (heads[h, 1] - heads[h, 0]) / (2**bits - 1), rtol=1e-9)
        assert np.max(np.abs(q[h] - v[h])) <= 0.5 * (heads[h, 1] - heads[h, 0]) / (2**bits - 1) * (1 + 1e-9)


def test_complex_parameters_quantize_real_and_imaginary_parts_per_head():
    net = _model(h=3, n_state=16)
    a_bar = net.discretize(0)["A_bar"]
    q = s4d._q_complex_head(s4d.FakeQuant(), a_bar, 2)
    for h in range(3):
        for part, qp in ((a_bar.real, q.real), (a_bar.imag, q.imag)):
            assert set(np.unique(qp[h])) <= set(np.linspace(part[h].min(), part[h].max(), 4))
            assert qp[h].min() == part[h].min() and qp[h].max() == part[h].max()


def test_memory_count_matches_the_model_arrays():
    net = _model(h=5, n_state=6, n_layers=2)
    n_w = net.enc["W"].size + net.out["W"].size + sum(
        b[k].size for b in net.blk for k in ("B_re", "B_im", "C_re", "C_im", "D", "W"))
    n_bias = net.enc["b"].size + net.out["b"].size + sum(b["b"].size for b in net.blk)
    n_abar = sum(2 * s["A_im"].size for s in net.ssm)
    mem = s4d.memory_bits(5, 6, 2, 4, w_bits=4, ax_bits=8)
    assert mem["counts"] == {"weights": n_w, "a_bar": n_abar, "state": n_abar, "biases": n_bias}
    assert mem["quantized_bits"] == 4 * n_w + 8 * 2 * n_abar + 32 * n_bias
    assert mem["float_bits"] == 32 * (n_w + 2 * n_abar + n_bias)
    assert s4d.memory_bits(5, 6, 2, 4, 32, 32)["saved"] == 0.0


def test_bad_input_raises_usage_error():
    with pytest.raises(UsageError):
        s4d.quantize(np.zeros(3), 0.0, 1.0, 0)
    with pytest.raises(UsageError):
        s4d.QuantSpec(a_bar="learned")
    with pytest.raises(UsageError):
        s4d.forward_rec(_model(), np.zeros((2, 5)), s4d.QuantSpec(4, 6, 8))  # no ranges
    with pytest.raises(UsageError):
        s4d.forward_conv(_model(), np.zeros(5))
    with pytest.raises(UsageError):
        s4d.S4DNet(4, 5, 1, 10, np.random.default_rng(0))  # odd state size


# ------------------------------------------------------------------ calibration


def _group_values(net: s4d.S4DNet, u: np.ndarray) -> dict[str, np.ndarray]:
    """Every value reaching each quantizer group of a float recurrent run, gathered independently: key -> (n, k)."""
    _, c = s4d.forward_rec(net, u)
    out = {"u": c["enc"]["u"].reshape(-1, 1), "pool": c["out"]["pool"]}
    for l, b in enumerate(c["blocks"]):
        out[f"{l}s"], out[f"{l}g"], out[f"{l}o"] = (v.reshape(-1, net.h) for v in (b["z_in"], b["post"]["g"],
                                                                                  b["post"]["o"]))
        v = b["v"]  # (T, B, H, P) complex
        for part, name in ((v.real, "x_re"), (v.imag, "x_im")):  # head h: values over (t, sample, mode)
            out[f"{l}{name}"] = np.clip(np.moveaxis(part, 2, -1).reshape(-1, net.h), -50, 50)
    return out


def _flat_ranges(r: dict, n_layers: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {"u": tuple(np.atleast_1d(v) for v in r["u"]), "pool": r["pool"]}
    for l in range(n_layers):
        out.update({f"{l}{k}": r["blocks"][l][k] for k in ("s", "g", "o", "x_re", "x_im")})
    return out


@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_calibration_ranges_are_the_min_max_or_percentiles_of_each_group(method):
    net = _model(h=3, n_state=4)
    u, _ = _data(n=7, t=20)
    u[0, 3] = 500.0  # drives some states beyond the +-50 state clip
    vals = _group_values(net, u)
    assert max(np.abs(vals["0x_re"]).max(), np.abs(vals["0x_im"]).max()) == 50.0  # the clip acts
    r = _flat_ranges(s4d.calibrate(net, u, chunk=3, method=method, pct=99.0), net.n_layers)
    assert set(r) == set(vals)
    for k, v in vals.items():
        lo, hi = (v.min(axis=0), v.max(axis=0)) if method == "minmax" else (np.percentile(v, 1.0, axis=0),
                                                                             np.percentile(v, 99.0, axis=0))
        np.testing.assert_allclose(r[k][0], lo, rtol=1e-12, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(r[k][1], hi, rtol=1e-12, atol=1e-12, err_msg=k)


def test_mse_calibration_picks_the_candidate_with_the_least_quantization_error():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5000, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -3.0]
    x[:3, 0] = [8.0, -7.0, 9.0]  # rare outliers in group 0 only
    x[:, 2] = rng.uniform(-4.0, -2.0, 5000)  # group 2 uniform: little to gain from clipping
    bits = 4
    lo, hi = s4d._group_range(x, "mse", 99.9, bits)
    xs = np.sort(x, axis=0)
    for j in range(3):
        def err(a, b, j=j):
            return np.mean((s4d.quantize(x[:, j], a, b, bits) - x[:, j]) ** 2)
        cands = [(xs[round(f * 4999), j], xs[4999 - round(f * 4999), j]) for f in s4d.MSE_TAILS]
        assert (lo[j], hi[j]) in cands
        assert err(lo[j], hi[j]) <= min(err(a, b) for a, b in cands) * (1 + 1e-9)
    assert hi[0] - lo[0] < 0.6 * (xs[-1, 0] - xs[0, 0])  # the outliers are clipped away
    assert hi[2] - lo[2] > 0.9 * (xs[-1, 2] - xs[0, 2])  # a uniform group clips a few % at most
    lo_n, hi_n = s4d._group_range(x, "mse", 99.9, None)  # no target bits: min/max
    np.testing.assert_array_equal(lo_n, xs[0])
    np.testing.assert_array_equal(hi_n, xs[-1])
    with pytest.raises(UsageError):
        s4d.calibrate(_model(), _data()[0], method="lsq")


def test_mse_calibration_lowers_the_state_quantization_error_at_its_target_bits():
    net = _model(h=3, n_state=4)
    u, _ = _data(n=20, t=30)
    spec = s4d.QuantSpec(4, 6, 4)
    vals = _group_values(net, u)
    mse = _flat_ranges(s4d.calibrate(net, u, method="mse", target=spec), net.n_layers)
    mm = _flat_ranges(s4d.calibrate(net, u), net.n_layers)
    for k in ("0x_re", "1x_im", "0g", "1o"):
        b = 4 if "x" in k else 6
        e = [np.mean((s4d.quantize(vals[k], r[k][0], r[k][1], b) - vals[k]) ** 2, axis=0) for r in (mse, mm)]
        assert np.all(e[0] <= e[1] * (1 + 1e-9)), k


def test_qat_learns_the_state_ranges_only_when_asked():
    u, y = _data(n=20, t=12)
    spec = s4d.QuantSpec(4, 6, 4, "trained")
    runs = {}
    for rlr in (None, 1e-2):
        net = _model()
        r = s4d.train_qat(net, u, y, u, spec, 2, 10, 1e-3, 1e-3, np.random.default_rng(0), range_lr=rlr)
        cal = s4d.calibrate(net, u, method="minmax", target=spec)
        runs[rlr] = (r, cal)
    for rlr, (r, cal) in runs.items():
        for b, c in zip(r["blocks"], cal["blocks"], strict=True):
            np.testing.assert_array_equal(b["g"][0], c["g"][0])  # activations: re-calibrated in both cases
            same = all(np.array_equal(b[k][i], c[k][i]) for k in ("x_re", "x_im") for i in (0, 1))
            assert same == (rlr is None)  # the state: calibrated, or learned
            for k in ("x_re", "x_im"):
                assert np.all(b[k][1] > b[k][0]) and np.all(np.abs(b[k]) <= 50.0)


# ------------------------------------------------------------------ quick run


@pytest.mark.slow  # three quick runs, ~27 s: make test-slow
def test_quick_run_is_deterministic_and_seed_dependent(tmp_path):
    hw = HardwareModel.from_curves(None, **s4d.STUDY.hw_options)
    m1, rows1, files = s4d.runner(hw, s4d.QUICK, 0, tmp_path / "a")
    m2, rows2, _ = s4d.runner(hw, s4d.QUICK, 0, tmp_path / "b")
    m3, _, _ = s4d.runner(hw, s4d.QUICK, 1, tmp_path / "c")
    assert json.dumps(m1, sort_keys=True) == json.dumps(m2, sort_keys=True) and rows1 == rows2
    assert m1["float"]["values"] != m3["float"]["values"]
    assert len(m1["float"]["values"]) == s4d.QUICK.n_seeds >= 3
    assert m1["float"]["mean"] > 0.3  # it learns (10 classes: chance is 0.1)
    assert all(p.endswith(".png") for p in files) and (tmp_path / "a" / "s4d_quantization.png").is_file()
    assert {r["metric"] for r in rows1} >= {"float accuracy (convolution = recurrent mode)"}
    for b in s4d.QUICK.ax_bits:
        assert 0 <= m1[f"ptq/ax={b}"]["mean"] <= 1
        for o in s4d.A_BAR_OPTIONS:
            assert 0 <= m1[f"qat_{o}/ax={b}"]["mean"] <= 1
    json.dumps(m1)  # JSON-serialisable, as is the configuration
    json.dumps(dataclasses.asdict(s4d.QUICK)), json.dumps(dataclasses.asdict(s4d.Config()))
    assert s4d.STUDY.name == "s4d" and s4d.STUDY.uses == () and s4d.STUDY.hw_options == {} and s4d.STUDY.doc
