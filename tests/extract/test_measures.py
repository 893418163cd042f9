"""Measures on synthetic waveforms whose answers are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pycircuits.extract.measures import (
    ExpFit,
    charge,
    crossing_time,
    crossing_times,
    delay_between,
    energy,
    fit_exponential,
    fit_linear,
    fit_power_law,
    peak,
    pulse_width,
    settling_time,
)

F_HZ = 1e6  # test sine frequency
DT_S = 1e-9  # 1000 samples per period of F_HZ


def sine(periods: int = 3) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(0, periods / F_HZ + DT_S / 2, DT_S)
    return t, np.sin(2 * np.pi * F_HZ * t)


def trapezoid_pulse(t: np.ndarray, t_on: float, width: float, edge: float) -> np.ndarray:
    """1 V pulse with linear edges; ``width`` is measured at 0.5 V."""
    rise = np.clip((t - (t_on - edge / 2)) / edge, 0, 1)
    fall = np.clip((t - (t_on + width - edge / 2)) / edge, 0, 1)
    return rise - fall


# ------------------------------------------------------------------ crossings


def test_sine_crossings_at_half_level_within_0p1_percent_of_dt():
    # Linear interpolation of a sine at level 0.5 errs by at most
    # w*tan(30 deg)/8 * dt**2 = 4.5e-4 dt at 1000 samples per period.
    t, y = sine(3)
    t_rise = np.arcsin(0.5) / (2 * np.pi * F_HZ)
    t_fall = 0.5 / F_HZ - t_rise
    periods = np.arange(3) / F_HZ
    np.testing.assert_allclose(crossing_times(t, y, 0.5), t_rise + periods, rtol=0, atol=1e-3 * DT_S)
    np.testing.assert_allclose(
        crossing_times(t, y, 0.5, "falling"), t_fall + periods, rtol=0, atol=1e-3 * DT_S
    )
    both = crossing_times(t, y, 0.5, "both")
    np.testing.assert_allclose(both, np.sort(np.r_[t_rise + periods, t_fall + periods]), atol=1e-3 * DT_S)


def test_ramp_crossing_is_exact_on_uneven_time_steps():
    t = np.array([0.0, 1e-9, 1.5e-9, 4e-9, 4.1e-9])
    y = 2.0 * t / 1e-9  # 2 V/ns, so the 5 V crossing is at 2.5 ns
    assert crossing_time(t, y, 5.0) == pytest.approx(2.5e-9, rel=1e-12)


def test_sample_exactly_at_level_counts_as_one_crossing():
    t = np.arange(5.0)
    y = np.array([0.0, 0.5, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(crossing_times(t, y, 1.0, "both"), [2.0])


def test_crossing_time_picks_nth_and_last_and_nan_when_missing():
    t, y = sine(3)
    times = crossing_times(t, y, 0.5)
    assert crossing_time(t, y, 0.5, n=1) == times[1]
    assert crossing_time(t, y, 0.5, n=-1) == times[-1]
    assert math.isnan(crossing_time(t, y, 0.5, n=3))
    assert math.isnan(crossing_time(t, y, 2.0))


def test_noisy_ramp_first_crossing_within_five_sigma_of_true_time():
    # 1 V/us ramp with 1 mV rms noise: the noise moves a crossing by
    # sigma/slope = 1 ns; the first of the (several) noisy crossings lies
    # within 5 sigma of the true one unless a >5-sigma sample occurs among
    # the ~100 samples near it (p ~ 6e-5).
    rng = np.random.default_rng(7)
    t = np.linspace(0, 1e-6, 10001)
    y = t * 1e6 + rng.normal(0, 1e-3, t.size)
    assert crossing_time(t, y, 0.5) == pytest.approx(0.5e-6, abs=5e-9)


def test_delay_between_shifted_edges_is_the_shift():
    t = np.linspace(0, 20e-9, 2001)
    a = trapezoid_pulse(t, 2e-9, 5e-9, 1e-9)
    b = 1.8 * trapezoid_pulse(t, 4.5e-9, 5e-9, 1e-9)  # 2.5 ns later, 1.8 V swing
    assert delay_between(t, a, b, 0.5, 0.9) == pytest.approx(2.5e-9, rel=1e-9)
    # falling edge of a to rising edge of b: 4.5 - 7 ns is before, so none after
    assert math.isnan(delay_between(t, a, b, 0.5, 0.9, direction_a="falling"))


def test_delay_between_ignores_b_crossings_before_a():
    t = np.linspace(0, 10e-9, 1001)
    a = trapezoid_pulse(t, 4e-9, 2e-9, 0.5e-9)
    b = trapezoid_pulse(t, 1e-9, 1e-9, 0.5e-9) + trapezoid_pulse(t, 7e-9, 1e-9, 0.5e-9)
    assert delay_between(t, a, b, 0.5) == pytest.approx(3e-9, rel=1e-9)


def test_pulse_width_of_trapezoids_at_half_height():
    t = np.linspace(0, 30e-9, 3001)
    y = trapezoid_pulse(t, 2e-9, 3e-9, 1e-9) + trapezoid_pulse(t, 12e-9, 7e-9, 2e-9)
    assert pulse_width(t, y, 0.5) == pytest.approx(3e-9, rel=1e-9)
    assert pulse_width(t, y, 0.5, n=1) == pytest.approx(7e-9, rel=1e-9)
    assert math.isnan(pulse_width(t, y, 0.5, n=2))


def test_pulse_still_high_at_end_has_no_width():
    t = np.linspace(0, 10e-9, 101)
    assert math.isnan(pulse_width(t, trapezoid_pulse(t, 5e-9, 20e-9, 1e-9), 0.5))


# ----------------------------------------------------------------------- peak


def test_peak_of_parabola_is_exact_between_uneven_samples():
    t = np.array([0.0, 1.0, 2.5, 3.0, 5.0]) * 1e-9
    t0, y0 = 2.2e-9, 3.3
    y = y0 - 1e18 * (t - t0) ** 2
    t_pk, y_pk = peak(t, y)
    assert t_pk == pytest.approx(t0, rel=1e-12)
    assert y_pk == pytest.approx(y0, rel=1e-12)


def test_peak_refines_gaussian_pulse_far_below_the_step():
    # Parabolic refinement errs by O(dt**3): here < 1 % of the step, where
    # the largest sample alone is off by 0.37 step.
    dt = 0.1e-9
    t = np.arange(0, 10e-9, dt)
    t0, width = 4.637e-9, 1e-9
    t_pk, y_pk = peak(t, np.exp(-(((t - t0) / width) ** 2)))
    assert abs(t_pk - t0) < 0.01 * dt
    assert y_pk == pytest.approx(1.0, abs=1e-4)


def test_peak_at_record_end_is_the_end_sample():
    t = np.linspace(0, 1, 11)
    assert peak(t, t**2) == (1.0, 1.0)


# ------------------------------------------------------------------ integrals


def test_charge_of_rectangular_pulse_with_window_edges_between_samples():
    t = np.linspace(0, 10e-9, 11)  # 1 ns steps
    i = np.full(t.size, 2e-6)
    # window edges off the samples: exact I * (t2 - t1) only if they are interpolated
    assert charge(t, i, 1.234e-9, 7.89e-9) == pytest.approx(2e-6 * (7.89e-9 - 1.234e-9), rel=1e-12)


def test_charge_of_trapezoidal_current_pulse():
    # 1 mA, 10 ns at half height, 1 ns linear edges: Q = 1 mA * 10 ns = 10 pC
    t = np.linspace(0, 30e-9, 3001)
    i = 1e-3 * trapezoid_pulse(t, 5e-9, 10e-9, 1e-9)
    assert charge(t, i) == pytest.approx(10e-12, rel=1e-9)


def test_charge_of_exponential_discharge_current():
    # i = I0 exp(-t/tau): Q(T) = I0 tau (1 - exp(-T/tau)); trapezoid error
    # is (dt/tau)**2 / 12 = 8e-8 relative.
    i0, tau = 5e-6, 1e-6
    t = np.linspace(0, 5e-6, 5001)
    expected = i0 * tau * (1 - math.exp(-5))
    assert charge(t, i0 * np.exp(-t / tau)) == pytest.approx(expected, rel=1e-6)


def test_energy_in_resistor_under_voltage_ramp():
    # v = V t/T across R: E = V**2 T / (3 R); trapezoid error ~ (dt/T)**2 / 2
    v_max, r_ohm, t_ramp = 1.8, 10e3, 1e-6
    t = np.linspace(0, t_ramp, 10001)
    v = v_max * t / t_ramp
    assert energy(t, v, v / r_ohm) == pytest.approx(v_max**2 * t_ramp / (3 * r_ohm), rel=1e-7)


def test_energy_window_is_v_times_charge_for_constant_supply():
    t = np.linspace(0, 30e-9, 3001)
    i = 1e-3 * trapezoid_pulse(t, 5e-9, 10e-9, 1e-9)
    v = np.full(t.size, 1.2)
    assert energy(t, v, i, 3e-9, 25e-9) == pytest.approx(1.2 * charge(t, i, 3e-9, 25e-9), rel=1e-12)


def test_integration_window_outside_data_is_refused():
    t = np.linspace(0, 1e-9, 11)
    with pytest.raises(ValueError, match="window"):
        charge(t, np.ones(11), 0.0, 2e-9)


# ------------------------------------------------------------------- settling


def test_settling_of_first_order_step_is_tau_ln_50_at_2_percent():
    tau = 1e-6
    t = np.linspace(0, 10e-6, 100001)
    y = 1.0 - np.exp(-t / tau)
    assert settling_time(t, y, final=1.0) == pytest.approx(tau * math.log(50), rel=1e-4)
    assert settling_time(t, y, final=1.0, tol=0.01) == pytest.approx(tau * math.log(100), rel=1e-4)


def test_settling_still_moving_is_nan_and_flat_signal_is_settled_at_start():
    t = np.linspace(1e-9, 2e-9, 11)
    assert math.isnan(settling_time(t, np.linspace(0, 1, 11), final=2.0))
    assert settling_time(t, np.full(11, 0.7)) == t[0]


# ----------------------------------------------------------------------- fits


@pytest.mark.parametrize(
    ("offset", "amplitude", "tau"),
    [(0.2, 0.8, 2e-9), (1.2, -0.9, 1.3e-9), (0.0, 3e-3, 50e-6)],
    ids=["decay", "rising", "pure_decay_us"],
)
def test_fit_exponential_recovers_tau_within_half_percent(offset, amplitude, tau):
    t = np.linspace(0, 6 * tau, 300)
    fit = fit_exponential(t, offset + amplitude * np.exp(-t / tau))
    assert fit.tau == pytest.approx(tau, rel=5e-3)
    assert fit.amplitude == pytest.approx(amplitude, rel=1e-6)
    assert fit.offset == pytest.approx(offset, abs=1e-6 * abs(amplitude))
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)


def test_fit_exponential_amplitude_refers_to_t_zero_when_window_starts_late():
    tau = 1e-6
    t = np.linspace(2e-6, 8e-6, 200)
    fit = fit_exponential(t, 0.5 * np.exp(-t / tau), y_inf=0.0)
    assert fit == ExpFit(
        tau=pytest.approx(tau, rel=1e-9),
        amplitude=pytest.approx(0.5, rel=1e-9),
        offset=0.0,
        r2=pytest.approx(1.0),
    )


def test_fit_exponential_with_noise_and_known_asymptote():
    # 1 % of full-scale noise on 501 points over 5 tau.  Over 300 seeds the
    # relative tau error has std 0.54 % (offset fitted) and 0.34 % (offset
    # fixed); the bounds below are > 5 std.
    tau = 2e-9
    t = np.linspace(0, 10e-9, 501)
    rng = np.random.default_rng(2024)
    y = 0.2 + 0.8 * np.exp(-t / tau) + rng.normal(0, 0.01, t.size)
    assert fit_exponential(t, y).tau == pytest.approx(tau, rel=0.03)
    fixed = fit_exponential(t, y, y_inf=0.2)
    assert fixed.tau == pytest.approx(tau, rel=0.02)
    assert fixed.offset == 0.2
    assert 0.99 < fixed.r2 < 1.0


def test_fit_exponential_refuses_constant_signal():
    with pytest.raises(ValueError, match="constant"):
        fit_exponential(np.linspace(0, 1, 10), np.ones(10))


def test_fit_power_law_recovers_pcm_drift_coefficient():
    # G(t) = G0 (t/t0)**-nu with nu = 0.05 over six decades
    t = np.geomspace(1e-6, 1.0, 61)
    g0, t0, nu = 20e-6, 1e-6, 0.05
    fit = fit_power_law(t, g0 * (t / t0) ** -nu)
    assert -fit.exponent == pytest.approx(nu, rel=5e-3)
    assert fit.prefactor == pytest.approx(g0 * t0**nu, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)


def test_fit_power_law_noise_within_five_standard_errors():
    # 1 % log-normal read noise: the slope's standard error in log-log is
    # sigma / sqrt(sum((ln t - mean)**2)) (ordinary least squares).
    t = np.geomspace(1.0, 1e6, 61)
    sigma = 0.01
    rng = np.random.default_rng(11)
    g = 1e-6 * t**-0.05 * np.exp(rng.normal(0, sigma, t.size))
    se = sigma / math.sqrt(np.sum((np.log(t) - np.log(t).mean()) ** 2))
    assert fit_power_law(t, g).exponent == pytest.approx(-0.05, abs=5 * se)


@pytest.mark.parametrize(("t", "y"), [([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]), ([1.0, 2.0], [1.0, -1.0])])
def test_fit_power_law_refuses_non_positive_data(t, y):
    with pytest.raises(ValueError, match="t > 0 and y > 0"):
        fit_power_law(t, y)


def test_fit_linear_exact_line_and_r2_of_known_scatter():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    fit = fit_linear(x, 2.5 * x - 1.0)
    assert (fit.slope, fit.intercept, fit.r2) == (2.5, -1.0, 1.0)
    # y = [0, 1, 0, 1]: slope 0.2, intercept 0.2, r2 = 1 - 0.8/1 = 0.2
    scatter = fit_linear(x, [0.0, 1.0, 0.0, 1.0])
    assert scatter.slope == pytest.approx(0.2)
    assert scatter.intercept == pytest.approx(0.2)
    assert scatter.r2 == pytest.approx(0.2)


def test_fit_linear_refuses_equal_x():
    with pytest.raises(ValueError, match="all x are equal"):
        fit_linear([1.0, 1.0], [0.0, 1.0])


# ----------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("t", "y", "message"),
    [
        ([0.0, 1.0, 2.0], [0.0, 1.0], "shape"),
        ([0.0], [0.0], "at least 2 samples"),
        ([0.0, 2.0, 1.0], [0.0, 1.0, 2.0], "non-decreasing"),
        ([0.0, np.nan], [0.0, 1.0], "NaN"),
        ([[0.0, 1.0]], [[0.0, 1.0]], "1-D"),
    ],
    ids=["unequal_lengths", "one_sample", "time_goes_back", "nan_time", "2d"],
)
def test_malformed_signals_are_refused_with_clear_message(t, y, message):
    for measure in (
        lambda: crossing_times(t, y, 0.5),
        lambda: charge(t, y),
        lambda: peak(t, y),
    ):
        with pytest.raises(ValueError, match=message):
            measure()


def test_unknown_direction_is_refused():
    with pytest.raises(ValueError, match="direction"):
        crossing_times([0.0, 1.0], [0.0, 1.0], 0.5, "up")  # type: ignore[arg-type]
