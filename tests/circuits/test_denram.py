"""DenRAM dendritic branch: RRAM delay laws, EPSC charge, coincidence detection, numerics.

Each run carries several synapses at once (one per resistance value) so that
a whole delay curve costs one short transient.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from pycircuits.circuits import generate
from pycircuits.circuits.denram import DenramParams, measure, plot
from pycircuits.circuits.run import run_circuit
from pycircuits.cli import main
from pycircuits.errors import ParameterError
from pycircuits.params import make_params
from pycircuits.spice import run_batch
from pycircuits.twins.denram import rc_delay_law, state_of

from marks import requires_ngspice, requires_sky130

pytestmark = requires_ngspice

R_SWEEP_OHM = (100e3, 316e3, 1e6, 3.16e6, 10e6)  # two decades of HRS
VDD_GENERIC130_V = 1.2


def _sweep(topology: str, t_stop: float, **extra):
    """One run with a synapse per resistance of R_SWEEP_OHM, all spiking at 10 ns."""
    n = len(R_SWEEP_OHM)
    values = dict(topology=topology, n_syn=n, t_in=[10e-9] * n, r_delay=list(R_SWEEP_OHM),
                  r_weight=[1e6] * n, t_stop=t_stop, n_steps=200, **extra)
    return run_circuit("denram", values)


def _coincident_t_in(t_arrive: float) -> list[float]:
    """Input times t_i = T - d_i that make the default synapses' delayed spikes coincide at T."""
    p = DenramParams()
    return [t_arrive - rc_delay_law(r, p.c_delay, p.vth_delay_frac) for r in p.r_delay]


T_ARRIVE_S = 7e-6


@pytest.fixture(scope="module")
def rc_sweep():
    return _sweep("rc", 8e-6)


@pytest.fixture(scope="module")
def sub_sweep():
    return _sweep("subthreshold", 0.1)


@pytest.fixture(scope="module")
def together():
    """Default branch with the four inputs timed to arrive together at T_ARRIVE_S."""
    return run_circuit("denram", {"t_in": _coincident_t_in(T_ARRIVE_S), "t_stop": 10e-6})


# ----------------------------------------------------------------------------- delays


def test_denram_delay_rises_monotonically_with_r_delay_for_both_topologies(rc_sweep, sub_sweep):
    for run in (rc_sweep, sub_sweep):
        d = run.measures["delays_s"]
        assert np.all(np.isfinite(d)) and np.all(np.diff(d) > 0), d
    # two decades of R: the rc delay follows them, the subthreshold one far more
    rc, sub = rc_sweep.measures["delays_s"], sub_sweep.measures["delays_s"]
    assert rc[-1] / rc[0] > 90 and sub[-1] / sub[0] > 1e4


def test_denram_rc_delay_matches_rc_law_within_10_percent(rc_sweep):
    p = DenramParams()
    law = np.array([rc_delay_law(r, p.c_delay, p.vth_delay_frac) for r in R_SWEEP_OHM])
    err = rc_sweep.measures["delays_s"] / law - 1
    assert np.all(np.abs(err) < 0.10), err


def test_denram_subthreshold_reaches_milliseconds_with_a_picofarad(sub_sweep):
    assert DenramParams().c_delay <= 2e-12
    d = sub_sweep.measures["delays_s"]
    assert d[R_SWEEP_OHM.index(1e6)] >= 1e-3  # a 1 MOhm HRS already gives ms
    assert d[-1] >= 10e-3


def test_denram_subthreshold_delay_is_exponential_in_the_divider_voltage(sub_sweep):
    # delay ~ exp(-Vg/(n U_T)): ln(delay) vs Vg is a line whose slope is the
    # subthreshold swing of the discharging NMOS (70-100 mV/dec for generic130)
    vg, d = sub_sweep.measures["divider_gate_v"], sub_sweep.measures["delays_s"]
    sub = (vg > 0.01) & (vg < 0.3)
    assert sub.sum() >= 3
    slope = np.polyfit(vg[sub], np.log10(d[sub]), 1)[0]  # decades per volt
    swing_mv = -1e3 / slope
    assert 60 < swing_mv < 110, swing_mv
    vdd, r_fix = VDD_GENERIC130_V, DenramParams().r_fix
    expected_vg = [vdd * r_fix / (r_fix + r) for r in R_SWEEP_OHM]
    np.testing.assert_allclose(vg, expected_vg, rtol=0.02)


# ----------------------------------------------------------------------------- soma


def test_denram_soma_fires_for_coincident_arrivals_not_for_spread_ones(together):
    p, m = together.params, together.measures
    window = p.r_leak * p.c_soma  # the soma's integration time constant
    spread_t_in = np.array(p.t_in) + 3 * window * np.arange(p.n_syn)
    spread = run_circuit("denram", {"t_in": list(spread_t_in), "t_stop": 20e-6}).measures
    v_th = p.vth_soma_frac * VDD_GENERIC130_V
    assert m["n_soma_spikes"] == 1 and m["soma_peak_v"] > v_th
    assert abs(m["soma_spike_times_s"][0] - T_ARRIVE_S) < 0.3 * window
    np.testing.assert_allclose(spread["delays_s"], m["delays_s"], rtol=1e-3)  # same spikes
    assert spread["n_soma_spikes"] == 0 and spread["soma_peak_v"] < 0.6 * v_th


def test_denram_epsc_charge_is_proportional_to_weight_conductance():
    r_w = np.array([500e3, 1.58e6, 5e6])  # a decade of weights
    t_pulse = DenramParams().t_pulse
    # isolated EPSCs, 5 soma time constants apart, so each starts from rest
    m = run_circuit("denram", dict(n_syn=3, t_in=[0.1e-6, 5.1e-6, 10.1e-6], r_delay=[100e3] * 3,
                                   r_weight=list(r_w), t_stop=12e-6, n_steps=500)).measures
    q_times_r = m["epsc_charge_c"] * r_w
    assert np.ptp(q_times_r) / np.mean(q_times_r) < 0.10, q_times_r
    np.testing.assert_allclose(q_times_r, t_pulse * VDD_GENERIC130_V, rtol=0.10)


def test_denram_energy_covers_delay_charges_and_epscs(together):
    p, m = together.params, together.measures
    vdd = VDD_GENERIC130_V
    # the supply must at least deliver C*Vth to every delay capacitor and every EPSC charge
    floor = vdd * (p.n_syn * p.c_delay * p.vth_delay_frac * vdd + np.sum(m["epsc_charge_c"]))
    assert floor <= m["energy_j"] < 1.25 * floor


def test_denram_reads_leave_every_rram_state_unchanged(together, sub_sweep):
    assert together.measures["max_state_drift"] < 1e-9
    assert sub_sweep.measures["max_state_drift"] < 1e-9


# ----------------------------------------------------------------------------- numerics


def test_denram_result_changes_less_than_1_percent_when_gmin_drops_tenfold(sub_sweep):
    # the branch's smallest currents: pA-nA subthreshold discharges over ms,
    # next to the EPSCs, the soma and the supply energy of the same run
    lowered = _sweep("subthreshold", 0.1, gmin=1e-16)
    assert sub_sweep.params.gmin == 1e-15 and f"gmin={1e-16!r}" in lowered.netlist
    for key in ("delays_s", "epsc_charge_c", "soma_peak_v", "energy_j"):
        np.testing.assert_allclose(lowered.measures[key], sub_sweep.measures[key], rtol=0.01,
                                   err_msg=key)


def test_denram_netlist_in_bare_ngspice_gives_the_session_delays(rc_sweep):
    bare = measure(run_batch(rc_sweep.netlist), rc_sweep.params)
    np.testing.assert_allclose(bare["delays_s"], rc_sweep.measures["delays_s"], rtol=1e-3)
    np.testing.assert_allclose(bare["epsc_charge_c"], rc_sweep.measures["epsc_charge_c"], rtol=1e-3)


@requires_sky130
def test_denram_on_sky130_keeps_the_rc_law_and_coincidence_detection():
    result = run_circuit("denram", pdk="sky130")
    p, m = result.params, result.measures
    assert "sky130" in result.netlist
    law = np.array([rc_delay_law(r, p.c_delay, p.vth_delay_frac) for r in p.r_delay])
    np.testing.assert_allclose(m["delays_s"], law, rtol=0.10)
    assert m["n_soma_spikes"] == 1  # the default inputs coincide
    assert m["soma_peak_v"] > p.vth_soma_frac * 1.8


# ----------------------------------------------------------------------------- input checks


@pytest.mark.parametrize("values", [
    {"r_delay": "1meg,2meg,4meg"},  # 3 values for n_syn=4
    {"n_syn": 2},  # the per-synapse defaults have 4 values
    {"r_weight": "1meg,-2meg,1meg,1meg"},
    {"r_delay": "1meg,2meg,4meg,80meg"},  # above rram_r_hrs
    {"topology": "foo"},
    {"rram_r_lrs": "20meg"},  # band upside down
    {"t_stop": "1u"},  # ends before the last input spike
])
def test_denram_bad_input_raises_parameter_error(values):
    with pytest.raises(ParameterError):
        make_params(DenramParams, values)


def test_denram_thresholds_below_vdd_are_refused():
    with pytest.raises(ParameterError, match="reads would program"):
        generate("denram", {"rram_v_set": 1.0})


def test_denram_per_synapse_lists_parse_and_program_the_rram_state():
    _, p, net = generate("denram", {"r_delay": "1meg,2meg,4meg,8meg", "n_syn": "4"})
    assert p.r_delay == (1e6, 2e6, 4e6, 8e6)
    text = str(net)
    assert ".param r_delay_4=8000000.0\n" in text
    assert ".param x0_d4={ln(rram_r_hrs/r_delay_4)/ln(rram_r_hrs/rram_r_lrs)}" in text
    # 1 MOhm on a 10 kOhm..10 MOhm log band is one third of the way from HRS
    assert state_of(1e6, p.rram_r_lrs, p.rram_r_hrs) == pytest.approx(1 / 3)


def test_denram_cli_unknown_topology_exits_with_status_2():
    result = CliRunner().invoke(main, ["run", "denram", "-p", "topology=foo"])
    assert result.exit_code == 2


def test_denram_plot_draws_inputs_delays_spikes_and_soma(together):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure()
    plot(together.waveforms, together.params, fig)
    axes = fig.get_axes()
    assert [ax.get_ylabel() for ax in axes] == ["input (V)", "delay C (V)", "delayed (V)",
                                                "soma (V)"]
    assert [len(ax.get_lines()) for ax in axes[:3]] == [4, 5, 4]  # + Vth line on the delay axis
    plt.close(fig)
