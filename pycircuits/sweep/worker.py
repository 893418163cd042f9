"""What runs inside a worker process: a batch of points on the process's one Session.

:func:`execute_batch` is the pure function both executors call -- the local
pool from :func:`worker_main` (a spawned process talking over a pipe) and
Dask (submitted as is).  It loads the batch's netlist once, re-runs it per
point with the point's ``.param`` values, and measures each result; a point
that fails becomes an :class:`~pycircuits.sweep.cache.Entry` with its error,
never an exception.
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batches import Batch, Task
from .cache import Cache, Entry

_lock = threading.Lock()  # libngspice is one per process and not thread-safe


@dataclass
class PointResult:
    """A point's entry plus where and how it was produced."""

    index: int
    key: str
    entry: Entry
    cached: bool = False
    loads: int = 0  # circuit loads this point caused (0 or 1)
    runs: int = 0  # ngspice analyses run for it
    pid: int = 0
    batch_id: int = -1
    cache_error: str = ""  # the worker could not store this point in the cache (why)


def _circuit(batch: Batch):
    from ..circuits import REGISTRY, get
    from ..circuits.deck import MODULE as DECK_MODULE
    from ..circuits.deck import circuit_from_text
    if batch.module == DECK_MODULE:
        # A deck comes with the batch (the worker may not see the file): its
        # structure's netlist, already normalised and with absolute model paths.
        key = (batch.circuit, batch.netlist)
        if key not in _decks:
            _decks.clear()
            _decks[key] = circuit_from_text(batch.circuit, batch.netlist)
        return _decks[key]
    if batch.circuit not in REGISTRY and batch.module:
        importlib.import_module(batch.module)
    return get(batch.circuit)


_decks: dict[tuple[str, str], object] = {}


def _measures(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in raw.items():
        arr = np.asarray(v, dtype=float)
        out[k] = float(arr) if arr.ndim == 0 else arr.ravel()
    return out


def run_point(session, defn, batch: Batch, task: Task) -> PointResult:
    """Simulate and measure one point on ``session`` (None: on the batch's backend, ``batch`` or
    ``vacask``, in a process of its own); errors are recorded, not raised."""
    from ..errors import SimulationError
    from ..params import make_params
    t0 = time.perf_counter()
    before = (session.loads, session.runs) if session is not None else (0, 0)
    entry = Entry()
    try:
        if session is not None:
            waves = session.run(batch.netlist, task.spice_params)
        else:  # a process per point: the structure's netlist with this point's values written in
            from ..spice import simulate
            from ..spice.deck import set_params
            waves = simulate(set_params(batch.netlist, task.spice_params), batch.backend, timeout_s=batch.timeout_s,
                             threads=batch.threads)
    except SimulationError as exc:
        entry = Entry(error=str(exc), error_type=type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - a point must never stop the sweep
        entry = Entry(error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__)
    else:
        try:
            entry.measures = _measures(defn.measure(waves, make_params(defn.params, task.values)))
        except Exception as exc:  # noqa: BLE001 - measure code failing on odd waveforms
            entry = Entry(error=f"measure failed: {type(exc).__name__}: {exc}", error_type="MeasureError")
        if batch.keep_waveforms:
            entry.waveforms = {k: np.asarray(v) for k, v in waves.vectors.items()}
            entry.units, entry.scale = dict(waves.units), waves.scale
        entry.meta = {"analysis_time_s": waves.analysis_time_s, "ngspice_version": waves.ngspice_version}
        if waves.meas_failed:
            entry.meta["meas_failed"] = dict(waves.meas_failed)
        if waves.warnings:
            entry.meta["ngspice_notes"] = list(waves.warnings)
    entry.meta["wall_time_s"] = time.perf_counter() - t0
    # a process per point read the deck once and ran it once
    n_loads, n_runs = (session.loads - before[0], session.runs - before[1]) if session is not None else (1, 1)
    return PointResult(task.index, task.key, entry, loads=n_loads, runs=n_runs, pid=os.getpid(),
                       batch_id=batch.batch_id)


def run_tasks(batch: Batch, on_start: Callable[[Task], None] | None = None,
              on_done: Callable[[PointResult], bool] | None = None) -> list[PointResult]:
    """Run a batch on this process's Session; ``on_done`` returning True stops after that point."""
    from ..spice import default_session
    cache = Cache(batch.cache_dir) if batch.cache_dir else None
    out = []
    with _lock:
        try:
            defn = _circuit(batch)
            session = default_session(batch.threads) if batch.backend == "session" else None
            problem = ""
        except Exception as exc:  # noqa: BLE001 - e.g. no libngspice, or the circuit's module is missing
            defn = session = None
            problem = f"worker cannot run circuit {batch.circuit}: {exc}"
        for task in batch.tasks:
            if on_start is not None:
                on_start(task)
            if defn is None:
                result = PointResult(task.index, task.key, Entry(error=problem, error_type="WorkerError"),
                                     pid=os.getpid(), batch_id=batch.batch_id)
            else:
                result = run_point(session, defn, batch, task)
            if cache is not None and not cache.put(task.key, result.entry) and cache.last_error:
                result.cache_error, cache.last_error = cache.last_error, ""
            out.append(result)
            if on_done is not None and on_done(result):
                break
    return out


def execute_batch(batch: Batch) -> list[PointResult]:
    """Run a batch in this process (the function Dask workers are given)."""
    return run_tasks(batch)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a killed sweep leaves no orphans)."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _start_engine() -> None:
    """Start libngspice and import the circuits (0.3 s) while the parent still builds the sweep's
    netlists: the first batch is on its way."""
    try:
        from .. import circuits  # noqa: F401 - the registry, PySpice, the measures
        from ..spice import default_session
        default_session()
    except Exception:  # noqa: BLE001 - reported with the first batch, by run_tasks
        pass


def worker_main(conn, recycle: int, parent_pid: int) -> None:
    """Body of a local worker process: run the batches the parent sends until told to stop.

    Messages sent: ``("start", index)`` before each point, ``("done", result)``
    after it, ``("idle",)`` after a batch, ``("recycle",)`` before exiting
    once ``recycle`` analyses have run (to bound libngspice's memory).
    """
    _die_with_parent()
    if os.getppid() != parent_pid:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C stops
    _start_engine()
    runs = 0

    def done(result: PointResult) -> bool:
        nonlocal runs
        runs += result.runs
        conn.send(("done", result))
        return runs >= recycle

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] != "batch":
            return
        batch: Batch = msg[1]
        results = run_tasks(batch, on_start=lambda t: conn.send(("start", t.index)), on_done=done)
        if runs >= recycle:
            conn.send(("recycle", len(results)))
            return
        conn.send(("idle",))
