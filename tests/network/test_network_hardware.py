"""Mapping trained networks onto simulated chips through TransferCurves."""

from __future__ import annotations

import numpy as np
import pytest

from pycircuits.extract.curve import TransferCurve
from pycircuits.network.hardware import (
    DENRAM_C_DELAY_F,
    DENRAM_R_HRS_OHM,
    DENRAM_R_HRS_SIGMA,
    HardwareModel,
    chip_seeds,
    fallback_delay_curve,
)
from pycircuits.network.layers import LIF, DelayedDense, Dense, LeakyIntegrator, RecurrentLIF
from pycircuits.network.tasks import delay_pattern
from pycircuits.network.training import Sequential, evaluate, predict, train

DT = 0.005  # s


def _quadratic_delay_curve(sigma: float = 0.0, n_samples: int = 0) -> TransferCurve:
    """Synthetic monotone, curved delay law: delay = 2 ms + 0.5 s * (x/10 kOhm)^2."""
    x = np.linspace(1e3, 1e4, 19)  # Ohm
    y = 2e-3 + 0.5 * (x / 1e4) ** 2  # s
    if n_samples == 0:
        return TransferCurve("synthetic-delay", x, "Ohm", y, "s")
    z = np.random.default_rng(7).standard_normal(n_samples)
    samples = y[:, None] * np.exp(sigma * z)[None, :]
    return TransferCurve.from_samples("synthetic-delay", x, samples, "Ohm", "s")


def _trained_denram(noise: float = 0.0) -> tuple[Sequential, tuple[np.ndarray, ...]]:
    x, y = delay_pattern(192, 6, 6, seed=1)
    xt, yt = delay_pattern(96, 6, 6, seed=2)
    delays = np.random.default_rng(0).integers(0, 41, (6, 16))
    model = Sequential(
        [
            DelayedDense(6, 6, delays, rng=1, init_scale=0.1, weight_noise=noise),
            LeakyIntegrator(6, 0.02, DT, clip_nonneg=True, readout="max"),
        ]
    )
    train(model, x, y, epochs=4, batch_size=32, lr=0.01, rng=0)
    return model, (x, y, xt, yt)


def _small_lif_net() -> Sequential:
    return Sequential(
        [
            RecurrentLIF(6, 12, 0.05, DT, rng=1, init_scale_in=1.0),
            Dense(12, 8, rng=2),
            LIF(8, np.linspace(0.02, 0.2, 8), DT, trainable_tau=True),
            Dense(8, 3, rng=3),
            LeakyIntegrator(3, 0.05, DT, readout="max"),
        ]
    )


def test_ideal_mapping_reproduces_the_ideal_network_exactly():
    model, (_, _, xt, yt) = _trained_denram(noise=0.1)
    ideal = HardwareModel.ideal()
    chips = chip_seeds(3, 3)
    accs = ideal.evaluate(model, xt, yt, chips, DT)
    assert np.all(accs == evaluate(model, xt, yt))
    mapped = ideal.map_network(model, chips[0], DT)
    np.testing.assert_array_equal(predict(mapped, xt), predict(model, xt))
    lif_net = _small_lif_net()
    np.testing.assert_array_equal(predict(ideal.map_network(lif_net, 5, DT), xt), predict(lif_net, xt))


def test_mapping_leaves_the_trained_model_untouched_and_switches_off_forward_noise():
    model, _ = _trained_denram(noise=0.1)
    w = model.layers[0].params["W"].copy()
    mapped = HardwareModel.from_curves(None, weight_noise=0.2).map_network(model, 0, DT)
    np.testing.assert_array_equal(model.layers[0].params["W"], w)
    assert model.layers[0].weight_noise == 0.1 and mapped.layers[0].weight_noise == 0.0


@pytest.mark.parametrize("curve", [_quadratic_delay_curve(), fallback_delay_curve()], ids=["quadratic", "denram"])
def test_delay_mapping_without_variability_lands_within_one_step(curve):
    hw = HardwareModel(delay_curve=curve, delay_spread=False)
    lo, hi = float(curve.y.min()), float(curve.y.max())
    target = np.arange(int(np.ceil(lo / DT)), int(hi / DT) + 1).reshape(-1, 1)  # steps inside the curve
    mapped = hw.map_delays(target, DT, rng=0)
    assert mapped.shape == target.shape and mapped.dtype == np.int64
    assert np.max(np.abs(mapped - target)) <= 1
    np.testing.assert_array_equal(mapped, target)  # inverse then forward is exact to rounding


def test_delays_are_clipped_to_the_representable_range():
    hw = HardwareModel.from_curves(None).replace(delay_spread=False)
    mapped = hw.map_delays(np.array([[0, 1, 250, 400]]), DT, rng=0)
    np.testing.assert_array_equal(mapped, [[0, 1, 200, 200]])  # DenRAM: 0-1 s at 5 ms


def test_spread_of_mapped_delays_matches_the_curve_spread():
    sigma = 0.2
    curve = _quadratic_delay_curve(sigma, n_samples=400)
    hw = HardwareModel(delay_curve=curve)
    target_steps = 30  # 0.15 s at 5 ms
    dt_fine = 1e-5  # s: rounding negligible against the spread
    mapped = hw.map_delays(np.full(20000, int(target_steps * DT / dt_fine)), dt_fine, rng=1) * dt_fine
    log_ratio = np.log(mapped / (target_steps * DT))
    assert abs(np.std(log_ratio) - sigma) < 0.02
    assert abs(np.median(log_ratio)) < 0.02


def test_fallback_delays_follow_the_published_denram_model():
    hw = HardwareModel.from_curves(None)
    assert "fallback" in hw.sources["delay"]
    d = hw.draw_delays((200, 16), DT, rng=0)
    assert d.min() >= 0 and d.max() <= 200  # 0-1 s in 5 ms steps
    median_s = DENRAM_R_HRS_OHM * DENRAM_C_DELAY_F
    assert abs(np.median(d) * DT - median_s) < 0.02
    inside = (d > 0) & (d < 200)
    assert abs(np.std(np.log(d[inside] * DT)) - DENRAM_R_HRS_SIGMA) < 0.04


def test_weights_map_onto_the_allowed_levels_as_differential_pairs():
    w = np.random.default_rng(0).standard_normal((50, 40)).astype(np.float32)
    hw = HardwareModel(weight_levels=16)
    mapped = hw.map_weights(w, rng=0)
    w_max = np.abs(w).max()
    levels = mapped / w_max * 15
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-4)
    assert mapped.dtype == w.dtype and np.all(np.abs(levels) <= 15 + 1e-4)
    assert np.all(np.sign(mapped)[np.abs(w) > w_max / 30] == np.sign(w)[np.abs(w) > w_max / 30])
    assert np.max(np.abs(mapped - w)) <= w_max / 30 * (1 + 1e-5)  # half a level


def test_weight_programming_spread_and_denram_noise_have_their_stated_size():
    w = np.random.default_rng(1).standard_normal((400, 200))
    w_max = np.abs(w).max()
    noisy = HardwareModel(weight_noise=0.1).map_weights(w, rng=2)
    assert abs(np.std(noisy - w) / w_max - 0.1) < 0.005
    spread = HardwareModel(weight_sigma=0.2).map_weights(w, rng=3)
    assert abs(np.std(np.log(spread / w)) - 0.2) < 0.01


def test_weight_curve_gives_levels_their_spread_and_keeps_the_mean():
    x = np.geomspace(1e4, 1e6, 21)  # Ohm
    charge = 1e-12 * 1e4 / x  # C, EPSC ~ 1/R
    samples = charge[:, None] * np.exp(0.05 * np.random.default_rng(0).standard_normal(300))[None, :]
    curve = TransferCurve.from_samples("denram-weight", x, samples, "Ohm", "C")
    w = np.tile(np.linspace(-1, 1, 9), (4000, 1))
    mapped = HardwareModel(weight_levels=9, weight_curve=curve).map_weights(w, rng=4)
    np.testing.assert_allclose(mapped.mean(axis=0), np.linspace(-1, 1, 9), atol=0.03)
    rel = np.std(mapped[:, -1]) / np.mean(mapped[:, -1])
    assert 0.03 < rel < 0.07


def test_chips_differ_by_seed_and_are_reproducible():
    hw = HardwareModel.from_curves(None, weight_noise=0.1, tau_sigma=0.3, vth_sigma=0.2)
    model = _small_lif_net()
    a, b = chip_seeds(0, 2)
    first, again = hw.map_network(model, a, DT), hw.map_network(model, chip_seeds(0, 2)[0], DT)
    other = hw.map_network(model, b, DT)
    for i in (0, 1, 2):
        for name, p in first.layers[i].params.items():
            np.testing.assert_array_equal(p, again.layers[i].params[name])
            assert not np.array_equal(p, other.layers[i].params[name])
    np.testing.assert_array_equal(first.layers[0].v_th, again.layers[0].v_th)
    assert not np.array_equal(first.layers[0].tau, other.layers[0].tau)
    assert np.shape(first.layers[0].v_th) == (12,)
    # a chip is a fixed device draw: evaluating it twice gives the same accuracy
    xt, yt = delay_pattern(64, 6, 3, seed=2)
    accs = hw.evaluate(model, xt, yt, [a, a, b], DT)
    assert accs[0] == accs[1]


def test_neuron_heterogeneity_has_the_requested_spread():
    hw = HardwareModel(tau_sigma=0.3, vth_sigma=0.2)
    tau = hw.map_tau(np.full(20000, 0.1), rng=0)
    assert abs(np.std(np.log(tau / 0.1)) - 0.3) < 0.01
    v_th = hw.map_threshold(1.0, 20000, rng=1)
    assert abs(np.std(v_th) - 0.2) < 0.01 and v_th.min() >= 0.1


def test_curves_are_found_by_name_and_reported(tmp_path):
    _quadratic_delay_curve(0.1, n_samples=50).to_json(tmp_path / "denram-delay.json")
    energy = TransferCurve("denram-energy", [1e4, 1e5], "Ohm", [2e-12, 1e-12], "J")
    energy.to_json(tmp_path / "denram-energy.json")
    hw = HardwareModel.from_curves(tmp_path)
    assert str(tmp_path / "denram-delay.json") in hw.sources["delay"]
    assert hw.delay_curve.name == "synthetic-delay" and hw.energy_per_event_j() == pytest.approx(1.5e-12)
    assert hw.sources["weight"].startswith("none") and "relative sigma" in hw.sources["tau"]
    assert HardwareModel.from_curves(None).energy_per_event_j() is None


def test_a_curve_without_monte_carlo_spread_falls_back_to_the_sigma(tmp_path):
    # a deterministic sweep (no samples, no percentiles) says nothing of device spread
    TransferCurve("memstack-tau", [0.6, 1.0, 1.5], "V", [6e-6, 2e-5, 5e-5], "s").to_json(tmp_path / "memstack-tau.json")
    hw = HardwareModel.from_curves(tmp_path, tau_sigma=0.3)
    assert hw.tau_curve is None and "has no Monte Carlo spread" in hw.sources["tau"]
    tau = hw.map_tau(np.full(20000, 0.1), rng=0)
    assert abs(np.std(np.log(tau / 0.1)) - 0.3) < 0.01
    # with a Monte Carlo band the curve's own spread is used
    band = {5: np.array([5e-6, 1.5e-5, 4e-5]), 95: np.array([7e-6, 2.5e-5, 6e-5])}
    TransferCurve("memstack-tau", [0.6, 1.0, 1.5], "V", [6e-6, 2e-5, 5e-5], "s", band).to_json(
        tmp_path / "memstack-tau.json")
    hw = HardwareModel.from_curves(tmp_path, tau_sigma=0.3)
    assert hw.tau_curve is not None and "relative spread" in hw.sources["tau"]
    assert HardwareModel.from_curves(None).sources["energy"] == "no energy curve"


# The sparse paths the hardware experiments and benchmarks rely on (layers.py
# "events"); these belong with tests/test_network_layers.py.


def test_dense_events_path_equals_the_dense_path_exactly():
    from pycircuits.network.layers import Dense as DenseLayer

    rng = np.random.default_rng(9)
    x = (rng.random((3, 20, 30)) < 0.05).astype(np.float64)
    w = rng.integers(-64, 65, (30, 4)) / 64.0  # exact in float64: any summation order agrees
    g = rng.integers(-64, 65, (3, 20, 4)) / 64.0
    outs = []
    for method in ("dense", "events", "auto"):
        layer = DenseLayer(30, 4, method=method, bias=True, dtype=np.float64)
        layer.params["W"][...] = w
        outs.append((layer.forward(x), layer.backward(g), layer.grads["W"].copy(), layer.grads["b"].copy()))
    for other in outs[1:]:
        for a, b in zip(outs[0], other, strict=True):
            np.testing.assert_array_equal(a, b)
    empty = DenseLayer(30, 4, method="events", dtype=np.float64)
    assert np.all(empty.forward(np.zeros((2, 5, 30))) == 0)


def test_a_non_monotone_delay_curve_is_refused_in_one_line(tmp_path):
    from pycircuits.errors import UsageError

    TransferCurve("denram-delay", [1.0, 2.0, 3.0], "Ohm", [0.1, 0.3, 0.2], "s").to_json(tmp_path / "denram-delay.json")
    with pytest.raises(UsageError, match="not monotone"):
        HardwareModel.from_curves(tmp_path)


def test_a_spice_delay_curve_in_microseconds_is_scaled_to_the_network_range(tmp_path):
    r = np.geomspace(1e5, 1e7, 9)  # Ohm: the default denram-delay sweep
    delay = r * 1e-12 * np.log(2)  # s: 69 ns - 6.9 us with 1 pF
    spread = np.exp(0.1 * np.random.default_rng(0).standard_normal(200))
    TransferCurve.from_samples("denram-delay", r, delay[:, None] * spread, "Ohm", "s").to_json(
        tmp_path / "denram-delay.json"
    )
    hw = HardwareModel.from_curves(tmp_path)
    assert hw.max_delay_s == pytest.approx(1.0) and "x1.44e+05" in hw.sources["delay"]
    d = hw.draw_delays(5000, DT, rng=0)
    assert abs(np.median(d) * DT - 0.5) < 0.02  # nominal: the middle of the range
    assert abs(np.std(np.log(d * DT)) - 0.1) < 0.02  # the curve's own spread
    exact = hw.replace(delay_spread=False)
    target = np.arange(2, 201).reshape(1, -1)  # 10 ms - 1 s: inside the scaled range
    np.testing.assert_array_equal(exact.map_delays(target, DT, rng=0), target)
