"""Recipes: from a sweep dataset to a TransferCurve, one per characterised relation.

A recipe names the circuit and the sweep it needs (``default_sweep``, used by
``pycircuits extract RECIPE --run``), and a ``reduce`` function that turns the
dataset into an x grid and an ``(n_x, n_samples)`` array (Monte Carlo samples
and any other repetition pooled as samples).  The curve carries the spread
and the provenance of the sweep; ``analytic`` gives the law the curve should
follow, when there is one, for plots and tests.  One module per block
registers its recipes.
"""

from __future__ import annotations

from . import crossbar, denram, memstack, pcm, rc, scgru  # noqa: F401 - each registers its recipes
from .base import (
           RECIPES,
           Recipe,
           along,
           base_params,
           build_curve,
           check_dataset,
           curve_from_sweep,
           generic_recipe,
           get_recipe,
           recipe,
           recipe_names,
           samples_along,
)

__all__ = ["RECIPES", "Recipe", "along", "base_params", "build_curve", "check_dataset", "curve_from_sweep",
           "generic_recipe", "get_recipe", "recipe",
           "recipe_names", "samples_along"]
