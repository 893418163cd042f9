"""``rc``: an RC low-pass driven by a voltage step -- the reference circuit of the flow.

Schematic::

    vin --[ R ]-- out
                   |
                  [C]
                   |
                  gnd

The step rises at t = 0 (1 ps edge); ``out`` follows ``v_step*(1 - exp(-t/RC))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..extract.measures import crossing_time
from ..params import Params, fmt, param
from ..pdk import Pdk
from .base import CircuitDef, Netlist, register

_EDGE_S = 1e-12


@dataclass(frozen=True)
class RCParams(Params):
    """Parameters of the ``rc`` reference circuit."""

    r: float = param(10e3, "Ohm", "series resistance", min=0.0, min_exclusive=True, max=1e15)
    c: float = param(1e-9, "F", "load capacitance", min=0.0, min_exclusive=True, max=1.0)
    v_step: float = param(1.0, "V", "amplitude of the input step", min=0.0, min_exclusive=True, max=100.0)
    t_stop: float = param(100e-6, "s", "transient length (make it several R*C)", min=0.0,
                          min_exclusive=True, max=1e6)
    n_steps: int = param(2000, "", "maximum time step = t_stop / n_steps", min=10, max=10_000_000)
    sigma_r: float = param(0.0, "", "Monte Carlo: log-normal sigma of R (relative spread)", min=0.0, max=2.0,
                           variability=True)
    sigma_c: float = param(0.0, "", "Monte Carlo: relative (normal) sigma of C (mismatch)", min=0.0, max=0.3,
                           variability=True)


def build(p: RCParams, pdk: Pdk, corner: str = "tt") -> Netlist:  # noqa: ARG001 - no MOS devices
    """The RC low-pass netlist; R, C and the step are ``.param`` values."""
    t_max = p.t_stop / p.n_steps
    net = Netlist("rc low-pass step response",
                  analysis=f".tran {fmt(t_max)} {fmt(p.t_stop)} 0 {fmt(t_max)}")
    r, c, v = net.param("r", p.r), net.param("c", p.c), net.param("v_step", p.v_step)
    net.V("in", "in", net.gnd, f"PULSE(0 {v} 0 {fmt(_EDGE_S)} {fmt(_EDGE_S)} 1e6 2e6)")
    net.R("1", "in", "out", r)
    net.C("1", "out", net.gnd, c)
    return net


def measure(w, p: RCParams) -> dict[str, float]:
    """``tau_s``: time to 1 - 1/e of the step; ``t50_s``: time to half; ``v_final_v``."""
    t, out = w["time"], w["v(out)"]
    edge = _EDGE_S / 2  # the input crosses half its swing mid-edge
    return {
        "tau_s": crossing_time(t, out, p.v_step * (1 - np.exp(-1.0))) - edge,
        "t50_s": crossing_time(t, out, p.v_step * 0.5) - edge,
        "v_final_v": float(out[-1]),
    }


def monte_carlo(p: RCParams, rng) -> dict[str, float]:
    """One device sample: R log-normal with ``sigma_r``, C normal with ``sigma_c`` (clipped > 0)."""
    r = p.r * float(rng.lognormal(0.0, p.sigma_r)) if p.sigma_r else p.r
    c = p.c * max(1e-3, 1.0 + p.sigma_c * float(rng.standard_normal())) if p.sigma_c else p.c
    return {"r": r, "c": c}


register(CircuitDef(
    name="rc", doc="RC low-pass driven by a voltage step (reference circuit)",
    params=RCParams, build=build, measure=measure, monte_carlo=monte_carlo,
    measures={"tau_s": "s: time for out to reach 1-1/e of the step (= R*C)",
              "t50_s": "s: time for out to reach half the step (= R*C*ln 2)",
              "v_final_v": "V: out at the end of the transient"},
))
