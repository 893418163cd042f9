"""``rram-iv``: the behavioural RRAM (devicemodels/rram.lib) under a triangular voltage sweep.

Schematic::

    vs (triangle 0 -> +v_max -> 0 -> -v_min... per period) --- p [RRAM] n --- gnd
                                                              x = state node

Optionally ``n_reads`` read pulses of ``v_read`` follow the sweep, to show that
reads leave the state unchanged.  The sweep shows the pinched hysteresis loop
of a threshold memristor when ``v_max`` exceeds ``v_set`` and ``-v_min`` is
below ``v_reset``; a sweep inside the thresholds switches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import Params, fmt, param
from ..pdk import Pdk, device_model
from .base import CircuitDef, Netlist, pwl, register


@dataclass(frozen=True)
class RramIVParams(Params):
    """Parameters of the ``rram-iv`` characterisation circuit."""

    v_max: float = param(1.5, "V", "positive peak of the triangle", min=0.0, max=10.0)
    v_min: float = param(1.5, "V", "magnitude of the negative peak of the triangle", min=0.0, max=10.0)
    period: float = param(1e-3, "s", "duration of one triangle period", min=1e-9, max=1e3)
    n_periods: int = param(2, "", "number of triangle periods", min=1, max=100)
    r_lrs: float = param(10e3, "Ohm", "low-resistance state (rram.lib default)", min=1.0, max=1e15)
    r_hrs: float = param(1e6, "Ohm", "high-resistance state (rram.lib default; physical HRS 100k-10M)",
                         min=1.0, max=1e15)
    v_set: float = param(0.9, "V", "SET threshold", min=0.0, min_exclusive=True, max=10.0)
    v_reset: float = param(-0.9, "V", "RESET threshold", min=-10.0, max=0.0)
    x0: float = param(0.0, "", "initial state (0 = HRS, 1 = LRS)", min=0.0, max=1.0)
    n_reads: int = param(0, "", "read pulses after the sweep", min=0, max=100_000)
    v_read: float = param(0.2, "V", "read pulse amplitude", min=0.0, max=10.0)
    t_read: float = param(1e-6, "s", "read pulse width (period is twice this)", min=1e-12, max=1.0)
    n_steps_per_period: int = param(2000, "", "maximum time steps per triangle period", min=50, max=10_000_000)


def _triangle(p: RramIVParams) -> list[tuple[float, float]]:
    pts, q = [(0.0, 0.0)], p.period / 4
    for k in range(p.n_periods):
        t0 = k * p.period
        pts += [(t0 + q, p.v_max), (t0 + 3 * q, -p.v_min), (t0 + 4 * q, 0.0)]
    return pts


def build(p: RramIVParams, pdk: Pdk, corner: str = "tt") -> Netlist:  # noqa: ARG001 - no MOS devices
    """Triangle (and reads) across one RRAM; the state is node ``x``."""
    t_sweep = p.n_periods * p.period
    t_reads = 2 * p.t_read * p.n_reads
    t_stop = t_sweep + t_reads + (2 * p.t_read if p.n_reads else 0.0)
    t_max = min(p.period / p.n_steps_per_period, p.t_read / 10 if p.n_reads else np.inf)
    net = Netlist("rram triangular sweep", analysis=f".tran {fmt(t_max)} {fmt(t_stop)} 0 {fmt(t_max)}")
    net.include(str(device_model("rram.lib")))
    net.V("s", "s", net.gnd, pwl(_triangle(p)))
    if p.n_reads:
        net.V("r", "p", "s", f"PULSE(0 {fmt(p.v_read)} {fmt(t_sweep + p.t_read)} "
                             f"{fmt(p.t_read / 100)} {fmt(p.t_read / 100)} {fmt(p.t_read * 0.98)} "
                             f"{fmt(2 * p.t_read)} {p.n_reads})")
    else:
        net.V("r", "p", "s", 0)
    net.X("mem", "rram", "p", net.gnd, "x", r_lrs=fmt(p.r_lrs), r_hrs=fmt(p.r_hrs),
          v_set=fmt(p.v_set), v_reset=fmt(p.v_reset), x0=fmt(p.x0))
    return net


def measure(w, p: RramIVParams) -> dict[str, float]:
    """Hysteresis and state measures of the sweep (see ``measures`` in the registry)."""
    t, v, i, x = w["time"], w["v(p)"], -w["i(vs)"], w["v(x)"]
    sweep = t <= p.n_periods * p.period
    # Probe both branches of the last period at V = min(v_max, v_set)/2: on the
    # way up (before any SET of this period) and on the way down (after it).
    probe = 0.5 * min(p.v_max, p.v_set)
    q, last = p.period / 4, (p.n_periods - 1) * p.period
    frac = probe / p.v_max if p.v_max > 0 else 0.0
    i_up = np.interp(last + q * frac, t, i)
    i_down = np.interp(last + 2 * q - q * frac, t, i)
    zero = np.abs(v[sweep]) < 1e-3 * max(p.v_max, p.v_min, 1e-9)
    out = {
        "x_final": float(x[-1]),
        "x_after_sweep": float(np.interp(p.n_periods * p.period, t, x)),
        "x_min": float(x.min()), "x_max": float(x.max()),
        "i_at_zero_max_a": float(np.max(np.abs(i[sweep][zero]))) if zero.any() else float("nan"),
        "branch_ratio": float(max(abs(i_up), abs(i_down)) / max(min(abs(i_up), abs(i_down)), 1e-30)),
        "r_final_ohm": float(p.r_hrs * (p.r_lrs / p.r_hrs) ** np.clip(x[-1], 0, 1)),
    }
    return out


def plot(w, p: RramIVParams, fig) -> None:
    """I-V loop (log |I|) and the state against time."""
    ax1, ax2 = fig.subplots(1, 2)
    sweep = w["time"] <= p.n_periods * p.period
    ax1.semilogy(w["v(p)"][sweep], np.abs(w["i(vs)"][sweep]) + 1e-15)
    ax1.set_xlabel("V (V)")
    ax1.set_ylabel("|I| (A)")
    ax1.set_title("pinched hysteresis")
    ax2.plot(w["time"], w["v(x)"])
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("state x")
    fig.tight_layout()


register(CircuitDef(
    name="rram-iv", doc="behavioural RRAM under a triangular voltage sweep (pinched hysteresis)",
    params=RramIVParams, build=build, measure=measure, plot=plot,
    measures={"x_final": ": state at the end of the run",
              "x_after_sweep": ": state at the end of the sweep (before reads)",
              "x_min": ": lowest state", "x_max": ": highest state",
              "i_at_zero_max_a": "A: largest |I| where |V| is ~0 during the sweep (pinch)",
              "branch_ratio": ": |I| ratio of the up and down branches at V = min(v_max, v_set)/2",
              "r_final_ohm": "Ohm: resistance at the end of the run"},
))
