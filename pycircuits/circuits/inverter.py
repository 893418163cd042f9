"""``inverter``: a chain of CMOS inverters driven by a pulse -- the PDK reference circuit.

Schematic (n_stages inverters, each loaded by c_load)::

    in -|>o- n1 -|>o- n2 ... -|>o- out
              |        |           |
            c_load   c_load      c_load

The NMOS width is ``wn`` and the PMOS width ``wp_ratio * wn`` (both ``.param``
values, so a sweep re-runs the loaded circuit with ``alterparam``).  The
supply is one source ``vdd`` at the PDK's nominal voltage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..extract.measures import crossing_time, energy
from ..params import Params, fmt, param
from ..pdk import Pdk
from .base import CircuitDef, Netlist, register


@dataclass(frozen=True)
class InverterParams(Params):
    """Parameters of the ``inverter`` chain."""

    n_stages: int = param(3, "", "number of inverters in the chain", min=1, max=200)
    wn: float = param(1e-6, "m", "NMOS width", min=0.1e-6, max=1e-3)
    wp_ratio: float = param(2.0, "", "PMOS width / NMOS width", min=0.1, max=20.0)
    l: float = param(0.0, "m", "channel length (0 = the PDK's minimum)", min=0.0, max=1e-4)
    c_load: float = param(10e-15, "F", "load capacitance on every stage output", min=0.0, max=1e-9)
    t_edge: float = param(50e-12, "s", "input rise and fall time", min=1e-13, max=1e-3)
    t_pulse: float = param(2e-9, "s", "input pulse width (the period is twice this)", min=1e-12, max=1.0)
    n_steps: int = param(4000, "", "maximum time steps per input period", min=100, max=10_000_000)


def build(p: InverterParams, pdk: Pdk, corner: str = "tt") -> Netlist:
    """Inverter chain on ``pdk`` at ``corner``; nodes n1..n<N>, the last also named by its index."""
    period = 2 * p.t_pulse
    t_max = period / p.n_steps
    net = Netlist("inverter chain", analysis=f".tran {fmt(t_max)} {fmt(period)} 0 {fmt(t_max)}")
    pdk.add_models(net, corner)
    net.param("wn", p.wn)
    net.param("wp_ratio", p.wp_ratio)
    net.V("dd", "vdd", net.gnd, fmt(pdk.vdd))
    start = p.t_pulse / 4
    net.V("in", "n0", net.gnd, f"PULSE(0 {fmt(pdk.vdd)} {fmt(start)} {fmt(p.t_edge)} {fmt(p.t_edge)} "
                               f"{fmt(p.t_pulse - p.t_edge)} {fmt(period)})")
    length = p.l or pdk.lmin
    for k in range(1, p.n_stages + 1):
        a, y = f"n{k - 1}", f"n{k}"
        pdk.nmos_param(net, f"n{k}", y, a, net.gnd, net.gnd, "wn", length)
        pdk.pmos_param(net, f"p{k}", y, a, "vdd", "vdd", "wn*wp_ratio", length)
        if p.c_load > 0:
            net.C(f"l{k}", y, net.gnd, fmt(p.c_load))
    return net


def measure(w, p: InverterParams) -> dict[str, float]:
    """Propagation delays of the chain and the supply energy per period."""
    t, vin, vout = w["time"], w["v(n0)"], w[f"v(n{p.n_stages})"]
    vdd = float(np.max(vin))
    half = vdd / 2
    out_dir_rise = "falling" if p.n_stages % 2 else "rising"
    out_dir_fall = "rising" if p.n_stages % 2 else "falling"
    t_in_r = crossing_time(t, vin, half, "rising")
    t_in_f = crossing_time(t, vin, half, "falling")
    tpd_r = crossing_time(t[t > t_in_r], vout[t > t_in_r], half, out_dir_rise) - t_in_r
    tpd_f = crossing_time(t[t > t_in_f], vout[t > t_in_f], half, out_dir_fall) - t_in_f
    return {"tpd_rise_s": tpd_r, "tpd_fall_s": tpd_f, "tpd_s": 0.5 * (tpd_r + tpd_f),
            "energy_j": energy(t, np.full_like(t, vdd), -w["i(vdd)"])}


register(CircuitDef(
    name="inverter", doc="CMOS inverter chain driven by a pulse (PDK reference circuit)",
    params=InverterParams, build=build, measure=measure,
    measures={"tpd_rise_s": "s: delay from the input's rising half-swing to the output's",
              "tpd_fall_s": "s: delay from the input's falling half-swing to the output's",
              "tpd_s": "s: mean of the two delays",
              "energy_j": "J: energy drawn from vdd over one input period"},
))
