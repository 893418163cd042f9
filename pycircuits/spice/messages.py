"""Finding ngspice and reading what it prints.

ngspice writes notes, warnings and errors to stderr and stdout alike.  Notes
such as "Note: Starting dynamic gmin stepping", "Trying gmin = ..." or
"Supplies reduced to ..." are information: the simulation goes on and
converges.  Only real errors end a run.  :func:`classify` sorts the lines and
:func:`raise_for_errors` turns the errors into our exception types, keeping
ngspice's own words and the offending netlist line.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess

from ..errors import ConvergenceError, NetlistError, NgspiceNotFound, SimulationError

INSTALL_HINT = "install it with: apt-get install ngspice libngspice0-dev"

# Lines that are information whatever else they contain.
_INFO = re.compile(
    r"^\s*(error: measure\b|\.meas(ure)?\s.*\bfailed!|note:|trying gmin|supplies reduced|warning|using sparse|"
    r"reducing trtol|"
    r"gmin stepping completed|source stepping completed|doing analysis|"
    r"no\. of data|total |initial transient|binary raw file|ascii raw file|circuit:)",
    re.IGNORECASE)
_CONVERGENCE = re.compile(
    r"timestep too small|singular matrix|gmin stepping failed|source stepping failed|"
    r"iteration limit|transient solution failed|no convergence|simulation\(s\) aborted|"
    r"op point not found|dc solution failed",
    re.IGNORECASE)
_ERROR = re.compile(r"\berror\b|unknown subckt|can't find model|could not find|"
                    r"unknown parameter|too few parameters|fatal", re.IGNORECASE)


def ngspice_executable() -> str:
    """Path of the ``ngspice`` executable, or :class:`NgspiceNotFound`."""
    exe = os.environ.get("PYCIRCUITS_NGSPICE") or shutil.which("ngspice")
    if not exe:
        raise NgspiceNotFound(f"ngspice executable not found on PATH; {INSTALL_HINT}")
    return exe


@functools.lru_cache(maxsize=4)
def _version_of(exe: str) -> str:
    try:
        out = subprocess.run([exe, "-v"], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL).stdout
    except OSError as exc:
        raise NgspiceNotFound(f"cannot run {exe} ({exc.strerror}); {INSTALL_HINT}") from None
    m = re.search(r"ngspice-(\S+)", out)
    return f"ngspice-{m[1]}" if m else "ngspice-unknown"


def ngspice_version() -> str:
    """Version string of the ngspice executable, e.g. ``ngspice-39``."""
    return _version_of(ngspice_executable())


def classify(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split ngspice output lines into (information, errors)."""
    info, errors = [], []
    for raw in lines:
        line = raw.rstrip()
        if not line.strip():
            continue
        if _CONVERGENCE.search(line):
            errors.append(line)
        elif _INFO.match(line):
            info.append(line)
        elif _ERROR.search(line):
            errors.append(line)
    return info, errors


def log_output(lines: list[str], source: str) -> None:
    """ngspice's whole output at DEBUG on the ``pycircuits`` logger (``pycircuits -vv``)."""
    from ..progress import LOG
    if LOG.isEnabledFor(logging.DEBUG):
        for line in lines:
            if line.strip():
                LOG.debug("%s: %s", source, line.rstrip())


def warnings_of(lines: list[str]) -> list[str]:
    """The notes and warnings worth keeping with a result (not the banner noise)."""
    keep = re.compile(r"^\s*(note:|warning|trying gmin|supplies reduced)", re.IGNORECASE)
    skip = re.compile(r"no compatibility mode|can't find init file|no resource usage", re.IGNORECASE)
    return [ln.strip() for ln in lines if keep.match(ln) and not skip.search(ln)]


def _with_context(lines: list[str], errors: list[str]) -> str:
    """Join the error lines with the netlist line ngspice quotes after 'Error on line'."""
    text = []
    for i, line in enumerate(lines):
        if line.rstrip() in errors:
            text.append(line.strip())
            if re.search(r"error on line|can't find model", line, re.IGNORECASE):
                text.extend(ln.strip() for ln in lines[i + 1:i + 3] if ln.strip())
    seen, out = set(), []
    for t in text:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return "; ".join(out)


def raise_for_errors(lines: list[str], failed: bool = False) -> None:
    """Raise the right :class:`SimulationError` subclass if the output holds errors.

    ``failed`` says the run itself reported failure (non-zero exit, no data):
    then an error is raised even when no line matched.
    """
    _, errors = classify(lines)
    if not errors and not failed:
        return
    message = _with_context(lines, errors) or "ngspice failed without an error message"
    if any(_CONVERGENCE.search(e) for e in errors):
        raise ConvergenceError(f"ngspice did not converge: {message}")
    if errors:
        raise NetlistError(f"ngspice: {message}")
    raise SimulationError(message)


# `.meas` results as ngspice prints them, after "Measurements for ... Analysis":
#   tdelay              =  6.931367e-07 targ=  1.693637e-06 trig=  1.000500e-06
_MEAS_VALUE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\s|$)")
_MEAS_FAILED = re.compile(r"^\s*\.meas(?:ure)?\s+\w+\s+(\w+)\b.*\bfailed!", re.IGNORECASE)
# batch mode: "Error: measure  tnever  when(WHEN) : out of interval"
_MEAS_REASON = re.compile(r"^\s*error: measure\s+(\w+)\b.*?:\s*(.+?)\s*$", re.IGNORECASE)


def measure_results(lines: list[str]) -> tuple[dict[str, float], dict[str, str]]:
    """``.meas`` results printed by ngspice: ({name: value}, {name: reason it failed}).

    Names are lower case, as ngspice keeps them.  Both backends print the same
    text (the shared library splits ngspice's "Error: measure NAME ... :"
    prefix off the reason), so both give the same numbers and reasons.
    """
    values: dict[str, float] = {}
    failed: dict[str, str] = {}
    reasons: dict[str, str] = {}
    in_block = False
    previous = ""
    for raw in lines:
        line = raw.rstrip()
        m = _MEAS_REASON.match(line)
        if m:
            reasons[m[1].lower()] = m[2]
        m = _MEAS_FAILED.match(line)
        if m:
            name = m[1].lower()
            failed[name] = reasons.get(name) or (previous.strip() if previous and not _MEAS_FAILED.match(previous)
                                                 and not _MEAS_REASON.match(previous) else "") or "failed"
            values.pop(name, None)
        elif re.match(r"^\s*measurements for\b", line, re.IGNORECASE):
            in_block = True
        elif in_block:
            m = _MEAS_VALUE.match(line)
            if m:
                values[m[1].lower()] = float(m[2])
                failed.pop(m[1].lower(), None)
        if line.strip():
            previous = line
    return values, failed
