"""pcm-trace experiment: trace from the drift curve, power-law decay, step sampler, reward rule, quick run.

Expectations are computed here from the analytic drift law, from the curve
data themselves and by hand from the rule's definition.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pycircuits.errors import UsageError
from pycircuits.extract.curve import TransferCurve
from pycircuits.extract.measures import fit_power_law
from pycircuits.network.hardware import HardwareModel
from pycircuits.studies import pcm_trace as pt

T0 = 38.6
US = 1e-6


def drift_curve(nu: float | list[float]) -> TransferCurve:
    """A pcm-drift curve y = ((x + t0)/t0)^-nu (several nu: one Monte Carlo column each)."""
    x = np.arange(1.0, 100.0)
    cols = np.stack([((x + T0) / T0) ** -n for n in np.atleast_1d(nu)], axis=1)
    kw = {"x_name": "t - t_p", "y_name": "G/G_p", "extra": {"t0_s": T0}}
    if cols.shape[1] == 1:
        return TransferCurve("pcm-drift", x, "s", cols[:, 0], "1", **kw)
    return TransferCurve.from_samples("pcm-drift", x, cols, "s", "1", **kw)


def flat_step_curve(step_s: float = 1.5 * US, slope: float = -0.1) -> TransferCurve:
    """Deterministic step model (no spread): step = step_s + slope * G, on a grid from G = 0."""
    g = np.linspace(0.0, 12.0, 13) * US
    return TransferCurve("pcm-step", g, "S", step_s + slope * g, "S")


def single_pulse_trace(law: pt.DriftLaw, sampler: pt.StepSampler, t: np.ndarray) -> np.ndarray:
    """Noise-free differential read of one synapse whose e+ got one SET at t = 0 (RESET at t = 0)."""
    trace = pt.PcmTrace((1, 1), law, sampler, np.random.default_rng(0), read_noise=False)
    trace.reset(0.0)
    trace.pulse(np.array([1, 0]).reshape(2, 1, 1), 0.0)
    return np.array([trace.read(tk)[0, 0] for tk in t])


def test_trace_exponent_comes_from_the_curve_file(tmp_path):
    t = np.geomspace(0.5, 3000.0, 40)
    reads = {}
    for nu in (0.05, 0.1):
        folder = tmp_path / f"nu{nu}"
        folder.mkdir()
        drift_curve(nu).to_json(folder / "pcm-drift.json")
        law, sampler, src = pt.load_models(HardwareModel.from_curves(folder))
        assert src["pcm-drift"] == f"curve {folder}/pcm-drift.json"
        assert src["pcm-step"].startswith("fallback")
        reads[nu] = single_pulse_trace(law, sampler, t)
        fitted = -fit_power_law(t + T0, reads[nu]).exponent  # independent log-log fit of the simulated read
        assert fitted == pytest.approx(nu, rel=0.01)
        assert law.nu == pytest.approx(nu, rel=1e-9) and np.allclose(law.nu_devices, nu)
    assert reads[0.05][-1] / reads[0.05][0] > reads[0.1][-1] / reads[0.1][0] + 0.1  # the traces differ
    # no curve: the published fallback nu = 0.1, recorded as the source
    law, _, src = pt.load_models(HardwareModel.from_curves(None))
    assert src["pcm-drift"].startswith("fallback") and law.nu == pytest.approx(0.1, rel=1e-9)


def test_device_spread_of_nu_is_fitted_from_the_curve_samples():
    nus = [0.07, 0.09, 0.1, 0.11, 0.13]
    law = pt.DriftLaw.from_curve(drift_curve(nus), "test")
    np.testing.assert_allclose(law.nu_devices, nus, rtol=1e-9)
    assert law.nu == pytest.approx(0.1, rel=1e-9)  # the median column
    drawn = law.draw_nu((2000,), np.random.default_rng(1))
    assert set(np.round(drawn, 12)) == set(np.round(nus, 12))


def test_trace_decays_by_power_law_not_exponential():
    law = pt.DriftLaw.from_curve(drift_curve(0.1), "test")
    sampler = pt.StepSampler(flat_step_curve())
    t = np.linspace(0.0, 1000.0, 1001)
    e = single_pulse_trace(law, sampler, t)
    analytic = e[0] * ((t + T0) / T0) ** -0.1
    np.testing.assert_allclose(e, analytic, rtol=1e-12)  # the drift law, extrapolated beyond 99 s
    early = t <= 100.0  # first 10 % of the time span
    slope, icpt = np.polyfit(t[early], np.log(e[early]), 1)
    predicted = np.exp(icpt + slope * t[-1])
    assert predicted < 0.5 * e[-1]  # an exponential from the early trace forgets far too fast
    # the read is linear in G: (G+ - G-)/g_ref with G+ = G_reset + one step
    g_ref = float(sampler.median(pt.G_RESET_S))
    assert g_ref == pytest.approx(1.5 * US - 0.1 * pt.G_RESET_S, rel=1e-12)
    assert e[0] == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("k", [1, 4, 8])
def test_step_sampler_reproduces_curve_median_and_spread(k):
    curve = pt.fallback_step_curve()
    sampler = pt.StepSampler(curve)
    row = curve.samples[k][np.isfinite(curve.samples[k])]
    g = np.full(40000, curve.x[k])
    draws = sampler(g, np.random.default_rng(k))
    spread = np.percentile(row, 95) - np.percentile(row, 5)
    assert np.median(draws) == pytest.approx(np.median(row), abs=0.03 * spread)
    for q in (5, 25, 75, 95):
        assert np.percentile(draws, q) == pytest.approx(np.percentile(row, q), abs=0.03 * spread)
    assert np.std(draws) == pytest.approx(np.std(row), rel=0.05)


def test_step_sampler_from_percentile_bands_and_between_grid_points():
    g = np.linspace(0.5, 11.5, 12) * US
    med = (2.0 - 0.15 * g / US) * US
    sd = (1.0 + 0.05 * g / US) * US
    z95, z75 = 1.6448536269514722, 0.6744897501960817
    bands = {5: med - z95 * sd, 25: med - z75 * sd, 75: med + z75 * sd, 95: med + z95 * sd}
    sampler = pt.StepSampler(TransferCurve("pcm-step", g, "S", med, "S", bands))
    for gq in (g[2], 0.5 * (g[5] + g[6])):  # on a grid point and half-way between two
        draws = sampler(np.full(40000, gq), np.random.default_rng(3))
        m_ref = (2.0 - 0.15 * gq / US) * US  # linear in G, so interpolation is exact
        s_ref = (1.0 + 0.05 * gq / US) * US
        assert np.median(draws) == pytest.approx(m_ref, abs=0.03 * s_ref)
        assert np.std(draws) == pytest.approx(s_ref, rel=0.05)


def hand_update(g_before: np.ndarray, e: np.ndarray, m: float, eta: float, amp_max: float) -> np.ndarray:
    """Expected conductances (2, ...) after the rule, by explicit loops over synapses."""
    out = g_before.copy()
    for idx in np.ndindex(*e.shape):
        drive = m * e[idx]
        if drive == 0:
            continue
        side = 0 if drive > 0 else 1
        amp = min(eta * abs(drive), amp_max)
        g = g_before[(side, *idx)]
        out[(side, *idx)] = g + amp * (1.5 * US - 0.1 * g)
    return out


@pytest.mark.parametrize("m", [0.8, -0.8])
def test_reward_moves_weight_pair_in_right_direction(m):
    sampler = pt.StepSampler(flat_step_curve())
    w = pt.PcmPairs((2, 2), 0.0, T0, read_noise=False)
    w.g_p[:] = np.array([[[1.0, 2.0], [0.5, 3.0]], [[1.5, 0.2], [2.0, 1.0]]]) * US
    e = np.array([[1.5, -0.7], [0.0, 4.0]])
    before = w.g(10.0)
    amp = pt.reward_update(w, e, m, eta=0.5, amp_max=1.0, t_s=10.0, sampler=sampler, rng=np.random.default_rng(0))
    after = w.g(10.0)
    np.testing.assert_allclose(after, hand_update(before, e, m, 0.5, 1.0), rtol=1e-12, atol=0)
    assert amp.max() == 1.0  # 0.5 * 0.8 * 4 = 1.6 clipped at amp_max
    dw = (after[0] - after[1]) - (before[0] - before[1])
    np.testing.assert_array_equal(np.sign(dw), np.sign(m * e))


@pytest.mark.parametrize("r", [1.0, -1.0])
def test_winner_and_loser_traces_move_their_weights_with_the_reward(r):
    # input 0 spiked; output 0 won (e+ SET), output 1 lost (e- SET); a reward 20 s later
    law = pt.DriftLaw.from_curve(drift_curve(0.1), "test")
    sampler = pt.StepSampler(flat_step_curve())
    trace = pt.PcmTrace((1, 2), law, sampler, np.random.default_rng(0), read_noise=False)
    trace.reset(0.0)
    trace.pulse(np.array([[[1, 0]], [[0, 1]]]), 0.0)
    e = trace.read(20.0)
    drifted = ((20.0 + T0) / T0) ** -0.1
    np.testing.assert_allclose(e, [[drifted, -drifted]], rtol=1e-12)  # (G+ - G-)/g_ref, both cells drifting
    w = pt.PcmPairs((1, 2), 0.0, T0, read_noise=False)
    before = w.g(20.0)
    pt.reward_update(w, e, r, eta=0.5, amp_max=2.0, t_s=20.0, sampler=sampler, rng=np.random.default_rng(0))
    dw = (w.g(20.0)[0] - w.g(20.0)[1]) - (before[0] - before[1])
    step = 0.5 * drifted * (1.5 * US - 0.1 * pt.G_RESET_S)  # one SET of strength eta |r e| from RESET
    np.testing.assert_allclose(dw, [[r * step, -r * step]], rtol=1e-12)


def test_refresh_keeps_the_difference_and_resets_the_pair():
    w = pt.PcmPairs((3,), 0.0, T0, read_noise=False)
    w.g_p[:] = np.array([[6.0, 2.0, 3.0], [4.0, 5.5, 1.0]]) * US
    w.refresh(1.0)
    np.testing.assert_allclose(w.g(1.0)[0] - w.g(1.0)[1], np.array([2.0, -3.5, 2.0]) * US, rtol=1e-12)
    assert w.g(1.0)[:, :2].min() == pytest.approx(pt.G_RESET_S)  # refreshed pairs: one cell at RESET
    np.testing.assert_allclose(w.g(1.0)[:, 2], np.array([3.0, 1.0]) * US)  # below G_refresh: untouched


def test_bad_input_is_a_usage_error():
    with pytest.raises(UsageError):
        pt.runner(HardwareModel.from_curves(None), pt.Config(final_block=0), 0, None)
    law, sampler, _ = pt.load_models(None)
    with pytest.raises(UsageError):
        pt.run_learner("spring", 1.0, pt.QUICK, law, sampler, 0)


def _quick(tmp_path, seed, curves=None):
    hw = HardwareModel.from_curves(curves, **pt.STUDY.hw_options)
    metrics, rows, files = pt.runner(hw, pt.QUICK, seed, tmp_path / f"s{seed}")
    assert files and all(f.endswith(".png") for f in files)
    return json.dumps(metrics, sort_keys=True), metrics, rows


def test_quick_mode_is_deterministic_and_seed_dependent(tmp_path):
    a, metrics, rows = _quick(tmp_path, 0)
    b, _, _ = _quick(tmp_path, 0)
    c, _, _ = _quick(tmp_path, 1)
    assert a == b
    assert a != c
    assert metrics["curves"]["pcm-drift"].startswith("fallback")
    for k in pt.TRACES:
        for d in pt.QUICK.delays_s:
            s = metrics[f"{k}/accuracy/D={d:g}s"]
            assert len(s["values"]) == pt.QUICK.n_seeds and 0 <= s["mean"] <= 1
    assert any(r["published"] == pt.AREA_PUBLISHED for r in rows)
