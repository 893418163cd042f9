"""From points to runnable work: one netlist per point, grouped by structure, cut into batches.

Two points share a *structure* when their netlists differ only in the values
of ``.param`` lines.  A worker then loads the structure's netlist once and
re-runs it per point with ``alterparam`` (``Session.run(netlist, values)``).
The netlist loaded for a structure is always that of its first point in the
plan, so which points happen to be cached never changes what runs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..spice.deck import blank_param_values, numeric_params
from .cache import cache_key
from .plan import Plan, Point


@dataclass(frozen=True)
class Task:
    """One point to simulate: cache key, ``.param`` values to apply, circuit parameter values."""

    index: int
    key: str
    spice_params: dict[str, float]
    values: dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """Points of one structure that one worker runs after loading ``netlist`` once."""

    batch_id: int
    circuit: str
    module: str  # the module that registers the circuit (imported by workers)
    netlist: str
    tasks: tuple[Task, ...]
    keep_waveforms: bool = False
    cache_dir: str | None = None  # workers that share the filesystem write entries themselves
    threads: int = 1  # ngspice's OpenMP threads in the worker
    backend: str = "session"  # session: load once, alterparam per point; batch/vacask: one process per point
    timeout_s: float = 300.0  # a batch/vacask point's own limit (the local executor enforces it too)

    def with_tasks(self, tasks: Sequence[Task]) -> Batch:
        """The same batch holding only ``tasks`` (the rest of an interrupted batch)."""
        return replace(self, tasks=tuple(tasks))


def structure_key(netlist: str) -> str:
    """SHA-256 of the netlist with the values of numeric ``.param`` lines blanked."""
    return hashlib.sha256(blank_param_values(netlist).encode()).hexdigest()


@dataclass(frozen=True)
class Prepared:
    """Every point of a plan made runnable: tasks in point order, one netlist per structure."""

    tasks: tuple[Task, ...]
    structure_of: tuple[str, ...]  # structure key per point
    netlists: dict[str, str]  # structure key -> the netlist loaded for it


def prepare(plan: Plan, points: Sequence[Point], ngspice_version: str) -> Prepared:
    """Generate each point's netlist (validating its parameters) and its cache key."""
    from ..circuits import generate
    tasks, structure_of, netlists = [], [], {}
    for p in points:
        _, params, net = generate(plan.circuit, p.params_values, plan.pdk, p.corner)
        text = str(net)
        skey = structure_key(text)
        netlists.setdefault(skey, text)
        structure_of.append(skey)
        key = cache_key(text, plan.circuit, ngspice_version, params.as_dict())
        tasks.append(Task(p.index, key, numeric_params(text), dict(p.params_values)))
    return Prepared(tuple(tasks), tuple(structure_of), netlists)


def batch_size(n_points: int, jobs: int, minimum: int = 1) -> int:
    """Points per batch: about a quarter of each worker's share, and at least ``minimum``."""
    return max(1, minimum, math.ceil(n_points / max(1, jobs) / 4))


def make_batches(prepared: Prepared, indices: Sequence[int], circuit: str, module: str, jobs: int,
                 keep_waveforms: bool = False, cache_dir: str | None = None, threads: int = 1,
                 size: int | None = None, backend: str = "session", timeout_s: float = 300.0) -> list[Batch]:
    """Cut the points ``indices`` into batches of one structure, ``size`` points each.

    ``size`` None: :func:`batch_size` (a quarter of each worker's share, >= 1).
    """
    size = size or batch_size(len(indices), jobs)
    groups: dict[str, list[Task]] = {}
    for i in indices:
        groups.setdefault(prepared.structure_of[i], []).append(prepared.tasks[i])
    batches = []
    for skey, tasks in groups.items():
        for start in range(0, len(tasks), size):
            batches.append(Batch(len(batches), circuit, module, prepared.netlists[skey],
                                 tuple(tasks[start:start + size]), keep_waveforms, cache_dir, threads,
                                 backend, timeout_s))
    return batches
