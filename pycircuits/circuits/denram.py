"""``denram``: a DenRAM dendritic branch -- RRAM delays, RRAM weights, a coincidence-detecting soma.

After DenRAM (arXiv 2312.08960) and the multiscale RRAM dendrites (2305.06941).
A branch carries ``n_syn`` synapses into one soma.  Synapse ``k`` (1-based)::

    pre_k --S[ latch ]Q-- run_k --> delay element --> vc_k --[comparator]-- det_k
              R|                                                      |
             rsp_k <--[one-shot, falling edge]-- spk_k <--[one-shot]--+
    vdd --[PMOS, gate = NOT spk_k]-- wt_k --[RRAM r_weight_k]-- wb_k --(Vw_k: ammeter)-- soma
    soma --[c_soma]-- gnd,  soma --[r_leak]-- gnd,  out = comparator(soma > vth_soma)

* The presynaptic spike (a PWL source at ``t_in[k]``) sets a latch; while it
  is set (``run_k`` high) the delay element runs.  The latch is behavioural:
  a 1 nF node that the set input charges to VDD and the reset input (and the
  power-on reset) discharges, through 1 ns, and that otherwise holds.  Unlike
  a cross-coupled gate pair it has one state for given inputs, so the
  implicit integrator cannot flip it inside a long time step, and it costs
  no transistors (a MOS NOR latch tripled the simulation time).
* Delay element, ``topology=rc``: a PMOS switch connects the delay RRAM to
  ``vdd`` and it charges ``c_delay`` from 0 V (held there by an NMOS reset while
  idle):  delay = R*C*ln(VDD / (VDD - Vth)),  Vth = vth_delay_frac * VDD.
* Delay element, ``topology=subthreshold``: ``c_delay`` is precharged to VDD
  by a stacked PMOS pair while idle; when running, a PMOS powers the divider
  vdd --[RRAM r_delay]-- vg --[r_fix]-- gnd and the NMOS ``Mdis`` (gate vg,
  ``w_sub``/``l_sub``) discharges the capacitor in subthreshold:
  delay ~ C*(VDD - Vth) / (I0 * exp(Vg / (n*U_T))),  Vg = VDD*r_fix/(r_fix + R),
  i.e. the delay grows exponentially as the RRAM pulls the divider voltage
  down (and with the voltage dropped across the RRAM).  generic130, tt,
  c_delay = 1 pF: r_delay = 100 kOhm -> 0.2 us, 1 MOhm -> 4 ms, 10 MOhm ->
  76 ms.  The defaults of r_fix, w_sub, l_sub are sized for generic130; on
  sky130 the same sizes give longer delays (its NMOS leaks less).
* Detector (delay threshold and soma comparator): an ideal-threshold
  behavioural comparator, V(vdd)*(1 + u/sqrt(u^2 + (10 mV)^2))/2 of the
  overdrive u, through a 1 ns RC.  Its output crosses VDD/2 when the input
  crosses the threshold (1 ns later), so Vth = vth_delay_frac*VDD is exact.
  The smooth +-20 mV transition lets ngspice's step control approach the
  crossing instead of stepping over it.
* One-shots: the XSPICE ``oneshot`` code model (analog.cm, shipped and loaded
  with ngspice).  Its pulse edges are simulator breakpoints, so the delayed
  spike ``spk_k`` lasts exactly ``t_pulse`` however large the time step was
  when the slow delay capacitor crossed the threshold -- behavioural RC or
  delay-line one-shots lose or shorten the spike there, because the implicit
  integrator solves a whole spike-and-reset sequence inside one 10-100 us
  step of a ms-long run.  A second one-shot on the falling edge of ``spk_k``
  resets the latch for 10 ns, which re-arms the delay element.
* Weight read (EPSC): during ``spk_k`` a PMOS connects the weight RRAM from
  ``vdd`` to the soma: charge = t_pulse*(VDD - V_soma)/(R_w + R_on), ~1/R_w for
  a soma well below VDD (a conductance-based synapse).
* Soma: leaky integrator ``c_soma || r_leak`` (tau = r_leak*c_soma, the
  integration window), non-resetting, V >= 0 as in the DenRAM network model;
  its comparator ``out`` fires when V_soma rises through ``vth_soma_frac*VDD``.
  Each off read switch leaks ~0.1 nA (generic130) into the soma, so keep
  n_syn * 0.1 nA * r_leak well below the threshold (r_leak <~ 100 MOhm):
  for ms windows raise c_soma, not r_leak (a 5 GOhm leak parks the soma
  near VDD).

Every supply current comes from the one source ``vdd`` (``i(vdd)``); the input
spikes and the power-on reset are signal sources driving gates only.  The
latches, comparators and one-shots are behavioural (B-sources, XSPICE) and
draw no supply current, and they also drive the switch gates: ``energy_j``
counts the delay elements (RRAM charging, dividers, precharge), the weight
reads and all leakage, not the gate drive of the control logic (fJ per spike).
Each synapse holds one delay at a time: a presynaptic spike that arrives while
its delay runs, or within about t_pulse + 0.1 us after its delayed spike, is
ignored; delays must exceed t_pre_width.

RRAM: every device is ``rram`` from ``devicemodels/rram.lib`` with the band
``rram_r_lrs``..``rram_r_hrs`` and programmed to its target resistance R by
its initial state x0 = ln(r_hrs/R)/ln(r_hrs/r_lrs) (written as ``.param``
expressions, so ``alterparam r_delay_2=...`` re-programs it).  The SET/RESET
thresholds default to +-2 V, above every supply used here: the rram.lib
defaults (+-0.9 V) are below VDD and a 1.2 V read would SET the cell.
``max_state_drift`` checks that no read moved a state.

Variability: ``sigma_hrs`` / ``sigma_lrs`` are metadata for Monte Carlo; this
generator is deterministic and never draws.  The sweep layer draws, per point
and per synapse, r_delay[k]*exp(sigma_hrs*z) (the delay devices sit in the HRS
band) and r_weight[k]*exp(sigma_lrs*z) (weights are programmed towards the
LRS band), z ~ N(0, 1), clips them to [rram_r_lrs, rram_r_hrs] and writes them
as literal ``r_delay`` / ``r_weight`` values.

MOS geometry (including ``w_sub``/``l_sub``) is written as literal numbers:
sweeps re-run with ``alterparam`` only over the ``.param`` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..extract.measures import charge, crossing_time, crossing_times, energy, peak
from ..params import Params, fmt, param
from ..pdk import Pdk, device_model
from ..spice.waveforms import Waveforms
from ..twins.denram import state_of
from .base import CircuitDef, Netlist, register

_EDGE_S = 1e-9  # rise/fall time of the input spikes, power-on reset and one-shots
_T_POR_S = 1e-9  # the power-on reset holds every latch reset until then
_T_RESET_S = 10e-9  # latch reset pulse after each delayed spike
_T_ONESHOT_DELAY_S = 0.1e-9  # XSPICE one-shot trigger-to-edge delay
_V_BAND = 10e-3  # V, input scale of the comparators (output 5 % .. 95 % over +-21 mV)
# Ohm, F: 1 ns RC after each comparator; the large C puts its charge far above
# ngspice's chgtol so that truncation-error control follows the comparator
# (the B-source driving it is ideal and outside the supply: the size is free)
_R_CMP, _C_CMP = 1.0, 1e-9
_R_LATCH, _C_LATCH = 1.0, 1e-9  # Ohm, F: 1 ns set/reset of the behavioural latch
_R_HOLD = 1e12  # Ohm, the latch node's leak to ground
_W_N = 0.5e-6  # m, enable NMOS of the subthreshold discharge path
_W_SWITCH = 2e-6  # m, PMOS supply switches of the delay elements (R_on ~ 0.5 kOhm << RRAM)
# m, weight-read PMOS: R_on ~ 4 kOhm, and its small channel charge (which
# empties through the RRAM into the soma at turn-off, ~0.5 fC) stays below a
# few % of the EPSC up to r_weight ~ 5 MOhm at t_pulse = 100 ns
_W_READ = 0.5e-6
_W_QUIET, _L_QUIET = 0.5e-6, 1e-6  # m, long reset/precharge devices: low leakage


@dataclass(frozen=True)
class DenramParams(Params):
    """Parameters of the ``denram`` dendritic branch (SI units)."""

    topology: str = param("rc", "", "delay element: rc (RRAM charges C) or subthreshold "
                          "(RRAM divider biases a discharging NMOS)", choices=("rc", "subthreshold"))
    n_syn: int = param(4, "", "number of synapses on the branch", min=1, max=64)
    t_in: tuple = param((5.8e-6, 5.1e-6, 3.7e-6, 0.95e-6), "s",
                        "presynaptic spike time per synapse (defaults: delayed spikes coincide "
                        "near 6.5 us)", min=10e-9, max=1e3, length_of="n_syn")
    r_delay: tuple = param((1e6, 2e6, 4e6, 8e6), "Ohm", "delay RRAM resistance per synapse "
                           "(in the band rram_r_lrs..rram_r_hrs)", min=0.0, min_exclusive=True,
                           max=1e13, length_of="n_syn")
    r_weight: tuple = param((500e3, 500e3, 500e3, 500e3), "Ohm", "weight RRAM resistance per "
                            "synapse (EPSC charge ~ 1/r_weight)", min=0.0, min_exclusive=True,
                            max=1e13, length_of="n_syn")
    c_delay: float = param(1e-12, "F", "delay capacitor (1 pF: DenRAM code, CIRCUITS.md)",
                           min=0.0, min_exclusive=True, max=1e-6)
    vth_delay_frac: float = param(0.5, "", "delay detector threshold as a fraction of VDD",
                                  min=0.05, max=0.95)
    r_fix: float = param(100e3, "Ohm", "subthreshold: fixed divider resistor (vg to gnd)",
                         min=0.0, min_exclusive=True, max=1e12)
    w_sub: float = param(0.5e-6, "m", "subthreshold: width of the discharging NMOS",
                         min=0.1e-6, max=100e-6)
    l_sub: float = param(1e-6, "m", "subthreshold: length of the discharging NMOS",
                         min=0.1e-6, max=100e-6)
    t_pulse: float = param(100e-9, "s", "width of the delayed spike (one-shot) = weight read time",
                           min=5e-9, max=1.0)
    t_pre_width: float = param(10e-9, "s", "width of each presynaptic input spike",
                               min=1e-9, max=1.0)
    c_soma: float = param(2e-12, "F", "soma (membrane) capacitance", min=0.0, min_exclusive=True,
                          max=1e-6)
    r_leak: float = param(500e3, "Ohm", "soma leak resistor (tau = r_leak*c_soma = integration "
                          "window)", min=0.0, min_exclusive=True, max=1e16)
    vth_soma_frac: float = param(0.25, "", "soma comparator threshold as a fraction of VDD",
                                 min=0.01, max=0.95)
    rram_r_lrs: float = param(10e3, "Ohm", "RRAM low-resistance state (rram.lib default)",
                              min=0.0, min_exclusive=True, max=1e13)
    rram_r_hrs: float = param(10e6, "Ohm", "RRAM high-resistance state (top of the physical "
                              "100k-10M HRS band, CIRCUITS.md)", min=0.0, min_exclusive=True,
                              max=1e13)
    rram_v_set: float = param(2.0, "V", "RRAM SET threshold (above VDD: reads never program)",
                              min=0.0, min_exclusive=True, max=10.0)
    rram_v_reset: float = param(-2.0, "V", "RRAM RESET threshold (below -VDD)", min=-10.0, max=0.0)
    sigma_hrs: float = param(0.4, "", "Monte Carlo metadata: log-normal sigma of HRS, applied to "
                             "r_delay (0.4: DenRAM code, CIRCUITS.md)", min=0.0, max=3.0,
                             variability=True)
    sigma_lrs: float = param(0.1, "", "Monte Carlo metadata: log-normal sigma of LRS, applied to "
                             "r_weight", min=0.0, max=3.0, variability=True)
    gmin: float = param(1e-15, "S", "ngspice GMIN (test that results do not depend on it)",
                        min=0.0, min_exclusive=True, max=1e-9)
    t_stop: float = param(10e-6, "s", "transient length (cover the last delayed spike; "
                          "subthreshold needs ms)", min=0.0, min_exclusive=True, max=1e3)
    n_steps: int = param(500, "", "maximum time step = t_stop / n_steps", min=10, max=10_000_000)

    def __post_init__(self) -> None:
        super().__post_init__()
        lo, hi = self.rram_r_lrs, self.rram_r_hrs
        if not lo < hi:
            raise ParameterError(f"rram_r_lrs={lo:g} Ohm must be below rram_r_hrs={hi:g} Ohm")
        for name in ("r_delay", "r_weight"):
            for k, r in enumerate(getattr(self, name), 1):
                if not lo <= r <= hi:
                    raise ParameterError(
                        f"parameter {name}: value {k} = {r:g} Ohm is outside the RRAM band "
                        f"[rram_r_lrs, rram_r_hrs] = [{lo:g}, {hi:g}] Ohm")
        if max(self.t_in) + self.t_pre_width >= self.t_stop:
            raise ParameterError(f"t_stop={self.t_stop:g} s ends before the last input spike")


def _latch(net: Netlist, k: int, vdd: float) -> None:
    """Set by ``pre_k``, reset by ``rsp_k`` or the power-on reset; ``run_k`` and ``runb_k``."""
    q = f"run{k}"
    # normalised by the literal VDD: V(vdd) is 0 in Newton's first iterate
    set_, reset = f"V(pre{k})/{fmt(vdd)}", f"max(V(rsp{k}), V(por))/{fmt(vdd)}"
    g = fmt(1.0 / _R_LATCH)
    net.B(f"l{k}", net.gnd, q, i=f"{g}*({set_}*(V(vdd)-V({q}))-{reset}*V({q}))")
    net.C(f"l{k}", q, net.gnd, fmt(_C_LATCH))
    # a DC path for the first Newton iterate (all inputs 0); droop tau = 1000 s
    net.R(f"l{k}", q, net.gnd, fmt(_R_HOLD))
    net.B(f"lb{k}", f"runb{k}", net.gnd, v=f"V(vdd)-V({q})")


def _comparator(net: Netlist, name: str, out: str, over: str) -> None:
    """Ideal-threshold comparator: ``out`` crosses VDD/2 when the expression ``over`` (V) crosses 0."""
    src = f"{out}_s"
    net.B(name, src, net.gnd,
          v=f"V(vdd)*0.5*(1+({over})/sqrt(({over})^2+{fmt(_V_BAND ** 2)}))")
    net.R(name, src, out, fmt(_R_CMP))
    net.C(name, out, net.gnd, fmt(_C_CMP))


def _oneshot_models(net: Netlist, vdd: float) -> None:
    """XSPICE one-shot models: the delayed spike (t_pulse) and the latch reset."""
    common = (f"clk_trig={fmt(vdd / 2)} retrig=FALSE out_low=0 out_high={fmt(vdd)} "
              f"rise_time={fmt(_EDGE_S)} fall_time={fmt(_EDGE_S)} "
              f"rise_delay={fmt(_T_ONESHOT_DELAY_S)} fall_delay={fmt(_T_ONESHOT_DELAY_S)}")
    net.raw_spice += (".model denram_spike oneshot(cntl_array=[0 1] pw_array=[{t_pulse} {t_pulse}] "
                      f"pos_edge_trig=TRUE {common})\n")
    net.raw_spice += (f".model denram_reset oneshot(cntl_array=[0 1] pw_array=[{fmt(_T_RESET_S)} "
                      f"{fmt(_T_RESET_S)}] pos_edge_trig=FALSE {common})\n")


def _oneshot(net: Netlist, name: str, trigger: str, out: str, model: str) -> None:
    """An XSPICE one-shot instance (no control or clear input)."""
    net.raw_spice += f"a{name} {trigger} NULL NULL {out} {model}\n"


def _rram(net: Netlist, name: str, p: str, n: str, x: str, r_param: str) -> None:
    """An rram.lib device programmed to the resistance held by ``.param r_param``."""
    x0 = f"x0_{name}"
    net.parameter(x0, f"{{ln(rram_r_hrs/{r_param})/ln(rram_r_hrs/rram_r_lrs)}}")
    net.X(name, "rram", p, n, x, r_lrs="{rram_r_lrs}", r_hrs="{rram_r_hrs}",
          v_set="{rram_v_set}", v_reset="{rram_v_reset}", x0="{" + x0 + "}")


def _input_spike(net: Netlist, k: int, vdd: float) -> None:
    """Presynaptic spike source: a VDD pulse at t_in_k, t_pre_width long."""
    t, e, v = f"t_in_{k}", fmt(_EDGE_S), fmt(vdd)
    net.V(f"pre{k}", f"pre{k}", net.gnd,
          f"PWL(0 0 {{{t}}} 0 {{{t}+{e}}} {v} {{{t}+{e}+t_pre_width}} {v} "
          f"{{{t}+2*{e}+t_pre_width}} 0)")


def _rc_delay(net: Netlist, pdk: Pdk, k: int) -> None:
    """``rc`` delay element: vdd -> switch -> RRAM -> c_delay, reset to 0 while idle."""
    pdk.pmos(net, f"sw{k}", f"dt{k}", f"runb{k}", "vdd", "vdd", _W_SWITCH)
    _rram(net, f"d{k}", f"dt{k}", f"vc{k}", f"xd{k}", f"r_delay_{k}")
    net.C(f"d{k}", f"vc{k}", net.gnd, "{c_delay}")
    pdk.nmos(net, f"rs{k}", f"vc{k}", f"runb{k}", net.gnd, net.gnd, _W_QUIET, _L_QUIET)


def _subthreshold_delay(net: Netlist, pdk: Pdk, k: int, p: DenramParams) -> None:
    """``subthreshold`` delay element: RRAM divider biases Mdis, which discharges c_delay."""
    mid = f"pc{k}"  # stacked precharge pair: its off-leakage must stay << I(Mdis)
    pdk.pmos(net, f"pa{k}", mid, f"run{k}", "vdd", "vdd", _W_QUIET, _L_QUIET)
    pdk.pmos(net, f"pb{k}", f"vc{k}", f"run{k}", mid, "vdd", _W_QUIET, _L_QUIET)
    net.C(f"d{k}", f"vc{k}", net.gnd, "{c_delay}")
    pdk.pmos(net, f"dv{k}", f"dv{k}", f"runb{k}", "vdd", "vdd", _W_SWITCH)
    _rram(net, f"d{k}", f"dv{k}", f"vg{k}", f"xd{k}", f"r_delay_{k}")
    net.R(f"fix{k}", f"vg{k}", net.gnd, "{r_fix}")
    pdk.nmos(net, f"en{k}", f"vc{k}", f"run{k}", f"dm{k}", net.gnd, _W_N)
    pdk.nmos(net, f"dis{k}", f"dm{k}", f"vg{k}", net.gnd, net.gnd, p.w_sub, p.l_sub)


def _synapse(net: Netlist, pdk: Pdk, k: int, p: DenramParams) -> None:
    """Latch, delay element, detector, one-shot and weight read of synapse ``k``."""
    _input_spike(net, k, pdk.vdd)
    _latch(net, k, pdk.vdd)
    if p.topology == "rc":
        _rc_delay(net, pdk, k)
        _comparator(net, f"det{k}", f"det{k}", f"V(vc{k})-vth_delay_frac*V(vdd)")
    else:
        _subthreshold_delay(net, pdk, k, p)
        _comparator(net, f"det{k}", f"det{k}", f"vth_delay_frac*V(vdd)-V(vc{k})")
    _oneshot(net, f"spk{k}", f"det{k}", f"spk{k}", "denram_spike")
    _oneshot(net, f"rsp{k}", f"spk{k}", f"rsp{k}", "denram_reset")
    net.B(f"spkb{k}", f"spkb{k}", net.gnd, v=f"V(vdd)-V(spk{k})")
    pdk.pmos(net, f"rd{k}", f"wt{k}", f"spkb{k}", "vdd", "vdd", _W_READ)
    _rram(net, f"w{k}", f"wt{k}", f"wb{k}", f"xw{k}", f"r_weight_{k}")
    net.V(f"w{k}", f"wb{k}", "soma", 0)  # ammeter: i(vw_k) is the EPSC current


def build(p: DenramParams, pdk: Pdk, corner: str = "tt") -> Netlist:
    """The DenRAM branch netlist on ``pdk``/``corner``; supply VDD = ``pdk.vdd``."""
    if p.rram_v_set <= pdk.vdd or -p.rram_v_reset <= pdk.vdd:
        raise ParameterError(
            f"RRAM thresholds v_set={p.rram_v_set:g} V / v_reset={p.rram_v_reset:g} V must lie "
            f"beyond VDD = {pdk.vdd:g} V of {pdk.name}: reads would program the cells")
    t_max = p.t_stop / p.n_steps
    net = Netlist(f"denram branch, {p.n_syn} synapses, {p.topology} delays",
                  analysis=f".tran {fmt(t_max)} {fmt(p.t_stop)} 0 {fmt(t_max)}",
                  options={"gmin": p.gmin, "method": "gear"})
    pdk.add_models(net, corner)
    net.include(str(device_model("rram.lib")))
    for name in ("c_delay", "vth_delay_frac", "r_fix", "t_pulse", "t_pre_width", "c_soma",
                 "r_leak", "vth_soma_frac", "rram_r_lrs", "rram_r_hrs", "rram_v_set",
                 "rram_v_reset"):
        net.param(name, getattr(p, name))
    for k in range(1, p.n_syn + 1):
        net.param(f"t_in_{k}", p.t_in[k - 1])
        net.param(f"r_delay_{k}", p.r_delay[k - 1])
        net.param(f"r_weight_{k}", p.r_weight[k - 1])
    net.V("dd", "vdd", net.gnd, fmt(pdk.vdd))
    _oneshot_models(net, pdk.vdd)
    v = fmt(pdk.vdd)
    net.V("por", "por", net.gnd, f"PWL(0 {v} {fmt(_T_POR_S)} {v} {fmt(_T_POR_S + _EDGE_S)} 0)")
    for k in range(1, p.n_syn + 1):
        _synapse(net, pdk, k, p)
    net.C("soma", "soma", net.gnd, "{c_soma}")
    net.R("leak", "soma", net.gnd, "{r_leak}")
    _comparator(net, "out", "out", "V(soma)-vth_soma_frac*V(vdd)")
    return net


# --------------------------------------------------------------------------- measures


def _epsc_charge(w, k: int, t_rise: float, t_pulse: float) -> float:
    """Charge (C) through the weight RRAM of synapse k during its delayed spike starting at t_rise.

    The window runs from 0.2*t_pulse before the pulse to 0.5*t_pulse after it;
    the switch's off-state leakage, sampled at the window start, is subtracted.
    """
    t, i = w["time"], w[f"i(vw{k})"]
    lo, hi = t_rise - 0.2 * t_pulse, min(t_rise + 1.5 * t_pulse, float(t[-1]))
    if not (np.isfinite(t_rise) and lo >= t[0] and hi > lo):
        return float("nan")
    base = float(np.interp(lo, t, i))
    return charge(t, i, lo, hi) - base * (hi - lo)


def _spike_times(w, k: int, half: float) -> tuple[float, float, float]:
    """(presynaptic spike, detector decision, delayed-spike start) of synapse k, s; nan if absent.

    The decision is the comparator output crossing VDD/2, interpolated on its
    smooth waveform (exact to well below a time step); the one-shot starts
    the delayed spike at the first time step after it.
    """
    t = w["time"]
    t_pre = crossing_time(t, w[f"v(pre{k})"], half)
    after = []
    for node in (f"det{k}", f"spk{k}"):
        times = crossing_times(t, w[f"v({node})"], half, "rising")
        times = times[times >= t_pre]
        after.append(float(times[0]) if times.size else float("nan"))
    return t_pre, after[0], after[1]


def measure(w: Waveforms, p: DenramParams) -> dict[str, Any]:
    """Named measures of one run (SI units in the suffixes; see ``measures`` in the registry)."""
    t, vdd = w["time"], float(w["v(vdd)"][0])
    half = vdd / 2
    delays, charges, vgate = [], [], []
    for k in range(1, p.n_syn + 1):
        t_pre, t_det, t_spk = _spike_times(w, k, half)
        d = t_det - t_pre if np.isfinite(t_spk) else float("nan")
        delays.append(d)
        charges.append(_epsc_charge(w, k, t_spk, p.t_pulse))
        if p.topology == "subthreshold" and np.isfinite(d):
            vgate.append(float(np.interp(t_pre + d / 2, t, w[f"v(vg{k})"])))
        else:
            vgate.append(float("nan"))
    spikes = crossing_times(t, w["v(out)"], half, "rising")
    drift = 0.0
    for k in range(1, p.n_syn + 1):
        for node, r in ((f"xd{k}", p.r_delay[k - 1]), (f"xw{k}", p.r_weight[k - 1])):
            x0 = state_of(r, p.rram_r_lrs, p.rram_r_hrs)
            drift = max(drift, float(np.max(np.abs(w[f"v({node})"] - x0))))
    return {
        "delays_s": np.array(delays),
        "epsc_charge_c": np.array(charges),
        "soma_spike_times_s": spikes,
        "n_soma_spikes": int(spikes.size),
        "soma_peak_v": peak(t, w["v(soma)"])[1],
        "energy_j": -energy(t, w["v(vdd)"], w["i(vdd)"]),
        "divider_gate_v": np.array(vgate),
        "max_state_drift": drift,
    }


def plot(w: Waveforms, p: DenramParams, fig: Any) -> None:
    """Input spikes, delay-capacitor voltages, delayed spikes and the soma voltage (into ``fig``)."""
    scale, unit = (1e3, "ms") if p.t_stop > 1e-3 else (1e6, "us")
    t = w["time"] * scale
    axes = fig.subplots(4, 1, sharex=True)
    for k in range(1, p.n_syn + 1):
        axes[0].plot(t, w[f"v(pre{k})"], label=f"pre{k}")
        axes[1].plot(t, w[f"v(vc{k})"], label=f"vc{k}")
        axes[2].plot(t, w[f"v(spk{k})"], label=f"spk{k}")
    vdd = float(w["v(vdd)"][0])
    axes[1].axhline(p.vth_delay_frac * vdd, color="k", ls=":", lw=0.8)
    axes[3].plot(t, w["v(soma)"], label="soma")
    axes[3].axhline(p.vth_soma_frac * vdd, color="k", ls=":", lw=0.8, label="threshold")
    for ax, ylabel in zip(axes, ("input (V)", "delay C (V)", "delayed (V)", "soma (V)"),
                          strict=True):
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7, ncol=4, loc="upper right")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(f"time ({unit})")
    axes[0].set_title(f"denram: {p.n_syn} synapses, {p.topology} delays")


def monte_carlo(p: DenramParams, rng) -> dict[str, tuple[float, ...]]:
    """One chip: each synapse's RRAMs drawn log-normal (``sigma_hrs`` on r_delay, ``sigma_lrs`` on
    r_weight), clipped to the programmable band [rram_r_lrs, rram_r_hrs]."""
    def draw(values: tuple[float, ...], sigma: float) -> tuple[float, ...]:
        factors = rng.lognormal(0.0, sigma, len(values)) if sigma else np.ones(len(values))
        return tuple(float(np.clip(v * f, p.rram_r_lrs, p.rram_r_hrs)) for v, f in zip(values, factors, strict=True))
    return {"r_delay": draw(p.r_delay, p.sigma_hrs), "r_weight": draw(p.r_weight, p.sigma_lrs)}


register(CircuitDef(
    name="denram", doc="DenRAM dendritic branch: RRAM delays + RRAM weights into a coincidence soma",
    params=DenramParams, build=build, measure=measure, plot=plot, monte_carlo=monte_carlo,
    measures={
        "delays_s": "s: per synapse, presynaptic spike (rising 50 % VDD) to the detector's "
                    "decision that fires the delayed spike (comparator output at 50 % VDD); nan if "
                    "no delayed spike",
        "epsc_charge_c": "C: per synapse, charge the weight RRAM injects into the soma during the "
                         "first delayed spike (switch leakage subtracted)",
        "soma_spike_times_s": "s: rising threshold crossings of the soma comparator output",
        "n_soma_spikes": ": number of soma output spikes",
        "soma_peak_v": "V: maximum soma voltage (the DenRAM network's class score)",
        "energy_j": "J: integral of V(vdd)*I(vdd) over the run (all analog supply current; "
                    "the behavioural control logic is not supplied from vdd)",
        "divider_gate_v": "V: per synapse, subthreshold divider gate voltage mid-delay (nan for rc)",
        "max_state_drift": ": largest |x - x0| of any RRAM state over the run (reads must not "
                           "program)",
    },
))
