"""Recipe of the ``rc`` reference circuit: tau = R*C."""

from __future__ import annotations

from .base import Recipe, along, recipe

recipe(Recipe(
    name="rc-tau", doc="RC time constant vs R (the reference law tau = R*C)", circuit="rc",
    x_name="R", x_unit="Ohm", y_name="tau", y_unit="s", needs=("tau_s",),
    reduce=along("r", "tau_s"),
    default_sweep={"vary": {"r": "log:1k:1meg:7"},
                   "params": {"sigma_r": 0.05, "sigma_c": 0.02, "t_stop": 0.01, "n_steps": 20000}},
    analytic=lambda c: (lambda r: r * float(c.params.get("c", 1e-9))),
))
