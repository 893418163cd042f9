"""``pcm-trace``: PCM drift as a long eligibility trace for three-factor learning (arXiv 2102.07260).

Schematic (``mode=trace``)::

    pre ─┐  I_x = 1 - (V_th - V_mem)/V_th
    mem ─┴─[gate]─ I_x > I_th+ ─> set_ep ─> e+ (PCM) ─┐
                └─ I_x < I_th- ─> set_em ─> e- (PCM) ─┤
                                                       ├── rd (read line, V_read)
    reward ─> set_w ─> W+ (PCM), strength amp_wp ──────┤
                       W- (PCM), strength amp_wm ──────┘
              amp_w± = I_PROG± / i_set_a,  I_PROG± = scale_const * I_e±

Per the paper's algorithm: on each presynaptic spike after ``t_init_s``, the
postsynaptic signal ``I_x`` selects which trace PCM receives one gradual
SET: ``e+`` when ``I_x > I_th+``, ``e-`` when ``I_x < I_th-``, neither in
between.  The traces then decay by conductance drift (a power law, not an
exponential).  A reward reads both traces, scales each read current to a
programming current ``I_PROG = scale_const * I_e`` and applies one gradual
SET of strength ``I_PROG / i_set_a`` nominal pulses to ``W+`` and ``W-``
respectively, so that W+ - W- moves with the sign of e+ - e-.

``mode=drift`` is the characterisation circuit of one trace cell: ``k =
n_pulses`` gradual SET pulses, then the cell is read every
``t_read_period_s`` to ``t_stop_s`` (100 s) to observe the drift.

Choices, documented:

* Devices are ``devicemodels/pcm.lib`` instances: the step model of
  Nandakumar et al. 2018 and the drift G = G_p*((t - t_p + t0)/t0)^-nu.  The
  trace cells use ``nu_trace = 0.1`` (amorphous-dominated low-G states drift
  at the top of the 0.05-0.1 range), the weights the published 0.04.
* The gate (two ideal comparators on ``I_x``) and the current-to-strength
  scaler are behavioural B-sources, not transistor circuits.
* Reads never disturb the model cell, so every cell sits on one read line
  held at ``v_read_v`` and its ammeter is sampled every ``t_read_period_s``
  (the samples equal those of pulsed reads, and a sample time cannot be
  stepped over); a reward samples the e+/e- read currents at the instant
  of its W SET pulse.
* Each SET / presynaptic / reward pulse is its own PWL source (chained in
  series): ngspice plants the first corner of every PWL source as a
  breakpoint from t = 0, but finds later corners of one long PWL only by
  landing exactly on the previous one, so one missed corner would silently
  drop every later pulse of a 100 s transient.
* The programming noise is drawn here, in Python (``seed``, one numpy
  SeedSequence child per device), as one standard-normal deviate per pulse
  written into a PWL source on each cell's ``z`` pin; ``sigma_scale`` (a
  ``.param``) scales it, 0 giving every cell its mean step.

The model's conductance nodes are in microsiemens (1 V = 1 uS on the ``g``
pins); every parameter and measure here is in SI units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..extract.measures import fit_power_law
from ..params import Params, fmt, param
from ..pdk import Pdk, device_model
from .base import CircuitDef, Netlist, pwl, register

_EDGE_S = 10e-9  # rise/fall time of every pulse
_T_RELAX_S = 50e-9  # pcm.lib t_relax: SET pulses must last >= 20x this
_US = 1e-6  # S per volt on the model's g pins
_STREAMS = ("e_plus", "e_minus", "w_plus", "w_minus")  # one random stream per device


@dataclass(frozen=True)
class PcmTraceParams(Params):
    """Parameters of the ``pcm-trace`` circuit."""

    mode: str = param("trace", "", "trace: e+/e- eligibility and W+/W- weight pairs; "
                      "drift: one trace PCM, k SET pulses, then periodic reads",
                      choices=("trace", "drift"))
    # devices
    nu_trace: float = param(0.1, "", "drift exponent of the trace PCMs (amorphous-dominated)",
                            min=0.0, max=0.5)
    nu_weight: float = param(0.04, "", "drift exponent of the weight PCMs (published model)",
                             min=0.0, max=0.5)
    t0_s: float = param(38.6, "s", "drift reference time t0", min=0.0, min_exclusive=True, max=1e9)
    g_reset_s: float = param(0.1e-6, "S", "conductance after RESET: initial e+, e- and drift cell",
                             min=10e-9, max=1e-3)
    g_w0_s: float = param(2e-6, "S", "initial conductance of W+ and W-", min=10e-9, max=1e-3)
    g_floor_s: float = param(0.1e-6, "S", "lowest conductance a SET pulse leaves (RESET level)",
                          min=10e-9, max=1e-3)
    gmax_s: float = param(12e-6, "S", "maximum PCM conductance", min=0.0, min_exclusive=True, max=1e-3)
    sigma_scale: float = param(1.0, "", "scale of the published programming noise (0: mean steps)",
                               min=0.0, max=10.0, variability=True)
    seed: int = param(1, "", "seed of the per-pulse deviates (numpy SeedSequence)", min=0, max=2**62)
    sigma_nu: float = param(0.1, "", "Monte Carlo: relative device-to-device spread of the drift exponents "
                            "(choose)", min=0.0, max=1.0, variability=True)
    # pulses and reads
    t_set_s: float = param(1e-6, "s", "width of one gradual-SET pulse (>= 20 x 50 ns)",
                           min=20 * _T_RELAX_S, max=1.0)
    v_read_v: float = param(0.2, "V", "read voltage", min=0.0, min_exclusive=True, max=1.0)
    t_read_period_s: float = param(1.0, "s", "period of the trace reads", min=0.0, min_exclusive=True,
                                   max=1e6)
    t_stop_s: float = param(100.0, "s", "transient length", min=0.0, min_exclusive=True, max=1e7)
    # drift mode
    n_pulses: int = param(5, "", "drift mode: number k of SET pulses", min=1, max=1000)
    t_pulse_period_s: float = param(1e-3, "s", "drift mode: spacing of the SET pulses (first at one "
                                    "period)", min=0.0, min_exclusive=True, max=1e6)
    # trace mode
    n_pre: int = param(4, "", "trace mode: number of presynaptic spikes", min=1, max=1000)
    t_pre_s: tuple[float, ...] = param((0.1, 0.3, 0.5, 0.7), "s", "presynaptic spike times (increasing)",
                                       min=0.0, length_of="n_pre")
    v_mem_v: tuple[float, ...] = param((0.9, 0.85, 0.1, 0.95), "V",
                                       "postsynaptic membrane voltage at each presynaptic spike",
                                       min=-100.0, max=100.0, length_of="n_pre")
    v_th_v: float = param(1.0, "V", "postsynaptic firing threshold V_th", min=0.0, min_exclusive=True,
                          max=100.0)
    i_th_plus: float = param(0.7, "", "I_x above this SETs e+", min=-1e3, max=1e3)
    i_th_minus: float = param(0.3, "", "I_x below this SETs e- (<= i_th_plus)", min=-1e3, max=1e3)
    t_init_s: float = param(0.0, "s", "spikes before this time leave the traces alone", min=0.0, max=1e7)
    n_reward: int = param(1, "", "trace mode: number of rewards", min=1, max=1000)
    t_reward_s: tuple[float, ...] = param((10.5,), "s", "reward times (increasing)", min=0.0,
                                          length_of="n_reward")
    scale_const: float = param(100.0, "A/A", "I_PROG = scale_const * trace read current",
                               min=0.0, max=1e9)
    i_set_a: float = param(100e-6, "A", "programming current of one nominal gradual-SET pulse",
                           min=0.0, min_exclusive=True, max=1.0)


# --------------------------------------------------------------------------
# timing: one schedule shared by build (sources) and measure (sample times)


@dataclass(frozen=True)
class Schedule:
    """Start times (s) of the pulses the circuit applies and the read sample times.

    A pulse starting at ``s`` rises over ``_EDGE_S``, stays flat for
    ``t_set_s`` and falls over ``_EDGE_S``; a cell is programmed at the end
    of the flat top (:meth:`set_end`).
    """

    set_start: np.ndarray  # drift: the k SET pulses; trace: the presynaptic pulses
    reward_start: np.ndarray  # trace: the W+/W- SET pulses (empty in drift mode)
    read_t: np.ndarray  # trace sample times

    @staticmethod
    def end(starts: np.ndarray, p: PcmTraceParams) -> np.ndarray:
        """End of the flat top of pulses starting at ``starts`` (s): the programming time t_p."""
        return starts + _EDGE_S + p.t_set_s


def _set_len(p: PcmTraceParams) -> float:
    return p.t_set_s + 2 * _EDGE_S


def _check_increasing(name: str, times: np.ndarray, min_gap: float) -> None:
    if times.size > 1 and np.any(np.diff(times) <= min_gap):
        raise ParameterError(f"parameter {name}: times must increase by more than {min_gap:g} s "
                             "(one SET pulse each)")


def schedule(p: PcmTraceParams) -> Schedule:
    """The pulse and sample schedule of ``p``; :class:`ParameterError` when it does not fit."""
    gap = 2 * _set_len(p)
    rewards = np.array([])
    if p.mode == "drift":
        if p.t_pulse_period_s <= gap:
            raise ParameterError(f"t_pulse_period_s={p.t_pulse_period_s:g} s must exceed twice the SET "
                                 f"pulse ({gap:g} s)")
        sets = p.t_pulse_period_s * np.arange(1, p.n_pulses + 1)
    else:
        if p.i_th_minus > p.i_th_plus:
            raise ParameterError(f"i_th_minus={p.i_th_minus:g} must not exceed i_th_plus={p.i_th_plus:g}")
        sets = np.asarray(p.t_pre_s, dtype=float)
        rewards = np.asarray(p.t_reward_s, dtype=float)
        _check_increasing("t_pre_s", sets, gap)
        _check_increasing("t_reward_s", rewards, gap)
        # the reward reads e+/e- during its pulse: no trace may be programmed meanwhile
        if np.any(np.abs(rewards[:, None] - sets[None, :]) <= gap):
            raise ParameterError("a reward coincides with a presynaptic spike (within "
                                 f"{gap:g} s): the trace must be still while it is read")
    busy = np.concatenate([sets, rewards])
    if busy.max() + _set_len(p) >= p.t_stop_s:
        raise ParameterError(f"the pulses end at {busy.max() + _set_len(p):g} s, "
                             f"after t_stop_s={p.t_stop_s:g} s")
    reads = p.t_read_period_s * np.arange(1, np.floor(p.t_stop_s / p.t_read_period_s) + 1)
    reads = reads[reads < p.t_stop_s]
    if p.mode == "drift":
        reads = reads[reads > sets[-1] + gap]
    # a sample during a pulse would catch a cell mid-step
    reads = reads[np.all(np.abs(reads[:, None] - busy[None, :] - _set_len(p) / 2) > gap, axis=1)]
    if reads.size < 2:
        raise ParameterError("fewer than 2 trace reads fit before t_stop_s: lengthen t_stop_s or "
                             "shorten t_read_period_s")
    return Schedule(set_start=sets, reward_start=rewards, read_t=reads)


# --------------------------------------------------------------------------
# sources


def _pulse_chain(net: Netlist, name: str, out: str, starts: np.ndarray, width: float) -> None:
    """Drive ``out`` with 1 V pulses of ``width`` (s) at ``starts``: one PWL source each, in series."""
    below = net.gnd
    for k, s in enumerate(starts):
        above = out if k == starts.size - 1 else f"{name}_{k}"
        pts = [(0.0, 0.0)] if s > 0 else []
        pts += [(s, 0.0), (s + _EDGE_S, 1.0), (s + _EDGE_S + width, 1.0), (s + 2 * _EDGE_S + width, 0.0)]
        net.V(f"{name}{k}", above, below, pwl([(float(t), v) for t, v in pts]))
        below = above


def _held(starts: np.ndarray, width: float, values: np.ndarray) -> str:
    """PWL text holding ``values[k]`` around pulse k and ramping in the middle half of each gap."""
    ends = starts + 2 * _EDGE_S + width
    pts = [(0.0, float(values[0]))]
    for k in range(1, starts.size):
        quarter = (starts[k] - ends[k - 1]) / 4
        pts += [(float(ends[k - 1] + quarter), float(values[k - 1])),
                (float(starts[k] - quarter), float(values[k]))]
    return pwl(pts)


def deviates(p: PcmTraceParams, n_set: int, n_reward: int) -> dict[str, np.ndarray]:
    """Standard-normal deviates per pulse and device, from ``seed`` (one SeedSequence child per device).

    Drift mode uses ``e_plus`` (one per SET pulse); trace mode draws one per
    presynaptic spike for each trace cell (used when that spike programs it)
    and one per reward for each weight cell.
    """
    children = np.random.SeedSequence(p.seed).spawn(len(_STREAMS))
    sizes = {"e_plus": n_set, "e_minus": n_set, "w_plus": n_reward, "w_minus": n_reward}
    return {name: np.random.default_rng(child).standard_normal(sizes[name])
            for name, child in zip(_STREAMS, children, strict=True)}


def _cell(net: Netlist, name: str, set_node: str, amp_node: str, z_node: str, nu: str, g0: str) -> None:
    """One pcm.lib instance on the read line via ammeter ``V<name>``; G observable at ``g_<name>``."""
    net.V(name, "rd", f"p_{name}", 0)
    net.X(name, "pcm", f"p_{name}", net.gnd, set_node, amp_node, z_node, f"g_{name}",
          nu=nu, t0="{t0_s}", g0=g0, g_floor="{g_floor_s*1e6}", gmax="{gmax_s*1e6}",
          k_std="{sigma_scale}")


# --------------------------------------------------------------------------
# netlist


def build(p: PcmTraceParams, pdk: Pdk, corner: str = "tt") -> Netlist:  # noqa: ARG001 - no MOS
    """The ``pcm-trace`` netlist (``mode`` trace or drift); see the module docstring."""
    if p.g_floor_s >= p.gmax_s:
        raise ParameterError(f"g_floor_s={p.g_floor_s:g} S must be below gmax_s={p.gmax_s:g} S")
    sch = schedule(p)
    # pulses are breakpoints; the max step only bounds the sampling of the slow drift
    t_max = min(p.t_read_period_s, p.t_stop_s / 100) / 4
    net = Netlist(f"pcm-trace ({p.mode})",
                  analysis=f".tran {fmt(t_max / 10)} {fmt(p.t_stop_s)} 0 {fmt(t_max)}",
                  options={"method": "gear", "reltol": 1e-4, "minbreak": _EDGE_S / 100})
    net.include(str(device_model("pcm.lib")))
    for name in ("nu_trace", "nu_weight", "t0_s", "g_reset_s", "g_w0_s", "g_floor_s", "gmax_s",
                 "sigma_scale", "v_read_v"):
        net.param(name, getattr(p, name))
    net.V("rd", "rd", net.gnd, "{v_read_v}")
    net.V("one", "one", net.gnd, 1.0)  # nominal pulse strength
    z = deviates(p, sch.set_start.size, sch.reward_start.size)
    if p.mode == "drift":
        _pulse_chain(net, "set", "set", sch.set_start, p.t_set_s)
        net.V("z", "z", net.gnd, _held(sch.set_start, p.t_set_s, z["e_plus"]))
        _cell(net, "cell", "set", "one", "z", "{nu_trace}", "{g_reset_s*1e6}")
        return net
    for name in ("v_th_v", "i_th_plus", "i_th_minus", "t_init_s", "scale_const", "i_set_a"):
        net.param(name, getattr(p, name))
    # eligibility: presynaptic pulses gated by the postsynaptic signal I_x
    _pulse_chain(net, "pre", "pre", sch.set_start, p.t_set_s)
    net.V("mem", "mem", net.gnd, _held(sch.set_start, p.t_set_s, np.asarray(p.v_mem_v)))
    i_x = "(1 - (v_th_v - V(mem)) / v_th_v)"
    net.B("gate_p", "set_ep", net.gnd, v=f"V(pre) * ({i_x} > i_th_plus) * (time > t_init_s)")
    net.B("gate_m", "set_em", net.gnd, v=f"V(pre) * ({i_x} < i_th_minus) * (time > t_init_s)")
    net.V("zep", "z_ep", net.gnd, _held(sch.set_start, p.t_set_s, z["e_plus"]))
    net.V("zem", "z_em", net.gnd, _held(sch.set_start, p.t_set_s, z["e_minus"]))
    _cell(net, "ep", "set_ep", "one", "z_ep", "{nu_trace}", "{g_reset_s*1e6}")
    _cell(net, "em", "set_em", "one", "z_em", "{nu_trace}", "{g_reset_s*1e6}")
    # third factor: the reward's SET strength is the scaled trace read current
    net.B("amp_p", "amp_wp", net.gnd, v="max(i(vep), 0) * scale_const / i_set_a")
    net.B("amp_m", "amp_wm", net.gnd, v="max(i(vem), 0) * scale_const / i_set_a")
    _pulse_chain(net, "rew", "set_w", sch.reward_start, p.t_set_s)
    net.V("zwp", "z_wp", net.gnd, _held(sch.reward_start, p.t_set_s, z["w_plus"]))
    net.V("zwm", "z_wm", net.gnd, _held(sch.reward_start, p.t_set_s, z["w_minus"]))
    _cell(net, "wp", "set_w", "amp_wp", "z_wp", "{nu_weight}", "{g_w0_s*1e6}")
    _cell(net, "wm", "set_w", "amp_wm", "z_wm", "{nu_weight}", "{g_w0_s*1e6}")
    return net


# --------------------------------------------------------------------------
# measures


def _at(w, name: str, times: np.ndarray) -> np.ndarray:
    return np.interp(times, w["time"], w[name])


def _nu_fit(t: np.ndarray, g: np.ndarray, t_p: float, t0: float) -> float:
    """Drift exponent from samples after ``t_p``, fitted against (t - t_p + t0): the model's law."""
    after = (t > t_p) & (g > 0)
    if np.count_nonzero(after) < 2:
        return float("nan")
    return -fit_power_law(t[after] - t_p + t0, g[after]).exponent


def measure(w, p: PcmTraceParams) -> dict[str, object]:
    """Trace samples, conductances after pulses, fitted drift exponent and weight changes (SI units)."""
    sch = schedule(p)
    t = sch.read_t
    after_set = Schedule.end(sch.set_start, p) + 2 * _EDGE_S  # past the falling edge
    empty = np.array([])
    if p.mode == "drift":
        i_read = _at(w, "i(vcell)", t)
        t_p = float(Schedule.end(sch.set_start, p)[-1])
        return {
            "trace_t_s": t, "trace_g_s": i_read / p.v_read_v, "read_current_a": i_read,
            "read_current_minus_a": empty,
            "g_after_pulses_s": _at(w, "v(g_cell)", after_set) * _US, "pre_target": empty,
            "t_p_s": t_p, "nu_fit": _nu_fit(t, i_read / p.v_read_v, t_p, p.t0_s),
            "w_diff_s": empty, "dw_s": empty,
        }
    i_plus, i_minus = _at(w, "i(vep)", t), _at(w, "i(vem)", t)
    # which trace each presynaptic spike programmed, as seen on the gate outputs
    mid = sch.set_start + _EDGE_S + p.t_set_s / 2
    hit_p, hit_m = _at(w, "v(set_ep)", mid) > 0.5, _at(w, "v(set_em)", mid) > 0.5
    g_after = np.where(hit_p, _at(w, "v(g_ep)", after_set),
                       np.where(hit_m, _at(w, "v(g_em)", after_set), np.nan)) * _US
    t_p = float(Schedule.end(sch.set_start, p)[hit_p][-1]) if hit_p.any() else 0.0
    diff = (w["v(g_wp)"] - w["v(g_wm)"]) * _US
    before = np.interp(sch.reward_start, w["time"], diff)
    after = np.interp(sch.reward_start + _set_len(p) + _EDGE_S, w["time"], diff)
    return {
        "trace_t_s": t, "trace_g_s": (i_plus - i_minus) / p.v_read_v, "read_current_a": i_plus,
        "read_current_minus_a": i_minus, "g_after_pulses_s": g_after,
        "pre_target": hit_p.astype(float) - hit_m.astype(float),
        "t_p_s": t_p, "nu_fit": _nu_fit(t, i_plus / p.v_read_v, t_p, p.t0_s),
        "w_diff_s": after, "dw_s": after - before,
    }


def plot(w, p: PcmTraceParams, fig) -> None:
    """Conductance of every cell over time (top) and the sampled trace on a log time axis (bottom)."""
    m = measure(w, p)
    ax1, ax2 = fig.subplots(2, 1)
    cells = ["cell"] if p.mode == "drift" else ["ep", "em", "wp", "wm"]
    for cell in cells:
        ax1.plot(w["time"], w[f"v(g_{cell})"], label=cell)
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("G (uS)")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    t_since = np.asarray(m["trace_t_s"]) - m["t_p_s"] + p.t0_s
    ax2.loglog(t_since, np.abs(np.asarray(m["trace_g_s"])) / _US, "o", ms=3,
               label="read G" if p.mode == "drift" else "|e+ - e-| (read)")
    ax2.set_xlabel("t - t_p + t0 (s)")
    ax2.set_ylabel("G (uS)")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, which="both")
    fig.suptitle(f"pcm-trace ({p.mode}): nu_fit = {m['nu_fit']:.4g}")
    fig.tight_layout()


def monte_carlo(p: PcmTraceParams, rng) -> dict[str, object]:
    """One device sample: fresh programming noise (a new ``seed``) and drift exponents spread by ``sigma_nu``."""
    def spread(nu: float) -> float:
        return float(np.clip(nu * (1.0 + p.sigma_nu * rng.standard_normal()), 0.0, 0.5))
    return {"seed": int(rng.integers(0, 2**62)), "nu_trace": spread(p.nu_trace), "nu_weight": spread(p.nu_weight)}


register(CircuitDef(
    name="pcm-trace",
    doc="PCM-trace eligibility trace (drift power law) with reward-driven weight pair; or one-cell drift",
    params=PcmTraceParams, build=build, measure=measure, plot=plot, monte_carlo=monte_carlo,
    measures={
        "trace_t_s": "s: times of the periodic trace reads",
        "trace_g_s": "S: read conductance I/V_read at trace_t_s (drift: the cell; trace: e+ - e-)",
        "read_current_a": "A: read current at trace_t_s (drift: the cell; trace: e+)",
        "read_current_minus_a": "A: trace mode: e- read current at trace_t_s (empty in drift mode)",
        "g_after_pulses_s": "S: G after each SET pulse (trace: of the cell each presynaptic spike "
                            "programmed; nan when gated off)",
        "pre_target": "trace mode: +1 / -1 / 0 per presynaptic spike: e+ / e- / neither was SET",
        "t_p_s": "s: last programming of the drift cell (trace: of e+; 0 if never)",
        "nu_fit": "drift exponent fitted on the read trace after t_p_s against (t - t_p + t0)",
        "w_diff_s": "S: trace mode: W+ - W- after each reward",
        "dw_s": "S: trace mode: change of W+ - W- across each reward",
    },
))
