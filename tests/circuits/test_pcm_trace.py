"""pcm-trace circuit and the pcm.lib cell: drift law, step model, linear read, reward, CLI errors.

Every expectation is computed here, independently of the netlist, from the
published PCM model (Nandakumar et al. 2018): per SET pulse the step has
mean -0.084*G + 0.88 + 1.40*P uS and std 0.091*G + 0.26 + 2.15*P uS, P is
multiplied by exp(-1/2.6) after each pulse, G is clipped to [0.1, 12] uS
(the lower bound is the model's documented choice: the RESET level), and
between pulses G(t) = G_p*((t - t_p + t0)/t0)^-nu (the regularised law the
model documents).
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from pycircuits.circuits import generate
from pycircuits.circuits.pcm_trace import PcmTraceParams, deviates, measure, schedule
from pycircuits.circuits.run import run_circuit
from pycircuits.cli import main
from pycircuits.errors import ParameterError
from pycircuits.extract.measures import fit_exponential, fit_linear, fit_power_law
from pycircuits.params import make_params
from pycircuits.spice import run_batch

US = 1e-6
G_FLOOR_US, GMAX_US = 0.1, 12.0
EDGE_S = 10e-9  # pulse edges of the circuit


def step_us(g_us: np.ndarray, p_fac: np.ndarray, z: np.ndarray, amp: float | np.ndarray = 1.0):
    """Published gradual-SET step: G after one pulse (uS), clipped to [G_floor, Gmax]."""
    mean = -0.084 * g_us + 0.88 + 1.40 * p_fac
    std = 0.091 * g_us + 0.26 + 2.15 * p_fac
    return np.clip(g_us + amp * (mean + z * std), G_FLOOR_US, GMAX_US)


def drift(g_p: float | np.ndarray, dt_s, nu: float, t0_s: float = 38.6):
    """The model's drift law G_p*((t - t_p + t0)/t0)^-nu."""
    return g_p * ((np.asarray(dt_s) + t0_s) / t0_s) ** -nu


def reference_pulses(g0_us: float, starts_s, ends_s, z, nu: float, amp=1.0, t0_s: float = 38.6):
    """G (uS) after each pulse of a cell RESET at t = 0, drifting between pulses."""
    g_p, t_p, p_fac, out = g0_us, 0.0, 1.0, []
    for s, e, zk in zip(starts_s, ends_s, z, strict=True):
        g_p = float(step_us(drift(g_p, s - t_p, nu, t0_s), p_fac, zk, amp))
        p_fac *= np.exp(-1 / 2.6)
        t_p = e
        out.append(g_p)
    return np.array(out)


def run(values: dict):
    return run_circuit("pcm-trace", values)


def params(values: dict) -> PcmTraceParams:
    return make_params(PcmTraceParams, values)


def set_times(p: PcmTraceParams) -> tuple[np.ndarray, np.ndarray]:
    sch = schedule(p)
    return sch.set_start, sch.set_start + EDGE_S + p.t_set_s


@pytest.fixture(scope="module")
def drift_run():
    """Default drift characterisation: 5 noisy SET pulses, nu = 0.1, read every 1 s to 100 s."""
    return run({"mode": "drift"})


def drift_reference(result) -> tuple[np.ndarray, float]:
    """Python G after each pulse (uS) and the last programming time for a drift-mode run."""
    p = result.params
    starts, ends = set_times(p)
    z = p.sigma_scale * deviates(p, p.n_pulses, 0)["e_plus"]
    return reference_pulses(p.g_reset_s / US, starts, ends, z, p.nu_trace), float(ends[-1])


# --------------------------------------------------------------------------
# (1) drift


@pytest.mark.parametrize("nu", [0.04, 0.1])
def test_fitted_drift_exponent_equals_model_nu_and_trace_follows_analytic_law(nu):
    result = run({"mode": "drift", "nu_trace": nu})
    m = result.measures
    assert m["nu_fit"] == pytest.approx(nu, rel=0.03)
    g_ref, t_p = drift_reference(result)
    g_law = drift(g_ref[-1] * US, m["trace_t_s"] - t_p, nu)
    err = np.max(np.abs(m["trace_g_s"] / g_law - 1))
    assert err < 0.02
    assert m["t_p_s"] == pytest.approx(t_p)
    # 100 s, 99 reads, and the drift over them is resolved (not a flat line)
    assert m["trace_t_s"][-1] == pytest.approx(99.0)
    assert m["trace_g_s"][-1] / m["trace_g_s"][0] < drift(1.0, 99, nu) / drift(1.0, 1, nu) * 1.001


# --------------------------------------------------------------------------
# (2) step model


def test_set_pulses_reproduce_step_model_with_the_same_draws(drift_run):
    g_ref, _ = drift_reference(drift_run)
    np.testing.assert_allclose(drift_run.measures["g_after_pulses_s"] / US, g_ref, rtol=1e-3)


def test_mean_steps_follow_the_propagated_mean_exactly():
    k = 10
    result = run({"mode": "drift", "n_pulses": k, "sigma_scale": 0})
    p = result.params
    starts, ends = set_times(p)
    g_mean = reference_pulses(p.g_reset_s / US, starts, ends, np.zeros(k), p.nu_trace)
    np.testing.assert_allclose(result.measures["g_after_pulses_s"] / US, g_mean, rtol=1e-3)


def test_noisy_pulses_stay_within_three_sigma_of_the_step_model():
    """Several seeds of k = 8 pulses against a 20000-sample Monte Carlo of the published model."""
    k, n_mc = 8, 20000
    rng = np.random.default_rng(12345)
    p0 = params({"mode": "drift", "n_pulses": k})
    starts, ends = set_times(p0)
    z = rng.standard_normal((k, n_mc))
    g = np.full(n_mc, p0.g_reset_s / US)
    t_p, p_fac, mc = 0.0, 1.0, []
    for j in range(k):
        g = step_us(drift(g, starts[j] - t_p, p0.nu_trace), p_fac, z[j])
        p_fac *= np.exp(-1 / 2.6)
        t_p = ends[j]
        mc.append(g)
    mean, std = np.mean(mc, axis=1), np.std(mc, axis=1)
    for seed in (1, 2, 3):
        sim = run({"mode": "drift", "n_pulses": k, "seed": seed}).measures["g_after_pulses_s"] / US
        assert np.all(np.abs(sim - mean) < 3 * std), (seed, sim, mean, std)


# --------------------------------------------------------------------------
# (3) read


def test_read_current_is_linear_in_conductance():
    g_s, i_a = [], []
    for k in (1, 2, 4, 8):
        result = run({"mode": "drift", "n_pulses": k, "sigma_scale": 0})
        w, m = result.waveforms, result.measures
        g_s.append(np.interp(m["trace_t_s"], w["time"], w["v(g_cell)"]) * US)
        i_a.append(m["read_current_a"])
    g_s, i_a = np.concatenate(g_s), np.concatenate(i_a)
    assert g_s.max() / g_s.min() > 3  # a real range of G
    line = fit_linear(g_s, i_a)
    v_read = PcmTraceParams().v_read_v
    assert line.slope == pytest.approx(v_read, rel=0.01)
    assert abs(line.intercept) < 0.01 * i_a.min()
    np.testing.assert_allclose(i_a / (g_s * v_read), 1.0, rtol=0.01)


# --------------------------------------------------------------------------
# (4) reward


def _episode(v_mem: float, sigma: float = 0.0) -> dict:
    return {"mode": "trace", "t_stop_s": 15.0, "sigma_scale": sigma,
            "n_pre": 3, "t_pre_s": (0.1, 0.3, 0.5), "v_mem_v": (v_mem,) * 3,
            "n_reward": 1, "t_reward_s": (5.5,)}


def expected_dw_us(p: PcmTraceParams, target: np.ndarray) -> float:
    """Change of W+ - W- (uS) at the single reward, from the step model and the drift law."""
    starts, ends = set_times(p)
    z = deviates(p, p.n_pre, 1)
    t_r = p.t_reward_s[0]
    g_e = {}
    for name, sign in (("e_plus", 1), ("e_minus", -1)):
        hits = target == sign
        if hits.any():
            g_p = reference_pulses(p.g_reset_s / US, starts[hits], ends[hits],
                                   p.sigma_scale * z[name][hits], p.nu_trace)[-1]
            g_e[name] = float(drift(g_p, t_r - ends[hits][-1], p.nu_trace))
        else:
            g_e[name] = float(drift(p.g_reset_s / US, t_r, p.nu_trace))
    dw = {}
    for w_name, e_name in (("w_plus", "e_plus"), ("w_minus", "e_minus")):
        amp = p.scale_const * g_e[e_name] * US * p.v_read_v / p.i_set_a
        g_b = float(drift(p.g_w0_s / US, t_r, p.nu_weight))
        dw[w_name] = float(step_us(g_b, 1.0, p.sigma_scale * z[w_name][0], amp)) - g_b
    return dw["w_plus"] - dw["w_minus"]


@pytest.mark.parametrize("v_mem, sign", [(0.9, 1), (0.1, -1)])
def test_reward_moves_weight_pair_with_the_sign_of_the_eligibility(v_mem, sign):
    result = run(_episode(v_mem))
    m = result.measures
    np.testing.assert_array_equal(m["pre_target"], [sign] * 3)
    assert np.sign(m["trace_g_s"][0]) == sign  # e+ - e- carries the eligibility
    assert np.sign(m["dw_s"][0]) == sign
    assert m["dw_s"][0] / US == pytest.approx(expected_dw_us(result.params, m["pre_target"]), rel=0.01)


def test_noisy_reward_matches_step_model_with_the_same_draws():
    result = run(_episode(0.9, sigma=1.0))
    m = result.measures
    assert m["dw_s"][0] / US == pytest.approx(expected_dw_us(result.params, m["pre_target"]), rel=0.01)


def test_gate_selects_trace_by_postsynaptic_signal():
    """I_x = V_mem/V_th: above I_th+ -> e+, below I_th- -> e-, between -> neither."""
    result = run({"mode": "trace", "t_stop_s": 15.0, "n_pre": 4, "t_pre_s": (0.1, 0.3, 0.5, 0.7),
                  "v_mem_v": (0.8, 0.5, 0.2, 0.9), "t_reward_s": (5.5,)})
    np.testing.assert_array_equal(result.measures["pre_target"], [1, 0, -1, 1])
    assert np.isnan(result.measures["g_after_pulses_s"][1])


# --------------------------------------------------------------------------
# (5) power law, not exponential


def test_trace_decays_as_power_law_not_exponential(drift_run):
    """Fitted on the first 10 % (10 s) of the trace, only the power law predicts the last read.

    Margins for nu = 0.1, t0 = 38.6 s: an exponential decaying to zero
    predicts 9.6 % too little conductance at 99 s (72 % of the observed
    decay from 1 s to 99 s); the best exponential with a free asymptote
    flattens out and misses that decay by 22 % (G by +2.9 %); the power law
    fitted to the same 10 s predicts the last read to 1e-6.
    """
    m = drift_run.measures
    t, g, t_p = m["trace_t_s"], m["trace_g_s"], m["t_p_s"]
    early = t - t_p <= 0.1 * (t[-1] - t_p)
    assert np.count_nonzero(early) >= 8
    decay = g[0] - g[-1]
    power = fit_power_law(t[early] - t_p + 38.6, g[early])
    assert abs(power(t[-1] - t_p + 38.6) / g[-1] - 1) < 1e-3
    to_zero = fit_exponential(t[early], g[early], y_inf=0.0)
    assert to_zero(t[-1]) < g[-1] * (1 - 0.05)
    assert (g[-1] - to_zero(t[-1])) / decay > 0.5
    free = fit_exponential(t[early], g[early])
    assert (free(t[-1]) - g[-1]) / decay > 0.15


# --------------------------------------------------------------------------
# (6) bare ngspice


@pytest.mark.parametrize("mode", ["drift", "trace"])
def test_bare_ngspice_batch_equals_session(mode, drift_run):
    session = drift_run if mode == "drift" else run({"mode": "trace"})
    batch = run_batch(session.netlist)
    m_batch = measure(batch, session.params)
    for name, value in session.measures.items():
        np.testing.assert_allclose(m_batch[name], value, rtol=1e-6, atol=1e-18, err_msg=name)


# --------------------------------------------------------------------------
# (7) bad input


@pytest.mark.parametrize("values", [
    {"n_pre": 3},  # t_pre_s and v_mem_v still have 4 values
    {"n_reward": 2},
    {"t_pre_s": (-0.1, 0.3, 0.5, 0.7)},
    {"t_reward_s": (-1.0,)},
    {"mode": "ltp"},
    {"t_pre_s": (0.3, 0.1, 0.5, 0.7)},  # not increasing
    {"t_reward_s": (0.3,)},  # reads a trace while a spike programs it
    {"t_reward_s": (200.0,)},  # after t_stop_s
    {"i_th_minus": 0.9},  # above i_th_plus
    {"mode": "drift", "t_pulse_period_s": 1e-6},  # pulses overlap
    {"g_floor_s": 20e-6},  # floor above gmax_s
])
def test_bad_input_raises_parameter_error(values):
    with pytest.raises(ParameterError):
        generate("pcm-trace", values)


@pytest.mark.parametrize("arg", ["n_pre=3", "t_pre_s=-0.1,0.3,0.5,0.7", "mode=ltp"])
def test_bad_input_exits_with_status_2_on_the_command_line(arg):
    out = CliRunner().invoke(main, ["netlist", "pcm-trace", "-p", arg])
    assert out.exit_code == 2
    assert "error" in out.output.lower()
