"""Recipes of ``denram``: delay against R (the RC law), EPSC charge against G, energy per spike."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..curve import TransferCurve
from .base import Recipe, along, recipe

_DENRAM_ONE = {"n_syn": 1, "t_in": "1e-6", "r_weight": "500k", "rram_r_hrs": "1e9", "t_stop": 60e-6,
               "n_steps": 3000}


def _rc_delay_law(c: TransferCurve) -> Callable[[np.ndarray], np.ndarray]:
    from ...twins.denram import rc_delay_law
    p = c.params
    frac = float(p.get("vth_delay_frac", 0.5))
    c_delay = float(p.get("c_delay", 1e-12))
    return lambda r: rc_delay_law(r, c_delay, frac)


recipe(Recipe(
    name="denram-delay", doc="DenRAM synaptic delay vs delay-RRAM resistance (rc topology: R*C*ln(VDD/(VDD-Vth)))",
    circuit="denram", x_name="R_delay", x_unit="Ohm", y_name="delay", y_unit="s", needs=("delays_s",),
    reduce=along("r_delay", "delays_s"),
    default_sweep={"vary": {"r_delay": "log:100k:10meg:9"}, "params": dict(_DENRAM_ONE)},
    analytic=lambda c: _rc_delay_law(c) if c.params.get("topology", "rc") == "rc" else None,
))

recipe(Recipe(
    name="denram-weight", doc="DenRAM EPSC charge vs weight-RRAM conductance",
    circuit="denram", x_name="G_weight", x_unit="S", y_name="EPSC charge", y_unit="C", needs=("epsc_charge_c",),
    reduce=along("r_weight", "epsc_charge_c", transform=lambda r: 1.0 / r),
    default_sweep={"vary": {"r_weight": "log:100k:10meg:7"}, "params": dict(_DENRAM_ONE)},
))

recipe(Recipe(
    name="denram-energy", doc="DenRAM supply energy per input spike (one synapse, delay + weight read) vs R_delay",
    circuit="denram", x_name="R_delay", x_unit="Ohm", y_name="energy per input spike", y_unit="J",
    needs=("energy_j",), reduce=along("r_delay", "energy_j"),
    default_sweep={"vary": {"r_delay": "log:100k:10meg:5"}, "params": dict(_DENRAM_ONE)},
))
