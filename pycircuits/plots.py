"""Figures: waveforms of a run, sweeps with their spread, transfer curves.

matplotlib is imported inside the functions with the Agg backend, so that
plotting works on machines with no display and costs nothing when unused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
