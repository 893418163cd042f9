"""Sweep datasets: one NetCDF file (xarray, h5netcdf) and a CSV of the scalar measures.

Layout of the dataset a sweep writes:

* dimensions: ``corner`` (when several corners), one per swept parameter
  (named after it, in ``--vary`` order, coordinates = the swept values),
  ``mc`` (Monte Carlo sample index, with ``--mc``);
* one variable per measure over those dimensions; array measures add a
  dimension ``<measure>_index`` and are NaN-padded to the longest;
* ``mc_<param>``: the values each point's Monte Carlo sample drew;
* ``error`` (text, empty when the point succeeded) and ``ok`` (bool);
* with ``--keep-waveforms``: each vector (``v_out``, ``i_vin``...) resampled
  on a common grid of the analysis' scale (dimension ``time`` for a transient);
* attrs: provenance (circuit, base params and plan as JSON, seed, ngspice
  version, PDK, corners, package version, creation time) and the run's
  statistics (points, computed, cached, failed, wall time, loads, runs).

The CSV has one row per point: the swept values, ``mc``, ``mc_<param>``,
``corner``, the scalar measures and ``error``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import files
from ..errors import FileFormatError
from ..files import atomic_write_text
from .cache import Entry
from .plan import Plan, Point

FORMAT_VERSION = 1
_MAX_GRID = 100_000  # samples of the common waveform grid


def _var_name(spice_name: str) -> str:
    return spice_name.replace("(", "_").replace(")", "").replace("#", "_").replace(".", "_")


def _unit_and_doc(text: str) -> tuple[str, str]:
    unit, sep, doc = text.partition(":")
    return (unit.strip(), doc.strip()) if sep else ("", text.strip())


# Our unit labels that UDUNITS spells otherwise; counts and flags are dimensionless ("1") in CF.
_UDUNITS = {"": "1", "Ohm": "ohm", "Ohm/m": "ohm/m", "0/1": "1", "count": "1", "pulses": "1", "pt": "1",
            "inputs": "1", "cells": "1", "LSB": "1"}
CF_CONVENTIONS = "CF-1.10"


def udunits(unit: str) -> str:
    """``unit`` as a UDUNITS-2 string, as CF readers (``ncdump``, xarray, cf-python) expect it."""
    return _UDUNITS.get(unit.strip(), unit.strip())


def _coords(plan: Plan, units: Mapping[str, str]) -> dict[str, Any]:
    import xarray as xr
    coords: dict[str, Any] = {}
    if len(plan.corners) > 1:
        coords["corner"] = xr.DataArray(np.array(plan.corners, dtype=object), dims=("corner",))
    for a in plan.axes:
        values = np.array(a.values, dtype=object if a.values and isinstance(a.values[0], str) else None)
        coords[a.name] = xr.DataArray(values, dims=(a.name,),
                                      attrs={"units": units.get(a.name, ""), "spacing": a.kind, "spec": a.spec})
    if plan.mc:
        coords["mc"] = xr.DataArray(np.arange(plan.mc), dims=("mc",), attrs={"long_name": "Monte Carlo sample"})
    return coords


def _measure_kinds(defn, entries: Sequence[Entry]) -> dict[str, int]:
    """Measure name -> longest length (0 for scalars), declared measures first."""
    kinds: dict[str, int] = {name: 0 for name in defn.measures}
    for e in entries:
        for k, v in e.measures.items():
            kinds[k] = max(kinds.get(k, 0), int(np.size(v)) if np.ndim(v) else 0)
    return kinds


def _stack_measure(entries: Sequence[Entry], name: str, length: int) -> np.ndarray:
    out = np.full((len(entries), length) if length else (len(entries),), np.nan)
    for i, e in enumerate(entries):
        if name not in e.measures:
            continue
        v = np.asarray(e.measures[name], dtype=float)
        if length:
            flat = v.ravel()
            out[i, :flat.size] = flat
        elif v.ndim == 0:
            out[i] = float(v)
    return out


def _waveform_grid(entries: Sequence[Entry]) -> tuple[str, np.ndarray] | None:
    kept = [e for e in entries if e.waveforms is not None and e.scale in e.waveforms]
    if not kept:
        return None
    scales = [np.real(e.waveforms[e.scale]) for e in kept]
    first = scales[0]
    if all(s.shape == first.shape and np.array_equal(s, first) for s in scales):
        return kept[0].scale, first
    n = min(_MAX_GRID, max(s.size for s in scales))
    return kept[0].scale, np.linspace(min(s[0] for s in scales), max(s[-1] for s in scales), n)


def _waveform_vars(entries: Sequence[Entry], dims: tuple[str, ...], shape: tuple[int, ...]) -> dict[str, Any]:
    import xarray as xr
    found = _waveform_grid(entries)
    if found is None:
        return {}
    scale, grid = found
    dim = scale or "index"
    names: dict[str, str] = {}
    for e in entries:
        if e.waveforms is not None:
            for k in e.waveforms:
                if k != e.scale:
                    names.setdefault(k, e.units.get(k, ""))
    out: dict[str, Any] = {dim: xr.DataArray(grid, dims=(dim,), attrs={"units": "s" if dim == "time" else ""})}
    for name, unit in names.items():
        parts = {"": np.real} if not any(e.waveforms is not None and name in e.waveforms
                                        and np.iscomplexobj(e.waveforms[name]) for e in entries) \
            else {"_re": np.real, "_im": np.imag}
        for suffix, part in parts.items():
            data = np.full((len(entries), grid.size), np.nan)
            for i, e in enumerate(entries):
                if e.waveforms is None or name not in e.waveforms or e.scale not in e.waveforms:
                    continue
                x = np.real(e.waveforms[e.scale])
                data[i] = np.interp(grid, x, part(e.waveforms[name]), left=np.nan, right=np.nan)
            out[_var_name(name) + suffix] = xr.DataArray(
                data.reshape(shape + (grid.size,)), dims=dims + (dim,),
                attrs={"units": unit, "spice_name": name, "long_name": f"{name} resampled on a common grid"})
    return out


def build_dataset(plan: Plan, points: Sequence[Point], entries: Sequence[Entry], defn,
                  attrs: Mapping[str, Any] | None = None):
    """Assemble the sweep's :class:`xarray.Dataset` from its points' entries (in point order)."""
    import xarray as xr

    from ..params import specs
    units = {s.name: s.unit for s in specs(defn.params)}
    dims, shape = plan.dims, plan.shape
    data: dict[str, Any] = {}
    for name, length in _measure_kinds(defn, entries).items():
        unit, doc = _unit_and_doc(defn.measures.get(name, ""))
        values = _stack_measure(entries, name, length)
        if length:
            data[name] = xr.DataArray(values.reshape(shape + (length,)), dims=dims + (f"{name}_index",),
                                      attrs={"units": unit, "long_name": doc})
        else:
            data[name] = xr.DataArray(values.reshape(shape), dims=dims, attrs={"units": unit, "long_name": doc})
    mc_names = list(dict.fromkeys(k for p in points for k in p.mc_values))
    for name in mc_names:
        var_attrs = {"units": units.get(name, ""), "long_name": f"{name} drawn by the Monte Carlo sample"}
        drawn = [np.atleast_1d(np.asarray(p.mc_values.get(name, np.nan), dtype=float)) for p in points]
        width = max(len(d) for d in drawn)
        if width == 1 and not any(isinstance(p.mc_values.get(name), tuple) for p in points):
            values = np.array([d[0] for d in drawn])
            data[f"mc_{name}"] = xr.DataArray(values.reshape(shape), dims=dims, attrs=var_attrs)
        else:  # one value per element (per synapse...): an extra dimension, NaN-padded
            values = np.full((len(drawn), width), np.nan)
            for k, d in enumerate(drawn):
                values[k, :len(d)] = d
            data[f"mc_{name}"] = xr.DataArray(values.reshape(shape + (width,)), dims=dims + (f"mc_{name}_index",),
                                              attrs=var_attrs)
    errors = np.array([e.error for e in entries], dtype=object).reshape(shape)
    data["error"] = xr.DataArray(errors, dims=dims, attrs={"long_name": "error of the point (empty if none)"})
    data["ok"] = xr.DataArray(np.array([e.ok for e in entries], dtype=bool).reshape(shape), dims=dims,
                              attrs={"long_name": "the point simulated and measured without error"})
    if any(e.meta.get("meas_failed") for e in entries):
        why = np.array(["; ".join(f"{k}: {v}" for k, v in e.meta.get("meas_failed", {}).items())
                        for e in entries], dtype=object).reshape(shape)
        data["meas_failed"] = xr.DataArray(why, dims=dims, attrs={
            "long_name": ".meas cards that failed at the point (NaN in their variable), with ngspice's reason"})
    data.update(_waveform_vars(entries, dims, shape))
    ds = xr.Dataset(data, coords=_coords(plan, units))
    for var in ds.variables.values():
        if "units" in var.attrs:
            var.attrs["units"] = udunits(str(var.attrs["units"]))
        elif var.dtype.kind in "fiu":
            var.attrs["units"] = "1"
    ds.attrs.update({"Conventions": CF_CONVENTIONS, "pycircuits_sweep_format": FORMAT_VERSION, **(attrs or {})})
    return ds


def check_writable(path: str | Path, inputs: tuple[str | Path | None, ...] = ()) -> None:
    """Refuse (UsageError) a dataset path, or its CSV's, that cannot be written or is one of ``inputs``."""
    files.check_output(path, suffixes=".nc", what="a sweep dataset", inputs=inputs)
    files.check_output(csv_path(path), suffixes=".csv", what="the sweep's CSV", inputs=inputs)


def csv_path(path: str | Path) -> Path:
    """The CSV written beside a dataset: ``SWEEP.nc`` -> ``SWEEP.csv``."""
    return Path(path).with_suffix(".csv")


def _csv_number(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    return repr(v) if np.isfinite(v) else "nan"


def to_csv(ds, plan: Plan, points: Sequence[Point]) -> str:
    """The CSV text: one row per point (swept values, mc, corner, scalar measures, error)."""
    scalars = [k for k, v in ds.data_vars.items()
               if tuple(v.dims) == plan.dims and k not in ("error", "ok", "meas_failed") and not k.startswith("mc_")]
    mc_vars = [k for k in ds.data_vars if k.startswith("mc_") and tuple(ds[k].dims) == plan.dims]
    header = [a.name for a in plan.axes] + (["mc"] + mc_vars if plan.mc else []) + ["corner"] + scalars + ["error"]
    texts = ["error"] + (["meas_failed"] if "meas_failed" in ds else [])
    header += texts[1:]
    flat = {k: np.asarray(ds[k].values).reshape(-1) for k in scalars + mc_vars + texts}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for i, p in enumerate(points):
        row = [_csv_number(c) for c in p.coords]
        if plan.mc:
            row += [str(p.mc_index)] + [_csv_number(flat[k][i]) for k in mc_vars]
        row += [p.corner] + [_csv_number(flat[k][i]) for k in scalars]
        row += [" ".join(str(flat[k][i]).split()) for k in texts]
        w.writerow(row)
    return buf.getvalue()


def write_dataset(ds, path: str | Path, csv_text: str | None = None) -> list[Path]:
    """Write the dataset (NetCDF, h5netcdf) and its CSV atomically; return the paths written."""
    path = Path(path)
    files.write_netcdf(path, ds)
    out = [path]
    if csv_text is not None:
        out.append(atomic_write_text(csv_path(path), csv_text))
    return out


def load_dataset(path: str | Path):
    """Read a sweep dataset written by :func:`write_dataset` (FileFormatError if it is not one)."""
    import xarray as xr
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"cannot read sweep dataset {path}: no such file")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except Exception as exc:  # noqa: BLE001 - h5py/xarray raise many kinds on damaged files
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise FileFormatError(f"cannot read sweep dataset {path}: {first}") from None
    if "pycircuits_sweep_format" not in ds.attrs:
        raise FileFormatError(f"{path} is a NetCDF file but not a pycircuits sweep dataset")
    for key in ("params", "plan"):  # read later by extraction and plots: checked here, once
        if key in ds.attrs:
            try:
                value = json.loads(str(ds.attrs[key]))
            except (ValueError, RecursionError):
                raise FileFormatError(f"{path}: the {key!r} attribute is not valid JSON") from None
            if not isinstance(value, dict):
                raise FileFormatError(f"{path}: the {key!r} attribute must be a JSON object")
    seed = ds.attrs.get("seed")
    if seed is not None and (isinstance(seed, (str, bytes, float)) or np.ndim(seed) != 0
                             or not np.issubdtype(np.asarray(seed).dtype, np.integer)):
        raise FileFormatError(f"{path}: the 'seed' attribute must be an integer, got {str(seed)[:40]!r}")
    if "ok" in ds:
        ds["ok"] = ds["ok"].astype(bool)
    return ds
