"""The ``mingru`` experiment: QAT gradients, quantizers, the twin contract, circuit replay, quick run."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from pycircuits.errors import UsageError
from pycircuits.network.hardware import HardwareModel
from pycircuits.studies import mingru as mq
from pycircuits.studies.metaplastic import digits_task
from pycircuits.twins.mingru import Quantization, mingru_reference

from marks import requires_ngspice

Q = Quantization(gate_slope=2.0)


def _small_model(seed: int = 0, beta: float = 4.0) -> mq.HardMinGRU:
    rng = np.random.default_rng(seed)
    m = mq.HardMinGRU(8, 3, 4, rng, Q, beta)
    # a few latent parameters outside their quantizer ranges (flat region of the clips)
    m.p["w_z"][0, 0], m.p["w_h"][1, 2], m.p["b_h"][2], m.p["theta"][1] = 1.4, -1.3, 1.2, -0.95
    m.p["theta"][[0, 2]] = [0.02, -0.05]
    return m


def _finite_difference(m: mq.HardMinGRU, x, labels, mode, noise, eps=1e-6) -> dict[str, np.ndarray]:
    num = {}
    for name, arr in m.p.items():
        g = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + eps
            lp = m.loss(x, labels, mode, noise)
            arr[i] = old - eps
            lm = m.loss(x, labels, mode, noise)
            arr[i] = old
            g[i] = (lp - lm) / (2 * eps)
        num[name] = g
    return num


@pytest.mark.parametrize("mode,with_noise", [("surrogate", False), ("surrogate", True), ("float", False)])
def test_bptt_gradients_match_central_differences_of_the_surrogate_network(mode, with_noise):
    m = _small_model()
    rng = np.random.default_rng(1)
    x = (rng.random((6, 4, 8)) < 0.5).astype(float)
    labels = rng.integers(0, 10, 6)
    noise = rng.normal(0.0, 0.05, (6, 4, 3)) if with_noise else None
    m.loss_and_grads(x, labels, mode, noise)
    ana = {k: v.copy() for k, v in m.g.items()}
    num = _finite_difference(m, x, labels, mode, noise)
    for name in m.p:
        scale = max(np.abs(num[name]).max(), 1e-3)
        assert np.abs(ana[name] - num[name]).max() <= 1e-6 * scale + 1e-9, name
        assert ana[name].dtype == np.float64
    # the out-of-range latent parameters get exactly zero gradient, the others not all zero
    assert ana["w_z"][0, 0] == 0.0 and ana["w_h"][1, 2] == 0.0 and ana["b_h"][2] == 0.0
    assert np.count_nonzero(ana["w_z"]) == ana["w_z"].size - 1
    if mode == "float":
        assert np.all(ana["theta"] == 0.0)  # the float model has no comparator
    else:
        assert ana["theta"][1] == 0.0 and np.all(ana["theta"][[0, 2]] != 0.0)


def test_qat_gradients_are_the_surrogate_formulas_at_the_quantized_forward():
    """In qat mode the backward reads the quantized forward: zero where any STE clips, same shapes as surrogate."""
    m = _small_model()
    rng = np.random.default_rng(2)
    x = (rng.random((5, 4, 8)) < 0.5).astype(float)
    labels = rng.integers(0, 10, 5)
    m.loss_and_grads(x, labels, "qat")
    assert m.g["w_z"][0, 0] == 0.0 and m.g["w_h"][1, 2] == 0.0 and m.g["b_h"][2] == 0.0 and m.g["theta"][1] == 0.0
    c = m.forward(x, "qat")
    # readout gradient of the qat model: binary features times dlogits, checked independently
    p = np.exp(c["logits"] - c["logits"].max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(5), labels] -= 1
    np.testing.assert_allclose(m.g["v"], np.einsum("bth,bc->thc", c["y"].astype(float), p / 5), rtol=1e-12)


def test_ste_of_each_quantizer_is_identity_inside_and_zero_where_clipped():
    w = np.linspace(-2.0, 2.0, 4001)
    codes, mask = mq.weight_codes(w)
    np.testing.assert_array_equal(mask, (np.abs(w) <= 1.0).astype(float))
    wc = np.clip(w, -1.0, 1.0)
    nearest = np.argmin(np.abs(wc[:, None] - np.asarray(Q.weight_levels)), axis=1)
    midpoint = np.any(np.isclose(wc[:, None], [-2 / 3, 0.0, 2 / 3], rtol=0, atol=1e-12), axis=1)
    assert np.array_equal(codes[~midpoint], nearest[~midpoint])
    b = np.linspace(-1.5, 1.5, 3001)
    bcodes, bmask = mq.bias_codes(b, Q)
    np.testing.assert_array_equal(bmask, (np.abs(b) <= 1.0).astype(float))
    assert bcodes.min() == 0 and bcodes.max() == 63
    assert np.all(np.abs(Q.bias_values(bcodes) - np.clip(b, -1, 1)) <= 0.5 / 31.5 + 1e-12)
    a = np.linspace(-1.0, 1.0, 2001)
    z, dz = mq.gate(a, Q)
    u = 2.0 * a + 0.5
    np.testing.assert_array_equal(dz, np.where((u >= 0) & (u <= 1), 2.0, 0.0))
    np.testing.assert_array_equal(z, Q.gate(a))
    zs, dzs = mq.gate(a, Q, quantized=False)
    np.testing.assert_array_equal(zs, np.clip(u, 0, 1))
    np.testing.assert_array_equal(dzs, dz)
    assert np.abs(z - zs).max() <= 0.5 / 63 + 1e-12  # rounding passed straight through


@pytest.fixture(scope="module")
def trained():
    cfg = mq.QUICK
    xtr, ytr, xte, yte, _ = digits_task(3, 600, 100)
    m = mq.HardMinGRU(8, cfg.n_hidden, 8, np.random.default_rng(4), Quantization(gate_slope=cfg.gate_slope),
                      cfg.beta)
    mq.train_model(m, mq.encode_rows(xtr), ytr, 6, cfg.batch, cfg.lr, np.random.default_rng(5), "qat", 0.5)
    return m, mq.encode_rows(xte), yte


def test_trained_model_forward_equals_mingru_reference_bit_for_bit(trained):
    m, xte, _ = trained
    rng = np.random.default_rng(6)
    w = m.export()
    for x in ((rng.random((50, 8, 8)) < rng.uniform(0.1, 0.9)).astype(float), xte):
        c = m.forward(x, "qat")
        h, y, z = mingru_reference(w, x.astype(np.int64), m.q)
        assert np.array_equal(c["h"], h) and np.array_equal(c["y"], y) and np.array_equal(c["z"], z)
        assert np.array_equal(m.readout(y), m.predict(x, "qat"))
    # one sequence at a time, as the circuit sees it
    h1, y1, _ = mingru_reference(w, xte[0].astype(np.int64), m.q)
    assert np.array_equal(h1, m.forward(xte[:1])["h"][0]) and np.array_equal(y1, m.forward(xte[:1])["y"][0])
    assert 0.0 < np.mean(m.forward(xte)["y"]) < 1.0  # the outputs are not constant


def test_exported_codes_are_in_the_circuits_ranges(trained):
    m = trained[0]
    w = m.export()
    for arr in (w.w_z, w.w_h):
        assert arr.dtype.kind == "i" and arr.min() >= 0 and arr.max() <= 3
    for arr in (w.b_z, w.b_h):
        assert arr.dtype.kind == "i" and arr.min() >= 0 and arr.max() <= 63
    assert np.all(np.abs(w.theta) <= 0.9)
    # even latent values far outside the ranges export to valid codes
    m2 = mq.HardMinGRU(8, 4, 8, np.random.default_rng(0), Q)
    m2.p["w_z"][:] = 5.0
    m2.p["w_h"][:] = -5.0
    m2.p["b_z"][:], m2.p["b_h"][:], m2.p["theta"][:] = 3.0, -3.0, 2.0
    e = m2.export()
    assert np.all(e.w_z == 3) and np.all(e.w_h == 0) and np.all(e.b_z == 63) and np.all(e.b_h == 0)
    assert np.all(e.theta == 0.9)
    e.check_biases(Q)


def test_bad_inputs_raise_usage_errors(trained):
    m = trained[0]
    with pytest.raises(UsageError):
        m.forward(np.zeros((2, 8, 7)))
    with pytest.raises(UsageError):
        m.forward(np.full((2, 8, 8), 0.5))
    with pytest.raises(UsageError):
        m.forward(np.zeros((2, 8, 8)), mode="int4")
    with pytest.raises(UsageError):
        mq.encode_rows(np.zeros((3, 63)))


@requires_ngspice
def test_recorded_trace_of_a_trained_quick_model_replays_through_regress_and_passes(trained, tmp_path):
    from pycircuits.regress import load_trace, record_trace, regress, save_trace
    m, xte, _ = trained
    x = xte[1].astype(np.int64)
    trace = record_trace(m.export(), x, m.q, h0=0.0, provenance={"test": "mingru"})
    path = tmp_path / "trace.npz"
    save_trace(path, trace)
    assert np.array_equal(load_trace(path).h, m.forward(xte[1:2])["h"][0])
    rep = regress("scgru", path, tmp_path / "report")
    s = rep.summary()
    assert s["passed"], s
    assert s["max_err_lsb"] <= 2.0 and s["output_agreement"] >= 0.99
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["passed"] is True


@pytest.mark.slow  # three quick runs, ~27 s: make test-slow
def test_quick_mode_runs_is_deterministic_and_depends_on_the_seed(tmp_path):
    hw = HardwareModel.from_curves(None, **mq.STUDY.hw_options)
    m0, rows0, files0 = mq.runner(hw, mq.QUICK, 0, tmp_path / "a")
    m0b, rows0b, _ = mq.runner(hw, mq.QUICK, 0, tmp_path / "b")
    assert json.dumps(m0, sort_keys=True) == json.dumps(m0b, sort_keys=True) and rows0 == rows0b
    m1, _, _ = mq.runner(hw, replace(mq.QUICK, n_replay=0), 1, tmp_path / "c")
    assert m1["acc_qat"]["values"] != m0["acc_qat"]["values"] and m1["weights"] != m0["weights"]
    assert m0["bit_exact_vs_reference"] and len(m0["acc_qat"]["values"]) == 3
    assert all(r["metric"] and r["ours"] for r in rows0)
    assert any(f.endswith("mingru_accuracy.png") for f in files0)
    assert m1["circuit"] == "not run (n_replay = 0)"
    if "circuit" not in m0:  # ngspice present: the replay ran for every seed
        assert len(m0["circuit_passed"]) == 3 and any(f.endswith("mingru_replay.png") for f in files0)
        assert m0["circuit_max_err_lsb"]["mean"] <= 2.0
