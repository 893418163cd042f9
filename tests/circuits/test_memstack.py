"""The memristive/memcapacitive stack (devicemodels/memstack.lib) through the memstack cell.

Analytic laws of the model (memstack.lib header), used as references:
  C(y) = c_min + (c_max - c_min) * y,  G(x) = g_min * (g_max/g_min)**x
  y after n pulses of amplitude A from y = 0:  F(A) * (1 - exp(-n * k_pol * t_py))
  tau = C(y) / g_leak,  synaptic charge per input spike = G * v_read * t_read
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from click.testing import CliRunner

from pycircuits.circuits import generate
from pycircuits.circuits.run import run_circuit
from pycircuits.cli import main
from pycircuits.errors import ParameterError
from pycircuits.spice import run_batch
from pycircuits.twins.memstack import C_MAX_F, C_MIN_F

from marks import requires_ngspice

K_POL, T_PY = 3e6, 100e-9  # 1/s, s: memstack.lib k_pol and the default y pulse width
V_C, V_CW = 1.0, 0.5  # V: memstack.lib coercive voltage and its half-spread


@cache
def _run(**values):
    """One simulation per parameter set, shared by the tests (values must be hashable)."""
    return run_circuit("memstack", values)


def measures(**values) -> dict:
    return _run(**values).measures


def polarization_law(n: int, amplitude: float) -> float:
    """Capacitance (F) after ``n`` y pulses of ``amplitude`` (V) from y = 0 (erased)."""
    u = min(max((amplitude - V_C + V_CW) / (2 * V_CW), 0.0), 1.0)
    y = u * u * (3 - 2 * u) * (1 - math.exp(-n * K_POL * T_PY))
    return C_MIN_F + (C_MAX_F - C_MIN_F) * y


# ------------------------------------------------------------------ (1) capacitance


@requires_ngspice
def test_capacitance_spans_tenfold_ratio_and_grows_with_pulse_count():
    counts = (0, 1, 4, 30)
    c = np.array([measures(n_x=0, n_y=n)["c_f"] for n in counts])
    assert np.all(np.diff(c) > 0)
    assert c[0] == pytest.approx(C_MIN_F, rel=0.01)
    assert c[-1] == pytest.approx(C_MAX_F, rel=0.01)
    assert c[-1] / c[0] > 0.98 * C_MAX_F / C_MIN_F
    # the saturating nucleation law of the model (edges add ~1 % of a pulse)
    np.testing.assert_allclose(c, [polarization_law(n, 1.5) for n in counts], rtol=0.02)


@requires_ngspice
def test_capacitance_grows_with_pulse_amplitude_around_the_coercive_voltage():
    amplitudes = (0.8, 1.0, 1.2)
    c = np.array([measures(n_x=0, n_y=30, a_y=a)["c_f"] for a in amplitudes])
    assert np.all(np.diff(c) > 0)
    np.testing.assert_allclose(c, [polarization_law(30, a) for a in amplitudes], rtol=0.02)
    # both stacks on the row carry the same polarization
    c_syn = [measures(n_x=0, n_y=30, a_y=a)["c_syn_f"] for a in amplitudes]
    np.testing.assert_allclose(c_syn, c, rtol=0.005)


# ------------------------------------------------------------------ (2) independence


@requires_ngspice
def test_programming_y_leaves_conductance_and_x_leaves_capacitance_within_5_percent():
    g_no_y, g_y = measures(n_x=6, n_y=0)["g_s"], measures(n_x=6, n_y=30)["g_s"]
    assert abs(g_y / g_no_y - 1) < 0.05
    for name in ("c_f", "c_syn_f"):  # the membrane stack and the formed synapse stack itself
        c_no_x, c_x = measures(n_x=0, n_y=4)[name], measures(n_x=12, n_y=4)[name]
        assert abs(c_x / c_no_x - 1) < 0.05
    # ... while each state does move under its own programming
    assert measures(n_x=12, n_y=4)["g_s"] / measures(n_x=0, n_y=4)["g_s"] > 30
    assert measures(n_x=6, n_y=30)["c_f"] / measures(n_x=6, n_y=0)["c_f"] > 9


# ------------------------------------------------------------------ (3) time constant


@requires_ngspice
@pytest.mark.parametrize("n_y, g_leak", [(0, 10e-9), (4, 10e-9), (30, 10e-9), (30, 40e-9)])
def test_membrane_time_constant_follows_c_over_g_leak(n_y, g_leak):
    values = {"n_x": 0, "n_y": n_y}
    if g_leak != 10e-9:  # a tail of six of the longest time constants keeps the run short
        values.update(g_leak=g_leak, t_tail=6 * C_MAX_F / g_leak)
    m = measures(**values)
    assert m["tau_s"] == pytest.approx(m["c_f"] / g_leak, rel=0.10)
    assert m["tau_s"] == pytest.approx(m["c_f"] / g_leak, rel=0.005)  # what it actually achieves


# ------------------------------------------------------------------ (4) synaptic weight


@requires_ngspice
def test_charge_per_spike_is_proportional_to_conductance():
    runs = [measures(n_x=n, n_y=4) for n in (0, 3, 6, 12)]
    g = np.array([m["g_s"] for m in runs])
    q = np.array([m["charge_per_spike_c"] for m in runs])
    assert g[-1] / g[0] > 30  # a real span of weights
    slope = float(np.dot(g, q) / np.dot(g, g))  # fit through the origin
    np.testing.assert_allclose(q, slope * g, rtol=0.10)
    assert slope == pytest.approx(0.2 * 10e-9, rel=0.10)  # v_read * t_read (defaults)
    np.testing.assert_allclose(q, slope * g, rtol=1e-3)  # what it actually achieves


@requires_ngspice
def test_neuron_fires_on_a_burst_with_the_default_weight_and_not_alone():
    m = measures()
    # four spikes at 1 us spacing: 4 * G*v_read*t_read / C ~ 0.17 V > v_th = 0.15 V
    assert len(m["spike_times_s"]) == 1
    assert 4.0e-6 < m["spike_times_s"][0] < 4.02e-6
    # a weight 1.5x larger fires on the third spike
    assert measures(n_x=6)["spike_times_s"][0] == pytest.approx(3.0e-6, abs=20e-9)


# ------------------------------------------------------------------ (5) bare ngspice


@requires_ngspice
def test_bare_ngspice_batch_gives_the_session_result():
    session = _run()
    _, params, net = generate("memstack", {})
    from pycircuits.circuits import get
    batch = get("memstack").measure(run_batch(str(net)), params)
    for name, value in session.measures.items():
        np.testing.assert_allclose(batch[name], value, rtol=1e-6, err_msg=name)


@requires_ngspice
def test_result_does_not_depend_on_gmin():
    low, high = measures(gmin=1e-15), measures(gmin=1e-12)
    for name in ("g_s", "c_f", "tau_s", "charge_per_spike_c"):
        assert high[name] == pytest.approx(low[name], rel=1e-3), name


# ------------------------------------------------------------------ (6) bad input


@pytest.mark.parametrize("values", [
    {"v_rst": 0.2, "v_th": 0.15},  # reset level above the threshold
    {"spike_times": (2e-6, 1e-6)},  # not increasing
    {"spike_times": (1e-6, 1.01e-6)},  # closer than one read pulse
    {"g_leak": 1e-9, "t_tail": 100e-6},  # tail shorter than 3 C_max/g_leak
    {"g_leak": 1e-6, "t_tail": 1.0},  # 1e9 time steps of C_min/g_leak/50
    {"a_y": 2.2},  # a y pulse beyond the x threshold would move x
    {"a_x": 1.5},  # an x pulse below the SET threshold
    {"v_read": 0.5},  # read beyond the 0.3 V operation limit
    {"n_x": -1},
    {"n_y": "4;.control"},
])
def test_bad_input_raises_parameter_error(values):
    with pytest.raises(ParameterError):
        generate("memstack", values)


@pytest.mark.parametrize("arg", ["v_rst=0.3", "spike_times=3u,1u", "a_y=2.5", "n_y=1.5"])
def test_bad_input_exits_with_status_2_on_the_command_line(arg):
    out = CliRunner().invoke(main, ["run", "memstack", "-p", arg])
    assert out.exit_code == 2
    assert "error" in out.output.lower()
