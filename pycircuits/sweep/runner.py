"""The sweep itself: plan -> points -> cache look-up -> executor -> dataset."""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import UsageError
from ..files import check_folder_writable, jsonable
from ..progress import LOG, bar
from ..spice.ngshared import DEFAULT_THREADS, check_threads
from .batches import batch_size, make_batches, prepare
from .cache import MEASURE_CODE_VERSION, Cache, Entry, default_cache_dir
from .executor import LocalExecutor
from .plan import build_plan
from .worker import PointResult

# Points per batch at least, on Dask: each batch is one scheduled task, whose
# round trip costs milliseconds (benchmarks/sweep.py measures it), against
# about a millisecond for a point of a small circuit.
DASK_MIN_BATCH = 100


@dataclass
class SweepStats:
    """What a sweep did (also stored in the dataset's attrs)."""

    n_points: int = 0
    n_computed: int = 0
    n_cached: int = 0
    n_failed: int = 0
    n_runs: int = 0
    n_loads: int = 0
    n_batches: int = 0
    max_loads_per_batch: int = 0
    workers_started: int = 0
    workers_reused: int = 0  # kept from an earlier sweep (keep_workers)
    wall_time_s: float = 0.0
    executor: str = ""
    batch_size: int = 0
    ngspice_threads: int = DEFAULT_THREADS
    loads: dict[tuple[int, int], int] = field(default_factory=dict)  # (batch, pid) -> loads
    n_cache_failed: int = 0  # points computed that could not be stored in the cache
    cache_error: str = ""

    def attrs(self) -> dict[str, Any]:
        """NetCDF-friendly attributes."""
        rate = self.n_points / self.wall_time_s if self.wall_time_s > 0 else 0.0
        return {"n_points": self.n_points, "n_computed": self.n_computed, "n_cached": self.n_cached,
                "n_failed": self.n_failed, "n_runs": self.n_runs, "n_loads": self.n_loads,
                "n_batches": self.n_batches, "max_loads_per_batch": self.max_loads_per_batch,
                "workers_started": self.workers_started, "workers_reused": self.workers_reused,
                "wall_time_s": self.wall_time_s,
                "points_per_s": rate, "executor": self.executor, "batch_size": self.batch_size,
                "ngspice_threads": self.ngspice_threads, "n_cache_failed": self.n_cache_failed}


def _cache_of(cache: str | Path | bool | None) -> Cache:
    if cache is None or cache is False:
        return Cache(None)
    root = default_cache_dir() if cache is True else Path(cache)
    c = Cache(root)
    # the folder is made by the first entry written
    check_folder_writable(c.root, f"cannot use cache folder {root}")
    return c


def _progress(total: int, initial: int, show: bool | None):
    return bar(total, "sweep", "pt", initial=initial, show=show)


def _executor(jobs: int | None, scheduler: str | None, timeout_s: float, recycle: int,
              scheduler_timeout_s: float, keep_workers: bool = False):
    from .executor import DaskExecutor
    if scheduler:
        if jobs is not None:
            raise UsageError("give --jobs or --scheduler, not both")
        return DaskExecutor(scheduler, scheduler_timeout_s)
    return LocalExecutor(jobs or os.cpu_count() or 1, timeout_s, recycle, keep_workers=keep_workers)


MAX_TIMEOUT_S = 30 * 86400.0  # a point may run a month; beyond, the OS timers overflow


def _check_numbers(jobs: int | None, timeout_s: float, recycle: int) -> None:
    if jobs is not None and (int(jobs) != jobs or jobs < 1):
        raise UsageError(f"--jobs: expected a positive integer, got {jobs}")
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise UsageError(f"--timeout: expected a positive number of seconds up to {MAX_TIMEOUT_S:g}, got {timeout_s}")
    if int(recycle) != recycle or recycle < 1:
        raise UsageError(f"--recycle: expected a positive integer, got {recycle}")


def sweep(circuit: str, vary: Mapping[str, Any] | Iterable[Any] | None = None,
          params: Mapping[str, Any] | None = None, *, mc: int = 0, seed: int = 0,
          corners: str | Sequence[str] | None = None, pdk: str = "generic130", jobs: int | None = None,
          scheduler: str | None = None, cache: str | Path | bool | None = True,
          keep_waveforms: bool = False, timeout_s: float = 300.0, recycle: int = 500,
          output: str | Path | None = None, progress: bool | None = None,
          scheduler_timeout_s: float = 10.0, ngspice_threads: int = DEFAULT_THREADS,
          batch_size: int | None = None, vary_mc: Mapping[str, Any] | Iterable[Any] | None = None,
          allow_control: bool = False, keep_workers: bool = False, backend: str = "session"):
    """Run a parameter sweep / Monte Carlo of ``circuit`` and return its :class:`xarray.Dataset`.

    ``vary`` maps parameter names to ``"lin:A:B:N"``, ``"log:A:B:N"``,
    ``"list:a,b,c"`` or a list of values (grid = product, first outermost);
    ``params`` sets the other parameters; ``mc`` samples per grid point are
    drawn by the circuit's Monte Carlo sampler from ``seed``; ``corners`` is
    a list (or ``"tt,ss"``).  Points run on ``jobs`` local processes (default:
    one per CPU) or on the Dask scheduler at ``scheduler`` (``tcp://HOST:PORT``).
    ``cache`` is True (the user cache folder), a folder, or False; cached
    points are not simulated again.  A point that fails, or runs longer than
    ``timeout_s`` seconds (local processes only), is recorded with its error.
    ``output`` (``.nc``) writes the dataset and a CSV beside it.  The result's
    ``attrs`` hold provenance and ``n_points``, ``n_computed``, ``n_cached``,
    ``n_failed``, ``n_runs``, ``n_loads``, ``wall_time_s``.

    ``ngspice_threads`` is ngspice's OpenMP thread count in each worker (one:
    the workers are the parallelism).  ``batch_size`` is the number of points
    a worker runs per circuit load and per message (default: a quarter of
    each worker's share, and at least :data:`DASK_MIN_BATCH` on Dask, where
    each batch is a scheduled task).

    ``circuit`` may be a deck file (``"path/to/deck.cir"``): its ``.param``
    values are the parameters, its ``.meas`` results the measures (NaN where
    one fails, with ngspice's reason in the ``meas_failed`` variable), its
    corner library's sections the corners.  ``vary_mc`` names the Monte Carlo
    distributions (``{"r": "lognormal:0.1", "c": "normal:5%"}``, also for a
    built-in circuit, after its own sampler).  A deck's ``.control`` block is
    refused unless ``allow_control``.

    ``backend`` is the engine of every point: ``session`` (libngspice in each
    worker, the circuit loaded once per worker and re-run with
    ``alterparam``), ``batch`` (``ngspice -b``, a process per point) or
    ``vacask`` (the deck translated for VACASK, a process per point; the
    ``vacask`` extra).  The cache keeps each backend's results apart.

    ``keep_workers`` keeps the local worker processes (and the circuit each
    has loaded) for the next ``sweep(..., keep_workers=True)`` of this
    process: a script or notebook that sweeps again and again skips each
    worker's start and first load.  ``pycircuits.sweep.close_workers()``
    stops them; they end with the process in any case.

    >>> ds = sweep("rc", {"r": "log:1k:100k:5"}, {"sigma_r": 0.1}, mc=50, seed=1)
    >>> ds.tau_s.median("mc")
    """
    from ..circuits import get
    from ..spice import ngspice_version
    from .cache import forget_checks
    from .dataset import build_dataset, check_writable, to_csv, write_dataset
    t0 = time.perf_counter()
    forget_checks()  # model files edited since the last sweep are hashed again
    plan = build_plan(circuit, vary, params, mc=mc, seed=seed, corners=corners, pdk=pdk, vary_mc=vary_mc,
                      allow_control=allow_control)
    _check_numbers(jobs, timeout_s, recycle)
    cpus = os.cpu_count() or 1
    if jobs is not None and jobs > cpus:  # more processes than cores only cost memory (~90 MB each)
        sys.stderr.write(f"pycircuits: warning: --jobs {jobs} capped at the machine's {cpus} CPUs\n")
        jobs = cpus
    threads = check_threads(ngspice_threads)
    engine_version = _engine_version(backend)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int | float)
                                   or not 1 <= batch_size < float("inf") or batch_size != int(batch_size)):
        raise UsageError(f"--batch-size: expected a positive integer, got {batch_size}")
    if output is not None:
        check_writable(output, inputs=(circuit,) if Path(str(circuit)).is_file() else ())
    store = _cache_of(cache)
    store.clean_stale()  # what workers killed in an earlier sweep left half-written
    defn = get(plan.circuit)
    points = plan.points()
    executor = _executor(jobs, scheduler, timeout_s, recycle, scheduler_timeout_s, keep_workers)
    try:
        if isinstance(executor, LocalExecutor):
            # the workers start (and load libngspice) while this process builds the netlists
            executor.prestart(min(executor.jobs, len(points)))
        version = ngspice_version()
        prepared = prepare(plan, points, version if backend == "session" else f"{backend} {engine_version}")
        if backend == "vacask":  # a card VACASK's translation does not take is one line, before any point runs
            from ..spice.vacask import translate
            for text in prepared.netlists.values():
                translate(text)
        stats = SweepStats(n_points=len(points), executor=executor.name)
        results = _run(prepared, store, executor, defn, keep_waveforms, stats, progress, threads, batch_size,
                       backend, timeout_s)
    finally:
        executor.close()
    stats.workers_started = getattr(executor, "workers_started", 0)
    stats.workers_reused = getattr(executor, "workers_reused", 0)
    stats.max_loads_per_batch = max(stats.loads.values(), default=0)
    stats.n_loads = sum(stats.loads.values())
    stats.n_failed = sum(1 for r in results if not r.entry.ok)
    stats.wall_time_s = time.perf_counter() - t0
    LOG.info("sweep of %s: %d points on ngspice %s, executor %s, %d ngspice thread(s); cache %s: "
             "%d served, %d computed, %d failed (%.1f s)", plan.circuit, stats.n_points, version, stats.executor,
             threads, store.root if store.enabled else "off", stats.n_cached, stats.n_computed, stats.n_failed,
             stats.wall_time_s)
    _log_notes(r.entry for r in results)
    if stats.n_cache_failed:
        sys.stderr.write(f"pycircuits: warning: {stats.n_cache_failed} of {stats.n_computed} computed points could "
                         f"not be stored in the cache ({stats.cache_error}); a resume computes them again\n")
    attrs = {"circuit": plan.circuit, "params": json.dumps(jsonable(_base_params(defn, plan), nonfinite=float)),
             "plan": plan.to_json(), "seed": plan.seed, "mc": plan.mc, "pdk": plan.pdk,
             "corners": ",".join(plan.corners), "ngspice_version": version,
             "backend": backend, "backend_version": engine_version,
             "pycircuits_version": __version__, "measure_code_version": MEASURE_CODE_VERSION,
             "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
             **stats.attrs()}
    ds = build_dataset(plan, points, [r.entry for r in results], defn, attrs)
    if output is not None:
        write_dataset(ds, output, to_csv(ds, plan, points))
    return ds


def _log_notes(entries: Iterable[Entry]) -> None:
    """ngspice's notes and warnings of the points, each distinct one once, with how many points gave it."""
    counts: dict[str, int] = {}
    for e in entries:
        for note in e.meta.get("ngspice_notes", ()):
            counts[note] = counts.get(note, 0) + 1
    for note, n in counts.items():
        LOG.info("ngspice (%d point%s): %s", n, "" if n == 1 else "s", note)


def _base_params(defn, plan) -> dict[str, Any]:
    """Every parameter of the circuit at the plan's base values (swept ones at their first value)."""
    from ..params import make_params
    first = {a.name: a.values[0] for a in plan.axes if a.values}
    return make_params(defn.params, {**plan.params, **first}).as_dict()


def _run(prepared, store: Cache, executor, defn, keep_waveforms: bool, stats: SweepStats,
         progress: bool | None, threads: int = DEFAULT_THREADS, size: int | None = None,
         backend: str = "session", timeout_s: float = 300.0) -> list[PointResult]:
    """Serve cached points, run the rest; return one result per point, in point order."""
    by_key: dict[str, list[int]] = {}
    for i, task in enumerate(prepared.tasks):
        by_key.setdefault(task.key, []).append(i)
    results: dict[int, PointResult] = {}
    todo = []
    for key, idxs in by_key.items():
        entry = store.get(key, need_waveforms=keep_waveforms)
        if entry is None:
            todo.append(idxs[0])
            continue
        for i in idxs:
            results[i] = PointResult(i, key, entry, cached=True)
    stats.n_cached = len(results)
    jobs = getattr(executor, "jobs", None) or _dask_workers(executor)
    cache_dir = str(store.root.parent) if store.enabled and executor.writes_cache else None
    if size is None:
        minimum = 1 if isinstance(executor, LocalExecutor) else DASK_MIN_BATCH
        size = batch_size(len(todo), jobs, minimum)
    batches = make_batches(prepared, todo, defn.name, defn.build.__module__, jobs, keep_waveforms, cache_dir,
                           threads, size, backend, timeout_s)
    stats.n_batches, stats.batch_size, stats.ngspice_threads = len(batches), size, threads
    failed = sum(1 for r in results.values() if not r.entry.ok)
    with _progress(len(prepared.tasks), stats.n_cached, progress) as bar:
        def on_result(r: PointResult) -> None:
            nonlocal failed
            if not executor.writes_cache and not store.put(r.key, r.entry) and store.last_error:
                r = replace(r, cache_error=store.last_error)
                store.last_error = ""
            if r.cache_error:
                stats.n_cache_failed += 1
                stats.cache_error = stats.cache_error or r.cache_error
            stats.n_runs += r.runs
            if r.pid:
                stats.loads[(r.batch_id, r.pid)] = stats.loads.get((r.batch_id, r.pid), 0) + r.loads
            for i in by_key[r.key]:
                results[i] = replace(r, index=i)
            stats.n_computed += len(by_key[r.key])
            failed += 0 if r.entry.ok else len(by_key[r.key])
            bar.set_postfix(failed=failed, cached=stats.n_cached, refresh=False)
            bar.update(len(by_key[r.key]))
        if batches:
            executor.run(batches, on_result)
    return [results[i] for i in range(len(prepared.tasks))]


SWEEP_BACKENDS = ("session", "batch", "vacask")


def _engine_version(backend: str) -> str:
    """The version of ``backend``'s engine, for the cache key and the dataset
    (VACASK's with a digest of our Verilog-A models, which stand in for the decks' device models);
    a missing engine is one line."""
    from ..spice import ngspice_version
    if backend not in SWEEP_BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose from {', '.join(SWEEP_BACKENDS)}")
    if backend != "vacask":
        return ngspice_version()
    import hashlib

    from ..spice.vacask import VA_DEVICES, engine_version
    from ..spice.veriloga import va_model
    version = engine_version()
    h = hashlib.sha256()
    for name in VA_DEVICES:
        h.update(Path(va_model(name)).read_bytes())
    return f"{version} va-{h.hexdigest()[:12]}"


def _dask_workers(executor) -> int:
    try:
        return max(1, len(executor.client.scheduler_info().get("workers", {})))
    except Exception:  # noqa: BLE001 - only a batch-size hint
        return 1
