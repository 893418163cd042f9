"""Network studies on simulated chips: one module per experiment, one typed registry.

Each study trains its networks, maps them onto simulated chips
(:class:`~pycircuits.network.hardware.HardwareModel`, one
``numpy.random.SeedSequence`` per chip), writes ``metrics.json`` (mean, std
and the per-seed/per-chip values of every metric, the curve sources and the
configuration) and PNG plots into the output folder, and returns a table of
rows ``{"metric", "ours", "published"}`` that the command line prints.

A run is a deterministic function of ``seed`` (for one BLAS threading
setting); ``quick=True`` shrinks data, epochs, seeds and chips so that a run
takes seconds (tests), the full run gives the reported numbers.

Studies read TransferCurves and software twins only: importing this package
does not load PySpice.
"""

from __future__ import annotations

from dataclasses import asdict
from os import PathLike
from pathlib import Path
from typing import Any

from pycircuits import progress
from pycircuits.errors import UsageError
from pycircuits.network.hardware import HardwareModel

# Each module registers its study at import.
from . import crossbar, denram, hierarchy, memstack, metaplastic, mingru, nhc, pcm_trace, s4d  # noqa: F401
from .registry import STUDIES, Study, get, register
from .report import format_table, write_json

__all__ = ["STUDIES", "Study", "experiment_names", "format_table", "get", "register", "run_experiment"]


def experiment_names() -> list[str]:
    """Names of the studies, sorted."""
    return sorted(STUDIES)


def run_experiment(
    name: str,
    curves_dir: str | PathLike[str] | None = None,
    out_dir: str | PathLike[str] | None = None,
    quick: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Run study ``name``; write metrics.json and PNGs into ``out_dir``.

    ``curves_dir``: folder of TransferCurve JSON files (see
    :data:`pycircuits.network.hardware.CURVE_FILES`; fallbacks when missing).
    ``out_dir`` defaults to ``out/network/NAME``.  Returns ``{"experiment",
    "quick", "seed", "sources", "config", "metrics", "table", "files"}``;
    ``table`` is a list of rows ``{"metric", "ours", "published"}``.  Unknown
    name -> :class:`~pycircuits.errors.UsageError`.
    """
    study = get(name)
    if curves_dir is not None and not Path(curves_dir).is_dir():
        raise UsageError(f"curves folder {curves_dir} does not exist")
    cfg = study.quick if quick else study.config
    hw = HardwareModel.from_curves(curves_dir, **study.hw_options)
    out = Path("out") / "network" / name if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with progress.stage(name):
        metrics, table, files = study.runner(hw, cfg, seed, out)
    sources = {k: v for k, v in hw.sources.items() if k in study.uses}
    payload = {
        "experiment": name,
        "quick": quick,
        "seed": seed,
        "sources": sources,
        "config": asdict(cfg),
        "metrics": metrics,
        "table": table,
    }
    write_json(out / "metrics.json", payload)
    files.append(str(out / "metrics.json"))
    return {**payload, "files": files}
