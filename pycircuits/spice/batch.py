"""Batch backend: ``ngspice -b -r OUT.raw`` in a subprocess, read by our own raw reader.

Each run is a fresh process, which gives isolation (a crash or a leak ends
with the process) and a hard timeout; it pays for it by re-loading the models
every run.  PySpice's own subprocess mode is not used: on ngspice 39 it reads
the raw data from stdout, whose first line is a "Note:" (PySpice issues 352, 168).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import SimulationTimeout
from .deck import analysis_of, check_ngspice_deck
from .messages import log_output, measure_results, ngspice_executable, ngspice_version, raise_for_errors, warnings_of
from .ngshared import check_threads
from .rawfile import read_raw
from .waveforms import Waveforms, netlist_hash

_MEAS_CARD = re.compile(r"^\s*\.meas(ure)?\s", re.IGNORECASE | re.MULTILINE)
_CONTROL_CARD = re.compile(r"^\s*\.control\b", re.IGNORECASE | re.MULTILINE)
_END_CARD = re.compile(r"^\s*\.end\s*$", re.IGNORECASE | re.MULTILINE)


def _with_raw_writer(netlist: str) -> str | None:
    """The deck run by a `.control` block of ours that writes the raw file, or None.

    ``ngspice -b -r FILE`` skips every ``.meas`` ("No .measure possible in
    batch mode (-b) with -r rawfile set!").  A deck with ``.meas`` cards and no
    ``.control`` block of its own is therefore run by ``run``, ``write FILE``,
    ``quit``: the same analyses, the same raw data, and the measures printed.
    The raw file is ``out.raw`` in ngspice's working folder.
    """
    if not _MEAS_CARD.search(netlist) or _CONTROL_CARD.search(netlist):
        return None
    ends = list(_END_CARD.finditer(netlist))
    body = netlist[:ends[-1].start()] if ends else netlist
    return (body.rstrip("\n") + '\n.control\nset filetype=binary\nrun\nwrite out.raw\nquit\n.endc\n.end\n')


def _die_with_parent() -> None:
    """In the forked child: ask Linux to kill ngspice when the process that started it dies (a killed CLI)."""
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


_cleaned: set[str] = set()


def _clean_stale_runs(workdir: str | Path | None) -> None:
    """Once per process and folder: remove the temporary folders of batch runs whose process was killed."""
    folder = str(workdir or tempfile.gettempdir())
    if folder not in _cleaned:
        _cleaned.add(folder)
        from ..files import remove_stale
        remove_stale(folder, r"^pycircuits-run-(?P<pid>\d+)-")


def run_engine(args: list[str], cwd: str | os.PathLike[str], timeout_s: float, what: str,
               env: dict[str, str] | None = None) -> tuple[int, str, float]:
    """Run a simulator in its own process group; (exit status, its output, wall seconds).

    Past ``timeout_s`` the whole group is killed and :class:`SimulationTimeout`
    names ``what``; the child dies with its parent (a killed CLI leaves no engine).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace", start_new_session=True,
                            preexec_fn=_die_with_parent, env=env)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise SimulationTimeout(f"{what} exceeded the {timeout_s:g} s limit and was killed") from None
    return proc.returncode, out, time.perf_counter() - t0


def run_batch(netlist: str, timeout_s: float = 600.0, raw_out: str | Path | None = None,
              workdir: str | Path | None = None, threads: int = 1) -> Waveforms:
    """Run a netlist in ``ngspice -b`` and return its (last) analysis as Waveforms.

    ``threads`` is ngspice's OpenMP thread count (``-D num_threads=N``; as in
    a session, one by default).  ``raw_out`` keeps the raw file at that path.  A run past ``timeout_s`` is
    killed (with its whole process group) and raises :class:`SimulationTimeout`.
    """
    check_ngspice_deck(netlist)
    exe = ngspice_executable()
    version = ngspice_version()
    _clean_stale_runs(workdir)
    with tempfile.TemporaryDirectory(prefix=f"pycircuits-run-{os.getpid()}-", dir=workdir) as tmp:
        cir = Path(tmp) / "circuit.cir"
        controlled = _with_raw_writer(netlist)
        raw = Path(tmp) / "out.raw"  # kept at raw_out only once complete
        cir.write_text(controlled or (netlist if netlist.endswith("\n") else netlist + "\n"))
        raw_args = [] if controlled else ["-r", str(raw)]
        status, out, wall = run_engine([exe, "-b", "-D", f"num_threads={check_threads(threads)}", *raw_args,
                                        str(cir)], tmp, timeout_s, "ngspice -b")
        lines = out.splitlines()
        log_output(lines, "ngspice -b")
        failed = status != 0 or not raw.exists() or raw.stat().st_size == 0
        raise_for_errors(lines, failed=failed)
        plots = read_raw(raw)
        if raw_out:
            from ..files import atomic_write
            atomic_write(raw_out, lambda p: shutil.copyfile(raw, p))
    m = re.search(r"Total analysis time \(seconds\) = ([0-9.eE+-]+)", out)
    plot = plots[-1]
    meas, meas_failed = measure_results(lines)
    return Waveforms.from_vectors(
        analysis_of(plot.plotname), plot.vectors(), ngspice_version=version,
        netlist_hash=netlist_hash(netlist), wall_time_s=wall,
        analysis_time_s=float(m[1]) if m else None, warnings=warnings_of(lines),
        backend="batch", meas=meas, meas_failed=meas_failed)
