"""Recipes of ``crossbar``: the relative MAC error from IR drop, by column position, wire resistance, array size.

Every read is the all-rows-selected MAC of the array; the relative error of a
column is ``col_current / (G^T v) - 1`` (negative: the wires cost current).
Monte Carlo samples (the cells' log-normal spread) and every other repetition
are the curve's spread.  The analytic law of each curve is the nodal twin
(:mod:`pycircuits.twins.crossbar`) of the nominal array: exact for the
resistive cells the circuit writes by default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import UsageError
from .base import Recipe, recipe, samples_along


def _params(values: dict[str, Any]):
    from ...circuits.crossbar import CrossbarParams
    from ...params import make_params
    return make_params(CrossbarParams, {k: v for k, v in values.items() if k in CrossbarParams.__dataclass_fields__})


def twin_rel_error(p) -> np.ndarray:
    """Per column, the relative MAC error of array ``p`` as the nodal twin solves it."""
    from ...circuits.crossbar import conductances, driven_rows, row_voltages
    from ...twins.crossbar import ideal_mac, solve
    g, v = conductances(p), row_voltages(p)
    r_seg = p.r_wire_per_m * p.pitch
    ideal = ideal_mac(g, v)
    if r_seg == 0 and p.r_driver == 0 and (p.sense == "vground"):
        return np.zeros(p.cols)
    r_seg = max(r_seg, 1e-9)
    sol = solve(g, v, r_seg, r_seg, p.r_driver, p.r_sense if p.sense == "resistive" else 0.0,
                driven=driven_rows(p))
    return sol.i_col / ideal - 1.0


def _by_position(ds):
    """x = column index (0: nearest the word-line drivers); samples: every sample and repetition."""
    da = ds["rel_error"]
    if "rel_error_index" not in da.dims:
        raise UsageError("the sweep's rel_error is not per column")
    y = np.asarray(da.transpose("rel_error_index", ...).values, dtype=float)
    y = y.reshape(y.shape[0], -1)
    return np.arange(y.shape[0], dtype=float), y, {"cols": y.shape[0]}


def _mean_along(dim: str):
    def reduce(ds):
        da = ds["rel_error"]
        mean = da.mean("rel_error_index") if "rel_error_index" in da.dims else da
        x, y = samples_along(ds.assign({"_y": mean}), "_y", dim)
        return x, y, {}
    return reduce


def _law_position(curve):
    err = twin_rel_error(_params({**curve.params, "sigma_g": 0.0}))
    return lambda x: np.interp(np.asarray(x, dtype=float), np.arange(err.size), err)


def _law_mean(param: str):
    def law(curve):
        def f(x):
            return np.array([float(np.mean(twin_rel_error(_params({**curve.params, param: int(v) if param == "size"
                                                                   else float(v), "sigma_g": 0.0}))))
                             for v in np.atleast_1d(x)])
        return f
    return law


_ARRAY = {"size": 32, "sigma_g": 0.3}

recipe(Recipe(
    name="crossbar-irdrop", doc="relative MAC error of each column vs its position along the word lines (IR drop)",
    circuit="crossbar", x_name="column", x_unit="1", y_name="relative MAC error", y_unit="1",
    needs=("rel_error",), reduce=_by_position, log_x=False,
    default_sweep={"vary": {}, "params": dict(_ARRAY)}, analytic=_law_position,
))

recipe(Recipe(
    name="crossbar-irdrop-wire", doc="column-mean relative MAC error vs wire resistance per length",
    circuit="crossbar", x_name="r_wire_per_m", x_unit="Ohm/m", y_name="relative MAC error", y_unit="1",
    needs=("rel_error",), reduce=_mean_along("r_wire_per_m"),
    default_sweep={"vary": {"r_wire_per_m": "log:2e5:2e7:5"}, "params": dict(_ARRAY)},
    analytic=_law_mean("r_wire_per_m"),
))

recipe(Recipe(
    name="crossbar-irdrop-size", doc="column-mean relative MAC error vs the side of a square array",
    circuit="crossbar", x_name="size", x_unit="cells", y_name="relative MAC error", y_unit="1",
    needs=("rel_error",), reduce=_mean_along("size"), log_x=False,
    default_sweep={"vary": {"size": "list:8,16,32,64"}, "params": {"sigma_g": 0.3}},
    analytic=_law_mean("size"),
))
