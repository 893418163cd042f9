"""Executors: where batches run -- a supervised pool of local processes, or a Dask cluster.

Both take a list of :class:`~pycircuits.sweep.batches.Batch` and call
``on_result`` with one :class:`~pycircuits.sweep.worker.PointResult` per point
of every batch, whatever happens to the workers.

:class:`LocalExecutor` runs ``jobs`` spawned processes (one libngspice each)
and supervises them point by point: a worker reports each point before
starting it, so the parent can kill one that overruns ``timeout_s`` (the
point is recorded as a :class:`~pycircuits.errors.SimulationTimeout`) or
notice one that died (the point is recorded as "worker died: ..."); the rest
of that batch goes to a fresh worker.  Workers retire after ``recycle``
analyses to bound libngspice's memory.  Workers write their cache entries
themselves, so a sweep killed at any moment keeps every finished point.

:class:`DaskExecutor` submits the same batches to a ``distributed`` scheduler,
each as one call of :func:`~pycircuits.sweep.worker.execute_batch`; the
client writes the cache (workers may not share its filesystem).  Per-point
timeouts are not enforced there (a Dask worker cannot kill its own
simulation); Dask's own retries handle workers that die.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from urllib.parse import urlsplit

from ..errors import SimulationError, UsageError
from .batches import Batch, Task
from .cache import Entry
from .worker import PointResult, execute_batch, worker_main

OnResult = Callable[[PointResult], None]
_MAX_START_FAILURES = 3
_WAIT_SLICE_S = 3600.0


def _failure(task: Task, batch: Batch, error: str, error_type: str) -> PointResult:
    return PointResult(task.index, task.key, Entry(error=error, error_type=error_type), batch_id=batch.batch_id)


def _exit_text(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class _Slot:
    """One worker process, the batch it holds and the point it is running."""

    def __init__(self, ctx, recycle: int):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker_main, args=(child, recycle, os.getpid()),
                                name="pycircuits-sweep-worker", daemon=True)
        self.proc.start()
        child.close()
        self.batch: Batch | None = None
        self.todo: deque[Task] = deque()  # tasks of the batch not finished, the running one first
        self.running = False
        self.deadline: float | None = None
        self.alive = True
        self.heard = False  # has the worker sent anything (it started up)?

    def assign(self, batch: Batch) -> bool:
        self.batch, self.todo, self.running, self.deadline = batch, deque(batch.tasks), False, None
        try:
            self.conn.send(("batch", batch))
        except OSError:
            return False
        return True

    def rest(self) -> Batch | None:
        """What is left of the batch, after the running point."""
        if self.batch is None or not self.todo:
            return None
        return self.batch.with_tasks(list(self.todo))

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        self.alive = False

    def stop(self) -> None:
        """Ask an idle worker to exit (2 s), then make sure it has."""
        if self.batch is None:
            try:
                self.conn.send(("stop",))
                self.proc.join(2)
            except OSError:
                pass
        self.kill()


# Idle workers kept for the next sweep of this process (``keep_workers``), with the
# settings they were started under: a worker sees the environment of its start.
_IDLE: list[_Slot] = []
_IDLE_SETTINGS: tuple = ()


def _settings(recycle: int) -> tuple:
    return recycle, os.getcwd(), tuple(sorted(os.environ.items()))


def close_workers() -> int:
    """Stop the idle workers kept by ``keep_workers`` sweeps; returns how many there were."""
    n = len(_IDLE)
    while _IDLE:
        s = _IDLE.pop()
        if s.alive:
            s.stop()
    return n


atexit.register(close_workers)


class LocalExecutor:
    """A supervised pool of ``jobs`` spawned worker processes.

    ``keep_workers``: the workers that end :meth:`run` idle and healthy are
    kept for the next run in this process (started under the same working
    folder, environment and ``recycle``), so that its points skip the
    worker's start and, for the same circuit, its load.  Each still retires
    after ``recycle`` analyses; :func:`close_workers` stops the kept ones.
    """

    writes_cache = True

    def __init__(self, jobs: int, timeout_s: float = 300.0, recycle: int = 500, keep_workers: bool = False):
        self.jobs = max(1, int(jobs))
        self.timeout_s = float(timeout_s)
        self.recycle = max(1, int(recycle))
        self.keep_workers = bool(keep_workers)
        self.workers_started = 0
        self.workers_reused = 0
        self._ctx = multiprocessing.get_context("spawn")
        self._start_failures = 0
        self._ready: list[_Slot] = []  # started ahead of the first batch (prestart)

    @property
    def name(self) -> str:
        """A short description, e.g. ``local:4``."""
        return f"local:{self.jobs}"

    def _spawn(self) -> _Slot:
        global _IDLE_SETTINGS
        if self.keep_workers:
            if _IDLE and _IDLE_SETTINGS != _settings(self.recycle):
                close_workers()
            while _IDLE:
                s = _IDLE.pop()
                if s.alive and s.proc.is_alive():
                    self.workers_reused += 1
                    return s
                s.kill()
        self.workers_started += 1
        return _Slot(self._ctx, self.recycle)

    def prestart(self, n: int) -> None:
        """Start ``n`` workers now, ahead of :meth:`run` (kept ones first, see ``keep_workers``)."""
        while len(self._ready) < min(n, self.jobs):
            self._ready.append(self._spawn())

    def _next(self) -> _Slot:
        while self._ready:
            s = self._ready.pop(0)
            if s.alive:
                return s
        return self._spawn()

    def _keep(self, s: _Slot) -> None:
        global _IDLE_SETTINGS
        if not _IDLE:
            _IDLE_SETTINGS = _settings(self.recycle)
        _IDLE.append(s)

    def run(self, batches: Sequence[Batch], on_result: OnResult) -> None:
        """Run every batch; call ``on_result`` once per point."""
        pending: deque[Batch] = deque(batches)
        slots: list[_Slot | None] = [None] * min(self.jobs, len(pending))
        finished = False
        try:
            while pending or any(s is not None and s.batch is not None for s in slots):
                for k, slot in enumerate(slots):
                    if pending and (slot is None or slot.batch is None):
                        if slot is None or not slot.alive:
                            slot = slots[k] = self._next()
                        batch = pending.popleft()
                        if not slot.assign(batch):
                            self._died(slot, on_result, pending)
                busy = [s for s in slots if s is not None and s.batch is not None]
                deadlines = [s.deadline for s in busy if s.deadline is not None]
                # wait in slices: the OS poll takes milliseconds in 32 bits (24.8 days at most)
                timeout = min(_WAIT_SLICE_S, max(0.0, min(deadlines) - time.monotonic())) if deadlines else None
                wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout)
                for s in busy:
                    self._drain(s, on_result, pending)
                now = time.monotonic()
                for s in busy:
                    if s.alive and s.batch is not None and s.deadline is not None and now >= s.deadline:
                        self._timed_out(s, on_result, pending)
            finished = True
        finally:
            for s in slots:
                if s is not None and s.alive:
                    if finished and self.keep_workers and s.batch is None and s.proc.is_alive():
                        self._keep(s)
                    else:
                        s.stop()

    def _drain(self, s: _Slot, on_result: OnResult, pending: deque[Batch]) -> None:
        """Handle every message the worker sent; notice if it died."""
        for _ in range(2):
            eof = self._read(s, on_result, pending)
            if not s.alive:
                return
            if eof:
                break
            if s.proc.is_alive():
                return
            # dead: read once more what it wrote before dying, then bury it
        self._died(s, on_result, pending)

    def _read(self, s: _Slot, on_result: OnResult, pending: deque[Batch]) -> bool:
        """Handle the messages waiting on the pipe; True when the worker closed it."""
        while s.alive:
            try:
                if not s.conn.poll():
                    return False
                msg = s.conn.recv()
            except (EOFError, OSError):
                return True
            s.heard = True
            self._start_failures = 0
            kind = msg[0]
            if kind == "start":
                s.running, s.deadline = True, time.monotonic() + self.timeout_s
            elif kind == "done":
                s.todo.popleft()
                s.running, s.deadline = False, None
                on_result(msg[1])
            elif kind == "idle":
                s.batch = None
            elif kind == "recycle":
                rest = s.rest()
                if rest is not None:
                    pending.appendleft(rest)
                s.batch = None
                s.kill()
        return False

    def _died(self, s: _Slot, on_result: OnResult, pending: deque[Batch]) -> None:
        s.proc.join(5)
        why = _exit_text(s.proc.exitcode)
        if s.running and s.todo:
            task = s.todo.popleft()
            on_result(_failure(task, s.batch, f"worker died: {why}", "WorkerDied"))
        elif not s.heard:
            self._start_failures += 1
            if self._start_failures >= _MAX_START_FAILURES:
                raise SimulationError(
                    f"sweep workers die as they start ({why}); a script that calls sweep() must do so "
                    "under `if __name__ == \"__main__\":`")
        rest = s.rest()
        if rest is not None:
            pending.appendleft(rest)
        s.batch = None
        s.kill()

    def _timed_out(self, s: _Slot, on_result: OnResult, pending: deque[Batch]) -> None:
        s.kill()
        task = s.todo.popleft()
        on_result(_failure(task, s.batch, f"simulation exceeded the {self.timeout_s:g} s limit; "
                                          "its worker was killed", "SimulationTimeout"))
        rest = s.rest()
        if rest is not None:
            pending.appendleft(rest)
        s.batch = None

    def close(self) -> None:
        """Stop the workers started ahead that no batch needed (or keep them, with ``keep_workers``)."""
        while self._ready:
            s = self._ready.pop()
            if s.alive and self.keep_workers and s.proc.is_alive():
                self._keep(s)
            elif s.alive:
                s.kill()  # it holds nothing yet: no need to wait for it to finish starting


def check_scheduler_address(address: str, timeout_s: float) -> None:
    """Refuse a malformed address, and fail fast when nothing listens there."""
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls", "ws", "wss") or not parts.hostname or port is None:
        raise UsageError(f"--scheduler: expected tcp://HOST:PORT, got {address!r}")
    if parts.scheme == "tcp":
        try:
            socket.create_connection((parts.hostname, port), timeout=min(timeout_s, 5.0)).close()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise UsageError(f"cannot reach Dask scheduler {address}: {reason}") from None


class DaskExecutor:
    """Batches submitted to a ``distributed`` scheduler, one task per batch."""

    writes_cache = False

    def __init__(self, address: str, connect_timeout_s: float = 10.0):
        check_scheduler_address(address, connect_timeout_s)
        from distributed import Client
        try:
            self.client = Client(address, timeout=connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise UsageError(f"cannot reach Dask scheduler {address}: {first}") from None
        self.address = address

    @property
    def name(self) -> str:
        """A short description, e.g. ``dask:tcp://10.0.0.2:8786``."""
        return f"dask:{self.address}"

    def run(self, batches: Sequence[Batch], on_result: OnResult) -> None:
        """Submit every batch and report each point as its batch completes."""
        from distributed import as_completed
        futures = {self.client.submit(execute_batch, b, pure=False): b for b in batches}
        try:
            for fut in as_completed(list(futures), loop=self.client.loop):
                batch = futures.pop(fut)
                try:
                    results = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: record, go on
                    why = (str(exc).splitlines() or [""])[0]
                    results = [_failure(t, batch, f"worker died: {type(exc).__name__}: {why}", "WorkerDied")
                               for t in batch.tasks]
                for r in results:
                    on_result(r)
        finally:
            if futures:
                self.client.cancel(list(futures))

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        self.client.close()
