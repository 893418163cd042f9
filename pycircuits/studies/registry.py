"""The one registry of network studies: each study module registers one :class:`Study`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycircuits.errors import UsageError

# runner(hw, config, seed, out_dir) -> (metrics, table rows, files written)
Runner = Callable[[Any, Any, int, Path], tuple[dict[str, Any], list[dict[str, str]], list[str]]]


@dataclass(frozen=True)
class Study:
    """A network experiment on simulated chips.

    ``config`` is the full run (a frozen dataclass), ``quick`` the ``--quick``
    one; ``hw_options`` are keyword arguments of
    :meth:`~pycircuits.network.hardware.HardwareModel.from_curves`; ``uses``
    names the hardware roles of ``HardwareModel.sources`` the study reads
    (they are listed as its curve sources).
    """

    name: str
    doc: str
    runner: Runner
    config: Any
    quick: Any
    hw_options: Mapping[str, Any] = field(default_factory=dict)
    uses: tuple[str, ...] = ()


STUDIES: dict[str, Study] = {}


def register(study: Study) -> Study:
    """Add a study to the registry (a study module calls it once, at import)."""
    if study.name in STUDIES:
        raise ValueError(f"study {study.name!r} is registered twice")
    STUDIES[study.name] = study
    return study


def get(name: str) -> Study:
    """The study called ``name``; :class:`UsageError` listing the known ones otherwise."""
    try:
        return STUDIES[name]
    except KeyError:
        raise UsageError(f"unknown experiment {name!r}; known: {', '.join(sorted(STUDIES))}") from None
