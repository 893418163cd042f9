"""Sweeps and Monte Carlo at scale: plans, executors, a result cache and datasets.

>>> from pycircuits.sweep import sweep, load_dataset
>>> ds = sweep("rc", vary={"r": "log:1k:100k:5"}, params={"sigma_r": 0.1}, mc=100, seed=1,
...            jobs=4, output="rc.nc")
>>> ds.tau_s.quantile([0.05, 0.5, 0.95], dim="mc")

The stages, one module each: :mod:`.plan` (what to simulate), :mod:`.batches`
(netlists, structures, batches), :mod:`.worker` and :mod:`.executor` (where it
runs: local processes or Dask), :mod:`.cache` (what is already known),
:mod:`.dataset` (the NetCDF/CSV result), :mod:`.runner` (the whole sweep).
Worker processes import this package, so xarray is imported only when needed.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .executor import close_workers
from .plan import Axis, Plan, Point, build_plan, load_plan_file, parse_axis
from .runner import SweepStats, sweep


def load_dataset(path) -> Any:
    """Read a sweep dataset (``.nc``); :class:`~pycircuits.errors.FileFormatError` if it is not one."""
    from .dataset import load_dataset as _load
    return _load(path)


def plot_sweep(ds, measure: str, ax=None) -> Any:
    """Plot a measure against the first swept parameter with its Monte Carlo spread (5-95 %, median)."""
    from ..plots import plot_sweep as _plot
    return _plot(ds, measure, ax)


class _SweepModule(types.ModuleType):
    """This package, callable as :func:`sweep` (so ``from pycircuits import sweep; sweep(...)`` works)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _SweepModule

__all__ = ["Axis", "Plan", "Point", "SweepStats", "build_plan", "close_workers", "load_dataset", "load_plan_file",
           "parse_axis", "plot_sweep", "sweep"]
