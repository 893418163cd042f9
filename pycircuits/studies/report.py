"""What every experiment writes: statistics over seeds/chips, table rows, JSON, PNGs.

Shared by the experiment modules (:mod:`pycircuits.studies` and
the per-experiment modules it registers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Row", "format_table", "pct", "pyplot", "row", "save", "sci", "seed_ints", "stat", "write_json"]

Row = dict[str, str]


def stat(values: Any) -> dict[str, Any]:
    """``{"mean", "std", "median", "values"}`` of the values (NaN-free input expected)."""
    v = np.asarray(values, dtype=float).ravel()
    return {"mean": float(v.mean()), "std": float(v.std()), "median": float(np.median(v)), "values": v.tolist()}


def pct(s: dict[str, Any]) -> str:
    """A :func:`stat` of fractions as ``"mean ± std %"``."""
    return f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f} %"


def sci(value: float, unit: str) -> str:
    return f"{value:.3g} {unit}"


def row(metric: str, ours: str, published: str = "") -> Row:
    """One line of an experiment's table."""
    return {"metric": metric, "ours": ours, "published": published}


def seed_ints(seed: int, n: int) -> list[int]:
    """n independent integer seeds derived from ``seed`` (for the task generators)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n)]


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    from pycircuits.files import atomic_write_text

    atomic_write_text(path, json.dumps(payload, indent=1) + "\n")


def save(fig: Any, path: Path, files: list[str]) -> None:
    """Save a matplotlib figure as PNG and append its path to ``files``."""
    from pycircuits.plots import save_figure

    save_figure(fig, path)
    files.append(str(path))


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive backend."""
    from pycircuits.plots import _pyplot

    return _pyplot()


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned text table (metric | ours | published)."""
    head = {"metric": "metric", "ours": "ours (mean ± std)", "published": "published"}
    width = {k: max(len(r[k]) for r in [head, *rows]) for k in head}
    lines = [" | ".join(r[k].ljust(width[k]) for k in head).rstrip() for r in [head, *rows]]
    lines.insert(1, "-+-".join("-" * width[k] for k in head))
    return "\n".join(lines)
