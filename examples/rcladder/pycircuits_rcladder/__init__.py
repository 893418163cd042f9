"""``rcladder``: N equal RC sections in a row, driven by a voltage step.

Schematic::

    in --[R]-- n1 --[R]-- n2 ... --[R]-- nN (= out)
               |          |              |
              [C]        [C]            [C]
               |          |              |
              gnd        gnd            gnd

Measures: ``t50_s``, the time the last node takes to reach half the step
(R*C*ln 2 for one section), ``elmore_s``, the Elmore delay of the last node
from the circuit values (R*C*N*(N+1)/2), and ``v_final_v``.  Monte Carlo
draws R log-normal with ``sigma_r`` and C normal with ``sigma_c`` (a
die-to-die spread: every section of one sample has the same values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pycircuits.circuits import CircuitDef, Netlist
from pycircuits.extract.measures import crossing_time
from pycircuits.params import Params, fmt, param

_EDGE_S = 1e-12


@dataclass(frozen=True)
class LadderParams(Params):
    """Parameters of the RC ladder."""

    n_stages: int = param(4, "", "number of RC sections", min=1, max=500)
    r: float = param(1e3, "Ohm", "resistance of each section", min=0.0, min_exclusive=True, max=1e12)
    c: float = param(1e-9, "F", "capacitance of each section", min=0.0, min_exclusive=True, max=1.0)
    v_step: float = param(1.0, "V", "amplitude of the input step", min=0.0, min_exclusive=True, max=100.0)
    t_stop: float = param(100e-6, "s", "transient length", min=0.0, min_exclusive=True, max=1e6)
    n_steps: int = param(4000, "", "maximum time step = t_stop / n_steps", min=10, max=10_000_000)
    sigma_r: float = param(0.0, "", "Monte Carlo: log-normal sigma of R", min=0.0, max=2.0, variability=True)
    sigma_c: float = param(0.0, "", "Monte Carlo: relative normal sigma of C", min=0.0, max=0.3,
                           variability=True)


def build(p: LadderParams, pdk=None, corner: str = "tt") -> Netlist:  # noqa: ARG001 - no MOS devices
    """The ladder netlist; R, C and the step are ``.param`` values (a sweep re-runs it with alterparam)."""
    t_max = p.t_stop / p.n_steps
    net = Netlist(f"rc ladder of {p.n_stages} sections",
                  analysis=f".tran {fmt(t_max)} {fmt(p.t_stop)} 0 {fmt(t_max)}")
    v = net.param("v_step", p.v_step)
    r, c = net.param("r", p.r), net.param("c", p.c)
    net.V("in", "n0", net.gnd, f"PULSE(0 {v} 0 {fmt(_EDGE_S)} {fmt(_EDGE_S)} 1e6 2e6)")
    for k in range(1, p.n_stages + 1):
        net.R(str(k), f"n{k - 1}", f"n{k}", r)
        net.C(str(k), f"n{k}", net.gnd, c)
    return net


def elmore(p: LadderParams) -> float:
    """Elmore delay of the last node: the sum over sections of R times the capacitance downstream of it."""
    return p.r * p.c * p.n_stages * (p.n_stages + 1) / 2


def measure(w, p: LadderParams) -> dict[str, float]:
    """``t50_s`` at the last node, ``elmore_s`` from the values, ``v_final_v``."""
    out = w[f"v(n{p.n_stages})"]
    return {"t50_s": crossing_time(w["time"], out, 0.5 * p.v_step) - _EDGE_S / 2,
            "elmore_s": elmore(p), "v_final_v": float(out[-1])}


def monte_carlo(p: LadderParams, rng) -> dict[str, float]:
    """One sample: R log-normal (``sigma_r``), C normal (``sigma_c``, clipped > 0), from ``rng`` only."""
    r = p.r * float(np.exp(p.sigma_r * rng.standard_normal()))
    c = p.c * max(1e-3, 1.0 + p.sigma_c * float(rng.standard_normal()))
    return {"r": r, "c": c}


def circuit() -> CircuitDef:
    """The circuit this package adds (the ``pycircuits.circuits`` entry point)."""
    return CircuitDef(
        name="rcladder", doc="N-stage RC ladder driven by a voltage step (plugin example)",
        params=LadderParams, build=build, measure=measure, monte_carlo=monte_carlo,
        measures={"t50_s": "s: time for the last node to reach half the step",
                  "elmore_s": "s: Elmore delay of the last node, R*C*N*(N+1)/2",
                  "v_final_v": "V: the last node at the end of the transient"})
