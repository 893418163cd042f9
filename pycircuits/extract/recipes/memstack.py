"""Recipes of ``memstack``: tau against the capacitive state, charge against the resistive state."""

from __future__ import annotations

from .base import Recipe, along, recipe

recipe(Recipe(
    name="memstack-tau", doc="membrane time constant vs polarization-programming amplitude (capacitive state)",
    circuit="memstack", x_name="a_y", x_unit="V", y_name="tau", y_unit="s", needs=("tau_s",),
    reduce=along("a_y", "tau_s"),
    default_sweep={"vary": {"a_y": "lin:0.6:1.5:7"}, "params": {"n_y": 30}},
))

recipe(Recipe(
    name="memstack-weight", doc="synaptic charge per input spike vs SET pulses on the resistive state",
    circuit="memstack", x_name="n_x", x_unit="pulses", y_name="charge per spike", y_unit="C",
    needs=("charge_per_spike_c",), reduce=along("n_x", "charge_per_spike_c"),
    default_sweep={"vary": {"n_x": "list:0,1,2,3,4,6,8,12"}},
))
