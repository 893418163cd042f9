"""What every recipe shares: the Recipe type, its registry, dataset checks and the generic reducer.

A recipe names the circuit and the sweep it needs (``default_sweep``, used by
``pycircuits extract RECIPE --run``), and a ``reduce`` function that turns the
dataset into an x grid and an ``(n_x, n_samples)`` array (Monte Carlo samples
and any other repetition pooled as samples).  The curve carries the spread
and the provenance of the sweep; ``analytic`` gives the law the curve should
follow, when there is one, for plots and tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import UsageError
from ..curve import TransferCurve

Reduced = tuple[np.ndarray, np.ndarray, dict[str, Any]]  # x, samples (n_x, n_s), extra


@dataclass(frozen=True)
class Recipe:
    """How to make one TransferCurve from a sweep of one circuit."""

    name: str
    doc: str
    circuit: str
    x_name: str
    x_unit: str
    y_name: str
    y_unit: str
    needs: tuple[str, ...]  # measures the dataset must hold
    reduce: Callable[[Any], Reduced]
    default_sweep: dict[str, Any] = field(default_factory=dict)
    analytic: Callable[[TransferCurve], Callable[[np.ndarray], np.ndarray]] | None = None
    log_x: bool | None = None  # interpolate in log(x); None: when the grid spans decades


RECIPES: dict[str, Recipe] = {}


def recipe(r: Recipe) -> Recipe:
    """Register a recipe."""
    RECIPES[r.name] = r
    return r


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``, or :class:`UsageError` listing the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        raise UsageError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))}") from None


def recipe_names() -> list[str]:
    """Every recipe name, sorted."""
    return sorted(RECIPES)


# ----------------------------------------------------------------- datasets


def base_params(ds) -> dict[str, Any]:
    """The sweep's base parameters (JSON in the dataset attrs)."""
    raw = ds.attrs.get("params", "{}")
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def check_dataset(r: Recipe, ds) -> None:
    """Refuse, in one line, a dataset of another circuit or one missing a needed measure."""
    circuit = ds.attrs.get("circuit", "?")
    if circuit != r.circuit:
        raise UsageError(f"recipe {r.name} needs a sweep of circuit {r.circuit}, this is a sweep of {circuit}")
    missing = [m for m in r.needs if m not in ds.variables]
    if missing:
        raise UsageError(f"recipe {r.name} needs measure {missing[0]!r}, which the sweep does not hold")


def samples_along(ds, measure: str, dim: str) -> tuple[np.ndarray, np.ndarray]:
    """x values along swept ``dim`` and the measure as (n_x, n_samples), other dims pooled.

    Failed points are NaN and stay NaN (the curve skips them).
    """
    if dim not in ds[measure].dims:
        raise UsageError(f"the sweep does not vary {dim!r}; it varies {', '.join(_swept(ds)) or 'nothing'}")
    da = ds[measure].transpose(dim, ...)
    x = np.asarray(ds[dim].values, dtype=float)
    y = np.asarray(da.values, dtype=float).reshape(len(x), -1)
    order = np.argsort(x)
    return x[order], y[order]


def _swept(ds) -> list[str]:
    return [d for d in ds.dims if d in ds.coords and d not in ("mc", "corner") and not d.endswith("_index")]


def build_curve(r: Recipe, ds) -> TransferCurve:
    """Check the dataset, reduce it, and wrap the result with provenance."""
    check_dataset(r, ds)
    x, samples, extra = r.reduce(ds)
    keep = np.isfinite(x)
    x, samples = x[keep], samples[keep]
    if len(x) < 2:
        raise UsageError(f"recipe {r.name}: the sweep has fewer than 2 usable x points")
    usable = int(np.sum(np.any(np.isfinite(samples), axis=1)))
    if usable < 2:
        raise UsageError(f"recipe {r.name}: {r.y_name} is NaN at {len(x) - usable} of {len(x)} x points (a "
                         "measure that failed everywhere, e.g. a transient too short); the curve would be empty")
    seed = ds.attrs.get("seed")
    curve = TransferCurve.from_samples(
        r.name, x, samples, r.x_unit, r.y_unit, x_name=r.x_name, y_name=r.y_name, recipe=r.name,
        circuit=r.circuit, params=base_params(ds), seed=int(seed) if seed is not None else None,
        ngspice_version=str(ds.attrs.get("ngspice_version", "")), pdk=str(ds.attrs.get("pdk", "")),
        corner=str(ds.attrs.get("corner", ds.attrs.get("corners", ""))),
        netlist_hash=str(ds.attrs.get("netlist_hash", "")), extra=extra, log_x=r.log_x)
    return curve


def generic_recipe(ds, x_param: str, measure: str, *, log_x: bool | None = None, name: str | None = None,
                   element: int | None = None) -> Recipe:
    """The recipe "``measure`` against swept ``x_param``" for the sweep ``ds``, of any circuit or deck.

    Units come from the dataset's ``units`` attributes; Monte Carlo samples
    (and corners, and any other dimension) are pooled as the curve's spread.
    """
    if measure not in ds.variables or measure in ds.dims or measure in ("error", "ok", "meas_failed"):
        measures = [k for k, v in ds.data_vars.items() if v.dtype.kind == "f" and not k.startswith("mc_")]
        raise UsageError(f"the sweep has no measure {measure!r}; it has {', '.join(measures) or 'none'}")
    if x_param not in ds.dims:
        raise UsageError(f"the sweep does not vary {x_param!r}; it varies {', '.join(_swept(ds)) or 'nothing'}")
    x = np.asarray(ds[x_param].values, dtype=float)
    if log_x and np.any(x <= 0):
        raise UsageError(f"--log-x needs {x_param} > 0; the sweep has {x.min():g}")
    return Recipe(name=name or f"{measure}-vs-{x_param}", doc=f"{measure} against {x_param}",
                  circuit=str(ds.attrs.get("circuit", "?")), x_name=x_param,
                  x_unit=str(ds[x_param].attrs.get("units", "")), y_name=measure,
                  y_unit=str(ds[measure].attrs.get("units", "")), needs=(measure,),
                  reduce=along(x_param, measure, element), log_x=log_x)


def curve_from_sweep(ds, x_param: str, measure: str, *, log_x: bool | None = None, name: str | None = None,
                     element: int | None = None) -> TransferCurve:
    """A TransferCurve of ``measure`` against ``x_param`` from any sweep (see :func:`generic_recipe`)."""
    return build_curve(generic_recipe(ds, x_param, measure, log_x=log_x, name=name, element=element), ds)


def along(x_param: str, measure: str, element: int | None = None,
          transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Callable[[Any], tuple]:
    """Reducer: ``measure`` against swept ``x_param``, Monte Carlo pooled as samples.

    ``element`` picks one entry of an array measure (e.g. synapse 0's delay);
    ``transform`` maps the swept values (e.g. resistance -> conductance).
    """
    def reduce(ds):
        da = ds[measure]
        index_dim = f"{measure}_index"
        if index_dim in da.dims:
            da = da.isel({index_dim: element or 0})
        x, y = samples_along(ds.assign({"_y": da}), "_y", x_param)
        if transform is not None:
            x = transform(x)
            order = np.argsort(x)
            x, y = x[order], y[order]
        return x, y, {}
    return reduce

