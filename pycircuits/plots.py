"""Figures: waveforms of a run, sweeps with their spread, transfer curves.

matplotlib is imported inside the functions with the Agg backend, so that
plotting works on machines with no display and costs nothing when unused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: str | Path) -> None:
    """Save a figure atomically and close it."""
    from .io import atomic_write
    plt = _pyplot()
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format="png"))
    plt.close(fig)


def plot_waveforms(waves, names: list[str] | None = None, ax=None, title: str = ""):
    """Plot node voltages (or ``names``) against the scale; returns the Axes."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    chosen = names or [k for k in waves if k.startswith("v(")][:8]
    for k in chosen:
        ax.plot(waves.x, waves[k], label=k)
    ax.set_xlabel(f"{waves.scale} ({waves.units.get(waves.scale, '')})")
    ax.set_ylabel("V" if all(k.startswith("v(") for k in chosen) else "")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_run(result: Any, path: str | Path) -> None:
    """PNG of a run: the circuit's own plot when it defines one, else its node voltages."""
    plt = _pyplot()
    defn = None
    if result.params is not None:
        from .circuits import get
        defn = get(result.name)
    if defn is not None and defn.plot is not None:
        fig = plt.figure(figsize=(8, 6))
        defn.plot(result.waveforms, result.params, fig)
    else:
        fig, ax = plt.subplots(figsize=(7, 4))
        plot_waveforms(result.waveforms, ax=ax, title=result.name)
    save_figure(fig, path)


def plot_curve_file(path: str | Path, out: str | Path) -> None:
    """PNG of a TransferCurve file: median, spread bands and the recipe's analytic law."""
    from .extract.curve import TransferCurve
    from .extract.recipes import get_recipe
    curve = TransferCurve.from_json(path)
    analytic = None
    if curve.recipe:
        try:
            r = get_recipe(curve.recipe)
        except Exception:  # noqa: BLE001 - a curve from an unknown recipe still plots
            r = None
        if r is not None and r.analytic is not None:
            analytic = r.analytic(curve)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    curve.plot(ax=ax, analytic=analytic)
    if curve.log_x and np.all(curve.y[np.isfinite(curve.y)] > 0) and \
            np.nanmax(curve.y) / np.nanmin(curve.y) > 100:
        ax.set_yscale("log")
    save_figure(fig, out)


def plot_sweep_file(path: str | Path, out: str | Path, measure: str | None = None) -> None:
    """PNG of a sweep dataset: a measure against the first swept parameter with its spread."""
    from .errors import UsageError
    from .sweep import load_dataset, plot_sweep
    ds = load_dataset(path)
    names = [k for k in ds.data_vars if k not in ("error", "ok") and not k.startswith("mc_")]
    if measure is None:
        if not names:
            raise UsageError(f"{path}: the sweep holds no measures")
        measure = names[0]
    elif measure not in ds.data_vars:
        raise UsageError(f"{path}: no measure {measure!r}; have {', '.join(names)}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    plot_sweep(ds, measure, ax)
    save_figure(fig, out)
