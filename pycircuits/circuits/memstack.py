"""``memstack``: a recurrent-SNN neuron/synapse cell built on the memristive + memcapacitive stack.

After the unified memcapacitor-memristor memory of arXiv 2506.22227: the
stack's conductance G(x) is the synaptic weight and its capacitance C(y)
sets the membrane time constant.  Device model: ``devicemodels/memstack.lib``
(I = G(x)*V + d(C(y)*V)/dt; x switched beyond +-2 V, y around a 1 V
coercive voltage; reads and operation below 0.3 V).

Schematic::

    vdrv: programming pulses, verify read, input read pulses
      |
     prg ----[Xsyn: formed stack, states xs ys]---- bs --(Vsense: 0 V = virtual ground)-- gnd
      |                                                     |
     [Sprg: switch, closed while ph = 1]        i(vsense) * win --> Binj --(Vinj)--> m
      |
      m ----[Xmem: unformed stack, states xm ym]--- bm --(Vmsense)-- gnd
      m --[R = 1/g_leak]-- gnd
      m --[reset: g_reset * spk]-- gnd,   m --[clamp at 0.3 V]-- gnd
      spk = latch(set: V(m) > v_th, clear: V(m) < v_rst)

Why two stacks.  One stack is G(x) in parallel with C(y); its own relaxation
time C/G is 0.5 ns-0.5 us over the documented ranges (50-500 fF, 1-100 uS),
so a formed stack cannot hold membrane charge, and a stack used both as the
membrane capacitor and as the input path couples the input pulse 1:1 onto
the membrane.  The cell therefore uses two stacks of the same technology on
one programming row: the *formed* stack ``Xsyn`` (memristive and
memcapacitive) whose conductance is the weight, and an *unformed* stack
``Xmem`` (no filament: memcapacitive only, 1 pS leakage) whose capacitance is
the membrane capacitor.  Both receive the same programming pulses, so they
carry the same polarization y and the same C(y); G(x) exists only in Xsyn.

Programming phase (``ph`` = 1, Sprg closed, both stacks on ``prg``):

1. ``n_x`` SET pulses of ``+a_x`` (> 2 V), width ``t_px``: x of Xsyn rises
   (the fresh stack starts at x = 0, G = 1 uS).  These pulses lie beyond
   every coercive voltage and saturate y as well (physics, not a bug).
2. One erase pulse of ``-a_erase`` (1.5-1.95 V), width ``t_erase``: y -> 0 in
   both stacks; |V| < 2 V leaves x untouched.
3. ``n_y`` pulses of ``+a_y`` (< 2 V), width ``t_py``: y rises towards F(a_y)
   (the fraction of domains with a coercive voltage below a_y), saturating
   with the pulse count.  x is untouched.
4. Verify read: ``prg`` ramps to ``v_read`` (20 ns), holds, ramps back.  The
   plateau current of Xsyn gives ``g_s``; the displacement current of each
   stack during the middle of the rising ramp gives its capacitance.

Operating phase (``ph`` = 0, Sprg open), times counted from its start:

* Input spike k at ``spike_times[k]``: ``prg`` gives a read pulse of
  ``v_read`` (<= 0.3 V) across Xsyn, whose bottom electrode sits at the
  virtual ground of a current conveyor (``Vsense``, ideal).  The conveyor's
  output is enabled only for a window of ``t_read`` inside the pulse plateau
  (``win``, 2 ns after the edge has settled): the stack's displacement
  current flows only on the edges and is rejected, so the synaptic charge is
  exactly G(x)*v_read*t_read.  (Behavioural conveyor and window switch.)
* Membrane ``m``: C(y) of Xmem in parallel with ``g_leak``, so
  tau = C(y) / (g_leak + g_pristine): C(y) / g_leak to 1e-4 at the default
  10 nS, to 1 % at the lowest g_leak (0.1 nS), with the 1 pS leakage of the
  unformed stack.
* Comparator with reset (behavioural): a latch state ``spk`` (0..1 V on a
  1 F capacitor) is set within ~0.1 ns once V(m) exceeds ``v_th`` (a 2 mV
  smooth step, regenerative: the threshold drops by up to 50 mV once set)
  and cleared when V(m) falls below ``v_rst``; while set it drains m through
  ``g_reset``.  Set and clear terms are exactly zero outside their regions,
  so an idle comparator draws nothing from the membrane.  The output spike is V(spk); it lasts about
  C(y)/g_reset*ln(v_th/v_rst) (the refractory time).
* A clamp (smooth diode-like, 1 mS beyond 0.3 V) keeps the membrane within
  the 0.3 V operation limit, so no input burst can disturb the membrane
  stack's polarization (its switching starts at 0.5 V).

Programming pulse counts, amplitudes and all timing are written as literal
PWL points (a new value regenerates the netlist); ``g_leak``, ``v_th``,
``v_rst`` and ``g_reset`` are ``.param`` values.  Variability: draw device
ranges per instance in Python (see memstack.lib); this generator is
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..extract.measures import charge, crossing_times, fit_exponential
from ..params import Params, fmt, param
from ..pdk import Pdk, device_model
from ..twins import memstack as twin
from ..twins.memstack import C_MAX_F, C_MIN_F, G_MAX_S, G_MIN_S, V_OPERATE_MAX_V, V_POL_FULL_V, V_SET_V
from .base import CircuitDef, Netlist, pwl, register

_EDGE_S = 1e-9  # edges of programming and read pulses
_GUARD_S = 2e-9  # read plateau before / after the conveyor window
_GAP_S = 100e-9  # idle time between programming steps
_T_VRAMP_S = 20e-9  # verify-read ramp (capacitance from its displacement current)
_T_VHOLD_S = 40e-9  # verify-read plateau (conductance)
_G_ON_S, _G_OFF_S = 1e-2, 1e-15  # programming switch on / off conductance
_K_LATCH = 1e10  # 1/s, latch set / clear rate (>> g_reset / C_MIN_F)
_W_CMP_V = 2e-3  # V, comparator smooth-step width
_HYST_V = 50e-3  # V, latch threshold drop once set (at most half of v_th - v_rst)
_G_CLAMP_S, _W_CLAMP_V = 1e-3, 10e-3  # membrane clamp at V_OPERATE_MAX_V
_N_TAIL_STEPS = 2000  # at least this many time steps over the decay tail
_STEPS_PER_TAU = 50  # and this many per shortest membrane time constant
_MAX_STEPS = 2e6  # refuse runs that would need more (minutes of ngspice)


@dataclass(frozen=True)
class MemstackParams(Params):
    """Parameters of the ``memstack`` neuron/synapse cell (SI units)."""

    n_x: int = param(5, "", "SET pulses programming x of the synapse stack (G grows with it)",
                     min=0, max=200)
    a_x: float = param(twin.A_X_V, "V", "amplitude of the x SET pulses (beyond the 2 V threshold)",
                       min=V_SET_V + 0.05, max=4.0)
    t_px: float = param(twin.T_PX_S, "s", "width of each x pulse", min=10e-9, max=10e-6)
    a_erase: float = param(1.8, "V", "magnitude of the negative y-erase pulse (full polarization "
                           "switching from 1.5 V, below the 2 V RESET threshold)", min=V_POL_FULL_V,
                           max=V_SET_V - 0.05)
    t_erase: float = param(5e-6, "s", "width of the y-erase pulse", min=100e-9, max=1e-3)
    n_y: int = param(4, "", "pulses programming y of both stacks (C grows with it, saturating)",
                     min=0, max=500)
    a_y: float = param(1.5, "V", "amplitude of the y pulses (coercive ~1 V; below 2 V so x "
                       "stays)", min=0.3, max=V_SET_V - 0.05)
    t_py: float = param(twin.T_PY_S, "s", "width of each y pulse", min=10e-9, max=10e-6)
    g_leak: float = param(twin.G_LEAK_S, "S", "membrane leak conductance (tau = C(y)/g_leak, "
                          "50 ns..5 ms over the range)", min=1e-10, max=1e-6)
    v_read: float = param(twin.V_READ_V, "V", "read pulse amplitude across the synapse stack",
                          min=0.0, min_exclusive=True, max=V_OPERATE_MAX_V)
    t_read: float = param(twin.T_READ_S, "s", "conveyor window per input spike (charge = G*v_read*t_read)",
                          min=1e-9, max=10e-6)
    spike_times: tuple = param((1e-6, 2e-6, 3e-6, 4e-6, 20e-6), "s",
                               "input spike times after the start of the operating phase "
                               "(increasing)", min=0.0, max=1.0)
    v_th: float = param(0.15, "V", "comparator (firing) threshold", min=0.0, min_exclusive=True,
                        max=0.29)
    v_rst: float = param(0.02, "V", "reset ends when the membrane falls below this",
                         min=0.0, min_exclusive=True, max=0.28)
    g_reset: float = param(10e-6, "S", "reset conductance while the output spike is high",
                           min=1e-8, max=1e-3)
    t_tail: float = param(300e-6, "s", "observation time after the last input spike "
                          "(>= 3 C_max/g_leak, for the time-constant fit)", min=1e-6, max=10.0)
    g_scale: float = param(1.0, "", "device factor on the synapse stack's conductance range (Monte Carlo "
                           "draws it)", min=0.1, max=10.0)
    c_scale: float = param(1.0, "", "device factor on the membrane stack's capacitance range (Monte Carlo "
                           "draws it)", min=0.1, max=10.0)
    sigma_g: float = param(0.1, "", "Monte Carlo: log-normal sigma of g_scale, device to device (choose)",
                           min=0.0, max=2.0, variability=True)
    sigma_c: float = param(0.05, "", "Monte Carlo: log-normal sigma of c_scale, device to device (choose)",
                           min=0.0, max=2.0, variability=True)
    gmin: float = param(1e-15, "S", "ngspice GMIN (results must not depend on it)",
                        min=0.0, min_exclusive=True, max=1e-12)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.v_rst < self.v_th:
            raise ParameterError(f"v_rst={self.v_rst:g} V must be below v_th={self.v_th:g} V")
        times = self.spike_times
        span = read_pulse_s(self.t_read)
        for k in range(1, len(times)):
            if times[k] - times[k - 1] < span:
                raise ParameterError(
                    f"spike_times must increase by at least the read pulse ({span:g} s): "
                    f"spike {k} at {times[k - 1]:g} s, spike {k + 1} at {times[k]:g} s")
        need = 3 * C_MAX_F / self.g_leak
        if self.t_tail < need:
            raise ParameterError(
                f"t_tail={self.t_tail:g} s is shorter than 3 C_max/g_leak = {need:g} s: "
                "the membrane decay could not be fitted")
        t_stop, t_max = stop_and_step(self)
        if t_stop / t_max > _MAX_STEPS:
            raise ParameterError(
                f"the run ({t_stop:g} s) spans more than {_MAX_STEPS:g} steps of the {t_max:g} s "
                "that the shortest membrane time constant C_min/g_leak needs: shorten t_tail or "
                "the spike times, or lower g_leak")


def stop_and_step(p: MemstackParams) -> tuple[float, float]:
    """End (s) of the transient and its maximum time step (s)."""
    t_stop = timeline(p).t_op + max(p.spike_times) + read_pulse_s(p.t_read) + p.t_tail
    # resolve the whole tail and the fastest possible decay (C_min / g_leak) alike
    return t_stop, min(p.t_tail / _N_TAIL_STEPS, C_MIN_F / p.g_leak / _STEPS_PER_TAU)


def read_pulse_s(t_read: float) -> float:
    """Length (s) of one input read pulse: edges, guards and the conveyor window ``t_read``."""
    return 2 * _EDGE_S + 2 * _GUARD_S + t_read


@dataclass(frozen=True)
class Timeline:
    """Times (s) of the programming phase, from the parameters alone."""

    points: list  # (t, V) of the programming part of the prg waveform
    t_verify: float  # start of the verify ramp
    t_op: float  # start of the operating phase


def _pulse(pts: list, t: float, amp: float, width: float) -> float:
    """Append a trapezoid pulse (edges _EDGE_S, plateau ``width``) at ``t``; return its end."""
    pts += [(t, 0.0), (t + _EDGE_S, amp), (t + _EDGE_S + width, amp), (t + 2 * _EDGE_S + width, 0.0)]
    return t + 2 * _EDGE_S + width


def timeline(p: MemstackParams) -> Timeline:
    """The programming waveform: x pulses, y erase, y pulses, verify read."""
    pts: list = [(0.0, 0.0)]
    t = _GAP_S
    for _ in range(p.n_x):
        t = _pulse(pts, t, p.a_x, p.t_px) + p.t_px
    t = _pulse(pts, t + _GAP_S, -p.a_erase, p.t_erase) + _GAP_S
    for _ in range(p.n_y):
        t = _pulse(pts, t, p.a_y, p.t_py) + p.t_py
    t_verify = t + _GAP_S
    # the quarter points of the ramp are PWL breakpoints, so samples fall where _verify reads
    pts += [(t_verify + k * _T_VRAMP_S / 4, k * p.v_read / 4) for k in range(5)]
    t = t_verify + _T_VRAMP_S
    pts += [(t + _T_VHOLD_S / 2, p.v_read), (t + _T_VHOLD_S, p.v_read),
            (t + _T_VHOLD_S + _T_VRAMP_S, 0.0)]
    t_op = t + _T_VHOLD_S + _T_VRAMP_S + 2 * _GAP_S
    return Timeline(points=pts, t_verify=t_verify, t_op=t_op)


def _smoothstep(u: str) -> str:
    """ngspice expression: 0 for u <= 0, 1 for u >= 1, 3u^2 - 2u^3 between (C1-smooth)."""
    c = f"min(max({u}, 0), 1)"
    return f"({c} * {c} * (3 - 2 * {c}))"


def _window_start(t_spike_abs: float) -> float:
    return t_spike_abs + _EDGE_S + _GUARD_S


def build(p: MemstackParams, pdk: Pdk, corner: str = "tt") -> Netlist:  # noqa: ARG001 - no MOS
    """The cell: two stacks on one programming row, conveyor, membrane, comparator with reset."""
    tl = timeline(p)
    spikes = [tl.t_op + s for s in p.spike_times]
    t_stop, t_max = stop_and_step(p)
    net = Netlist("memstack neuron/synapse cell",
                  analysis=f".tran {fmt(t_max)} {fmt(t_stop)} 0 {fmt(t_max)}",
                  options={"gmin": p.gmin, "method": "gear"})
    net.include(str(device_model("memstack.lib")))
    net.param("g_leak", p.g_leak)
    v_th = net.param("v_th", p.v_th)
    v_rst, g_reset = net.param("v_rst", p.v_rst), net.param("g_reset", p.g_reset)

    drive, window = list(tl.points), [(0.0, 0.0)]
    for t in spikes:
        _pulse(drive, t, p.v_read, 2 * _GUARD_S + p.t_read)
        a = _window_start(t)
        window += [(a, 0.0), (a + _EDGE_S, 1.0), (a + p.t_read, 1.0), (a + p.t_read + _EDGE_S, 0.0)]
    t_open = tl.t_op - _GAP_S
    net.V("drv", "prg", net.gnd, pwl(drive))
    net.V("ph", "ph", net.gnd, pwl([(0.0, 1.0), (t_open, 1.0), (t_open + _EDGE_S, 0.0)]))
    net.V("win", "win", net.gnd, pwl(window))

    op = "(1 - V(ph))"  # 1 in the operating phase
    # synapse: formed stack read at a virtual ground, windowed conveyor output into m
    syn_range = {} if p.g_scale == 1.0 else {"g_min": fmt(G_MIN_S * p.g_scale), "g_max": fmt(G_MAX_S * p.g_scale)}
    net.X("syn", "memstack", "prg", "bs", "xs", "ys", **syn_range)
    net.V("sense", "bs", net.gnd, 0)
    net.B("inj", net.gnd, "mi", i="i(vsense) * V(win)")
    net.V("inj", "mi", "m", 0)
    # membrane: programming switch, unformed stack, leak
    net.B("prg", "prg", "m", i=f"V(prg, m) * ({fmt(_G_ON_S)} * V(ph) + {fmt(_G_OFF_S)})")
    mem_range = {} if p.c_scale == 1.0 else {"c_min": fmt(C_MIN_F * p.c_scale), "c_max": fmt(C_MAX_F * p.c_scale)}
    net.X("mem", "memstack", "m", "bm", "xm", "ym", formed=0, **mem_range)
    net.V("msense", "bm", net.gnd, 0)
    net.R("leak", "m", net.gnd, "{1 / g_leak}")  # the .param g_leak above
    # comparator with reset: latch spk set above v_th (operating phase only; the threshold drops
    # by _HYST_V*spk once it starts, so the set is regenerative), cleared below v_rst.  Both
    # terms are exactly zero outside their region, so an idle latch draws nothing from m.
    w_cmp = fmt(_W_CMP_V)
    hyst = f"min({fmt(_HYST_V)}, ({v_th} - {v_rst}) / 2) * V(spk)"
    set_ = _smoothstep(f"(V(m) - {v_th} + {hyst}) / {w_cmp}")
    clear = _smoothstep(f"({v_rst} - V(m)) / {w_cmp}")
    net.B("latch", net.gnd, "spk",
          i=f"{fmt(_K_LATCH)} * ({op} * {set_} * (1 - V(spk)) - {clear} * V(spk))")
    net.C("latch", "spk", net.gnd, 1)
    net.B("reset", "m", net.gnd, i=f"{g_reset} * V(spk) * V(m)")
    over = f"max(V(m) - {fmt(V_OPERATE_MAX_V)}, 0)"
    net.B("clamp", "m", net.gnd,
          i=f"{op} * {fmt(_G_CLAMP_S)} * {over} * {over} / ({over} + {fmt(_W_CLAMP_V)})")
    return net


def _verify(t: np.ndarray, v: np.ndarray, i: np.ndarray, t0: float) -> tuple[float, float]:
    """Conductance (S) and capacitance (F) of one stack from the verify read at ``t0``.

    G: plateau current over plateau voltage.  C: over the middle half of the
    linear rising ramp the current is G*V + C*dV/dt, so C is the charge
    minus G*integral(V), over the voltage change.
    """
    t_mid = t0 + _T_VRAMP_S + _T_VHOLD_S / 2
    g = float(np.interp(t_mid, t, i) / np.interp(t_mid, t, v))
    t1, t2 = t0 + _T_VRAMP_S / 4, t0 + 3 * _T_VRAMP_S / 4
    dv = float(np.interp(t2, t, v) - np.interp(t1, t, v))
    q = charge(t, i, t1, t2) - g * charge(t, v, t1, t2)
    return g, q / dv


def _tau(t: np.ndarray, v_m: np.ndarray, t_from: float) -> float:
    """Membrane time constant (s): exponential fit to rest (0 V) of the decay after ``t_from``."""
    v0 = float(np.interp(t_from, t, v_m))
    if not v0 > 1e-4:
        return float("nan")
    keep = (t >= t_from) & (v_m > 0.02 * v0)
    try:
        return fit_exponential(t[keep], v_m[keep], y_inf=0.0).tau
    except ValueError:
        return float("nan")


def measure(w, p: MemstackParams) -> dict:
    """Programmed G and C, fitted tau, charge per input spike, output spike times."""
    tl = timeline(p)
    t, v_m, spk = w["time"], w["v(m)"], w["v(spk)"]
    g_s, c_syn = _verify(t, w["v(prg)"], w["i(vsense)"], tl.t_verify)
    _, c_f = _verify(t, v_m, w["i(vmsense)"], tl.t_verify)
    starts = [_window_start(tl.t_op + s) for s in p.spike_times]
    i_inj = w["i(vinj)"]
    charges = [charge(t, i_inj, a - _EDGE_S, a + p.t_read + 2 * _EDGE_S) for a in starts]
    out = crossing_times(t, spk, 0.5, "rising")
    out = out[out > tl.t_op]
    t_from = starts[-1] + p.t_read + 2 * _EDGE_S
    falls = crossing_times(t, spk, 0.5, "falling")
    if falls.size and falls[-1] > t_from - p.t_read:
        t_from = max(t_from, float(falls[-1]) + 10 * _EDGE_S)
    return {
        "g_s": g_s,
        "c_f": c_f,
        "c_syn_f": c_syn,
        "tau_s": _tau(t, v_m, t_from),
        "charge_per_spike_c": float(np.mean(charges)),
        "spike_times_s": out - tl.t_op,
    }


def plot(w, p: MemstackParams, fig) -> None:
    """Programming drive and states; membrane and output spikes of the operating phase."""
    tl = timeline(p)
    t = w["time"]
    ax1, ax2, ax3 = fig.subplots(3, 1)
    prog = t <= tl.t_op
    ax1.plot(t[prog] * 1e6, w["v(prg)"][prog], lw=0.8)
    ax1.set_ylabel("prg (V)")
    ax1.set_title("programming: x pulses, y erase, y pulses, verify")
    ax2.plot(t[prog] * 1e6, w["v(xs)"][prog], label="x (synapse)")
    ax2.plot(t[prog] * 1e6, w["v(ys)"][prog], label="y (synapse)")
    ax2.plot(t[prog] * 1e6, w["v(ym)"][prog], "--", label="y (membrane)")
    ax2.set_ylabel("state")
    ax2.set_xlabel("time (us)")
    ax2.legend(fontsize=7)
    op = ~prog
    t_op = (t[op] - tl.t_op) * 1e6
    ax3.plot(t_op, w["v(m)"][op], label="membrane")
    ax3.plot(t_op, 0.25 * w["v(spk)"][op], label="spike (x0.25)")
    ax3.axhline(p.v_th, color="grey", lw=0.5)
    ax3.set_xlabel("time after programming (us)")
    ax3.set_ylabel("V")
    ax3.legend(fontsize=7)
    fig.tight_layout()


def monte_carlo(p: MemstackParams, rng) -> dict[str, float]:
    """One chip's devices: the stacks' G and C ranges scaled by log-normal factors."""
    return {"g_scale": float(np.clip(rng.lognormal(0.0, p.sigma_g), 0.1, 10.0)),
            "c_scale": float(np.clip(rng.lognormal(0.0, p.sigma_c), 0.1, 10.0))}


register(CircuitDef(
    name="memstack",
    doc="RSNN neuron/synapse cell: memristive stack weight G(x), memcapacitive membrane C(y)",
    params=MemstackParams, build=build, measure=measure, plot=plot, monte_carlo=monte_carlo,
    measures={
        "g_s": "S: programmed conductance of the synapse stack (verify-read plateau I/V)",
        "c_f": "F: programmed capacitance of the membrane stack (verify-ramp displacement charge)",
        "c_syn_f": "F: capacitance of the synapse stack, measured the same way",
        "tau_s": "s: membrane time constant, exponential fit of the decay after the last input "
                 "(= C(y)/g_leak)",
        "charge_per_spike_c": "C: synaptic charge per input spike, mean over spikes "
                              "(= g_s*v_read*t_read)",
        "spike_times_s": "s: output spike times (latch rising through 0.5 V) after the start of "
                         "the operating phase",
    },
))
