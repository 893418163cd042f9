"""Figures: waveforms of a run, sweeps with their spread, transfer curves.

Every function draws data handed to it (Waveforms, an xarray Dataset, a
TransferCurve): this module imports no stage of the flow.  matplotlib is
imported inside the functions with the Agg backend, so that plotting works
on machines with no display and costs nothing when unused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UsageError
from .files import atomic_write


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: str | Path) -> None:
    """Save a figure atomically and close it."""
    plt = _pyplot()
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format="png"))
    plt.close(fig)


def plot_waveforms(waves, names: list[str] | None = None, ax=None, title: str = ""):
    """Plot node voltages (or ``names``) against the scale; returns the Axes."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    chosen = names or [k for k in waves if k.startswith("v(")][:8]
    bode = any(np.iscomplexobj(waves[k]) for k in chosen)  # an AC run: magnitude in dB against log frequency
    for k in chosen:
        y = waves[k]
        ax.plot(waves.x, 20 * np.log10(np.maximum(np.abs(y), 1e-300)) if bode else y, label=f"|{k}|" if bode else k)
    if bode:
        ax.set_xscale("log")
    ax.set_xlabel(f"{waves.scale} ({waves.units.get(waves.scale, '')})")
    ax.set_ylabel("dB" if bode else "V" if all(k.startswith("v(") for k in chosen) else "")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_run(waves, path: str | Path, title: str, circuit_plot: Callable[[Any, Any, Any], None] | None = None,
             params: Any = None) -> None:
    """PNG of a run: ``circuit_plot(waves, params, fig)`` (the circuit's own plot) when given, else node voltages."""
    plt = _pyplot()
    if circuit_plot is not None:
        fig = plt.figure(figsize=(8, 6))
        circuit_plot(waves, params, fig)
    else:
        fig, ax = plt.subplots(figsize=(7, 4))
        plot_waveforms(waves, ax=ax, title=title)
    save_figure(fig, path)


def plot_curve(curve: Any, out: str | Path, analytic: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
    """PNG of a TransferCurve: median, spread bands and ``analytic`` (the law it should follow)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    curve.plot(ax=ax, analytic=analytic)
    if curve.log_x and np.all(curve.y[np.isfinite(curve.y)] > 0) and \
            np.nanmax(curve.y) / np.nanmin(curve.y) > 100:
        ax.set_yscale("log")
    save_figure(fig, out)


def sweep_measures(ds) -> list[str]:
    """The measures a sweep dataset holds (not its bookkeeping variables)."""
    return [k for k in ds.data_vars if k not in ("error", "ok", "meas_failed") and not k.startswith("mc_")
            and ds[k].dtype.kind in "fiu"]


def plot_sweep_figure(ds, out: str | Path, measure: str | None = None, source: str = "the sweep") -> None:
    """PNG of a sweep: ``measure`` (default: the first) against the first swept parameter."""
    names = sweep_measures(ds)
    if measure is None:
        if not names:
            raise UsageError(f"{source}: the sweep holds no measures")
        measure = names[0]
    elif measure not in names:
        raise UsageError(f"{source}: no measure {measure!r}; have {', '.join(names)}")
    values = np.asarray(ds[measure].values, dtype=float)
    if not np.isfinite(values).any():
        raise UsageError(f"{source}: {measure} is NaN at every point (runs failed, or the measure never crossed "
                         "in the simulated time); nothing to plot")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN Monte Carlo rows: drawn as gaps
        plot_sweep(ds, measure, ax)
    save_figure(fig, out)


def plot_sweep(ds, measure: str, ax=None):
    """Plot ``measure`` against the first swept parameter, with the Monte Carlo spread.

    With an ``mc`` dimension: the median and a 5-95 % band over the samples;
    one line per combination of the other dimensions (corners, other axes).
    Returns the matplotlib Axes.
    """
    if measure not in ds:
        raise UsageError(f"no measure {measure!r} in the dataset; have: "
                         f"{', '.join(k for k in ds.data_vars if k not in ('error', 'ok'))}")
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(6, 4))
    da = ds[measure]
    plan = json.loads(ds.attrs.get("plan", "{}"))
    axes = [a["name"] for a in plan.get("vary", []) if a["name"] in da.dims]
    if not axes:
        raise UsageError("the dataset has no swept parameter to plot against")
    x = axes[0]
    others = [d for d in da.dims if d not in (x, "mc")]
    for combo, sub in _combinations(da, others):
        xs = np.asarray(sub[x].values, dtype=float)
        label = ", ".join(f"{d}={_label(v)}" for d, v in combo) or None
        if "mc" in sub.dims:
            vals = np.asarray(sub.transpose(x, "mc").values, dtype=float)
            lo, med, hi = np.nanquantile(vals, [0.05, 0.5, 0.95], axis=1)
            line, = ax.plot(xs, med, marker=".", label=f"{label + ': ' if label else ''}median")
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.25,
                            label=f"{label + ': ' if label else ''}5-95 %")
        else:
            ax.plot(xs, np.asarray(sub.values, dtype=float), marker=".", label=label)
    spacing = ds[x].attrs.get("spacing", "")
    if spacing == "log":
        ax.set_xscale("log")
    ax.set_xlabel(f"{x} [{ds[x].attrs.get('units', '')}]".replace(" []", ""))
    ax.set_ylabel(f"{measure} [{da.attrs.get('units', '')}]".replace(" []", ""))
    ax.set_title(f"{ds.attrs.get('circuit', '')}: {measure} vs {x}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return ax


def _combinations(da, dims: list[str]):
    import itertools
    if any(d.endswith("_index") for d in dims):
        raise UsageError(f"{da.name} is an array measure; plot_sweep draws scalar measures")
    sizes = [range(da.sizes[d]) for d in dims]
    for idx in itertools.product(*sizes):
        sel = dict(zip(dims, idx, strict=True))
        combo = [(d, da[d].values[i]) if d in da.coords else (d, i) for d, i in sel.items()]
        yield combo, da.isel(sel)


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)
