"""Any circuit against a recorded trace: stimulus in, expected waveforms and measures out, per-column tolerances.

Trace table format (version 2), as CSV or NPZ
=============================================

A trace is a table.  Its first column is ``time`` (s, strictly increasing),
and each other column is one of:

* ``src:NAME`` -- a stimulus: the independent source ``NAME`` of the
  circuit (``V1``, ``Iin``...) is driven with these values at these times,
  as ``PWL``, in place of whatever the deck gave it;
* a vector ngspice writes (``v(out)``, ``i(v1)``, ``out``) -- an expected
  waveform at the sample times (the simulated vector is interpolated onto
  them);
* ``meas:NAME`` -- an expected measure of the circuit (a deck's ``.meas``
  name, or a built-in circuit's measure).  A scalar measure is in the first
  row; an array measure (one value per synapse...) fills the first rows.

Empty cells are not compared.  Every expected column has a tolerance: a
point passes when ``|simulated - expected| <= abs + rel*|expected|``.  A
trace of measures only may leave out ``time``.

CSV::

    # pycircuits-trace 2
    # circuit rcf.cir
    # params {"r": 1000.0}
    # tol v(out) abs=2e-3
    # tol meas:tdelay rel=0.01
    # tol * abs=1e-3            (the default for columns without their own line)
    time,src:V1,v(out),meas:tdelay
    0,0,0,6.93e-07
    1e-06,1,0.001,

``# params`` (JSON) are the circuit parameters the trace was recorded at;
``-p`` on the command line overrides them.  ``# provenance`` (JSON) is free.

NPZ: ``format`` (``"pycircuits-trace"``), ``version`` (2), ``circuit``,
``params`` and ``provenance`` (JSON strings), ``columns`` (names, ``time``
first when present), ``data`` (rows x columns, NaN where empty),
``tol_abs`` and ``tol_rel`` (one per column, NaN for ``time`` and stimuli).
It is loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, UsageError
from ..files import atomic_write, atomic_write_text

TRACE_FORMAT = "pycircuits-trace"
TABLE_VERSION = 2
_SOURCE = re.compile(r"^[vi][A-Za-z0-9_]*$", re.IGNORECASE)
_TOL = re.compile(r"^(abs|rel)=(.+)$")


@dataclass
class Column:
    """One column of a trace: its name, values (NaN where empty) and tolerance (expected columns)."""

    name: str
    values: np.ndarray
    tol_abs: float = 0.0
    tol_rel: float = 0.0

    @property
    def kind(self) -> str:
        """``time``, ``stimulus``, ``measure`` or ``waveform``."""
        if self.name == "time":
            return "time"
        if self.name.startswith("src:"):
            return "stimulus"
        return "measure" if self.name.startswith("meas:") else "waveform"

    @property
    def target(self) -> str:
        """The source, measure or vector the column is about (its name without the prefix)."""
        return self.name.split(":", 1)[1] if self.kind in ("stimulus", "measure") else self.name


@dataclass
class TableTrace:
    """A recorded trace: which circuit, at which parameters, and its columns."""

    circuit: str
    params: dict[str, Any]
    columns: list[Column]
    provenance: dict[str, Any] = field(default_factory=dict)

    def column(self, name: str) -> Column | None:
        """The column called ``name``, or None."""
        return next((c for c in self.columns if c.name == name), None)

    @property
    def time(self) -> np.ndarray | None:
        """The sample times, or None for a trace of measures only."""
        col = self.column("time")
        return None if col is None else col.values

    def of_kind(self, kind: str) -> list[Column]:
        """The columns of one kind (see :attr:`Column.kind`)."""
        return [c for c in self.columns if c.kind == kind]


# ------------------------------------------------------------------ files


def save_table_trace(path: str | Path, trace: TableTrace) -> None:
    """Write ``trace`` as CSV or NPZ (by the suffix), atomically."""
    path = Path(path)
    _check(trace, str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        atomic_write_text(path, _to_csv(trace))
    elif suffix == ".npz":
        rows = max(len(c.values) for c in trace.columns)
        data = np.full((rows, len(trace.columns)), np.nan)
        for j, c in enumerate(trace.columns):
            data[:len(c.values), j] = c.values
        expected = [c.kind in ("measure", "waveform") for c in trace.columns]
        arrays = {"format": np.array(TRACE_FORMAT), "version": np.array(TABLE_VERSION),
                  "circuit": np.array(trace.circuit), "params": np.array(json.dumps(trace.params)),
                  "provenance": np.array(json.dumps(trace.provenance)),
                  "columns": np.array([c.name for c in trace.columns]), "data": data,
                  "tol_abs": np.array([c.tol_abs if e else np.nan for c, e in zip(trace.columns, expected,
                                                                                   strict=True)]),
                  "tol_rel": np.array([c.tol_rel if e else np.nan for c, e in zip(trace.columns, expected,
                                                                                   strict=True)])}

        def write(p: Path) -> None:
            with open(p, "wb") as fh:
                np.savez(fh, **arrays)
        atomic_write(path, write)
    else:
        raise UsageError(f"cannot write a trace to {path}: use a .csv or .npz file name")


def _to_csv(trace: TableTrace) -> str:
    out = io.StringIO()
    out.write(f"# {TRACE_FORMAT} {TABLE_VERSION}\n")
    if trace.circuit:
        out.write(f"# circuit {trace.circuit}\n")
    out.write(f"# params {json.dumps(trace.params)}\n")
    if trace.provenance:
        out.write(f"# provenance {json.dumps(trace.provenance)}\n")
    for c in trace.columns:
        if c.kind in ("measure", "waveform"):
            out.write(f"# tol {c.name} abs={c.tol_abs!r} rel={c.tol_rel!r}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in trace.columns])
    rows = max(len(c.values) for c in trace.columns)
    for i in range(rows):
        writer.writerow(["" if i >= len(c.values) or not math.isfinite(c.values[i]) else repr(float(c.values[i]))
                         for c in trace.columns])
    return out.getvalue()


def load_table_trace(path: str | Path) -> TableTrace:
    """Read a trace table (CSV or NPZ); one-line :class:`FileFormatError` for anything wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: trace file not found")
    if path.suffix.lower() == ".npz":
        trace = _from_npz(path)
    else:
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"{path}: not a readable trace file ({type(exc).__name__})") from None
        trace = _from_csv(text, str(path))
    _check(trace, str(path))
    return trace


def is_table_trace(path: str | Path) -> bool:
    """Whether ``path`` holds a trace table (CSV, or NPZ of version 2) rather than an scgru step trace."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        return True
    try:
        with zipfile.ZipFile(path) as z:
            return "columns.npy" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _from_npz(path: Path) -> TableTrace:
    from ..files import load_arrays
    raw = load_arrays(path, "trace file")
    missing = [k for k in ("format", "version", "columns", "data", "tol_abs", "tol_rel") if k not in raw]
    if missing:
        raise FileFormatError(f"{path}: not a pycircuits trace table (missing {', '.join(missing)})")
    if str(raw["format"]) != TRACE_FORMAT or int(raw["version"]) != TABLE_VERSION:
        raise FileFormatError(f"{path}: format {str(raw['format'])!r} version {int(raw['version'])}; this "
                              f"reads {TRACE_FORMAT!r} version {TABLE_VERSION}")
    names, data = [str(n) for n in raw["columns"]], raw["data"].astype(float)
    if data.ndim != 2 or data.shape[1] != len(names) or raw["tol_abs"].shape != (len(names),) \
            or raw["tol_rel"].shape != (len(names),):
        raise FileFormatError(f"{path}: data, columns and tolerances do not have matching shapes")
    columns = [Column(n, _trim(data[:, j]), float(np.nan_to_num(raw["tol_abs"][j])),
                      float(np.nan_to_num(raw["tol_rel"][j]))) for j, n in enumerate(names)]
    return TableTrace(str(raw.get("circuit", "")), _json(raw.get("params"), path, "params"), columns,
                      _json(raw.get("provenance"), path, "provenance"))


def _json(value: Any, path: Path | str, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        out = json.loads(str(value))
    except ValueError:
        raise FileFormatError(f"{path}: {what} is not JSON") from None
    if not isinstance(out, dict):
        raise FileFormatError(f"{path}: {what} must be a JSON object")
    return out


def _trim(values: np.ndarray) -> np.ndarray:
    """The values without trailing empty cells."""
    finite = np.flatnonzero(np.isfinite(values))
    return values[:finite[-1] + 1] if finite.size else values[:0]


def _from_csv(text: str, where: str) -> TableTrace:
    lines = text.splitlines()
    if not lines or lines[0].split() != ["#", TRACE_FORMAT, str(TABLE_VERSION)]:
        raise FileFormatError(f"{where}: the first line must be '# {TRACE_FORMAT} {TABLE_VERSION}'")
    circuit, params, provenance = "", {}, {}
    tols: dict[str, tuple[float, float]] = {}
    body_start = len(lines)
    for n, line in enumerate(lines[1:], start=2):
        if not line.startswith("#"):
            body_start = n - 1
            break
        words = line[1:].split(None, 1)
        if not words:
            continue
        key, rest = words[0], (words[1] if len(words) > 1 else "")
        if key == "circuit":
            circuit = rest.strip()
        elif key == "params":
            params = _json(rest, f"{where} line {n}", "params")
        elif key == "provenance":
            provenance = _json(rest, f"{where} line {n}", "provenance")
        elif key == "tol":
            name, *specs = rest.split()
            tols[name] = _tolerance(specs, f"{where} line {n}")
    rows = list(csv.reader(lines[body_start:]))
    if not rows:
        raise FileFormatError(f"{where}: no header row of column names")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header) or "" in header:
        raise FileFormatError(f"{where}: column names must be given and distinct: {','.join(header)}")
    data = np.full((len(rows) - 1, len(header)), np.nan)
    for i, row in enumerate(rows[1:]):
        if len(row) > len(header):
            raise FileFormatError(f"{where} line {body_start + i + 2}: {len(row)} cells, the header has "
                                  f"{len(header)}")
        for j, cell in enumerate(row):
            if cell.strip():
                try:
                    data[i, j] = float(cell)
                except ValueError:
                    raise FileFormatError(f"{where} line {body_start + i + 2}, column {header[j]}: "
                                          f"{cell.strip()[:40]!r} is not a number") from None
    default = tols.get("*")
    columns = []
    for j, name in enumerate(header):
        col = Column(name, _trim(data[:, j]))
        if col.kind in ("measure", "waveform"):
            tol = tols.get(name, default)
            if tol is None:
                raise FileFormatError(f"{where}: column {name} has no tolerance; add '# tol {name} abs=A rel=R' "
                                      "(or '# tol * ...' for every column)")
            col.tol_abs, col.tol_rel = tol
        columns.append(col)
    unknown = sorted(set(tols) - set(header) - {"*"})
    if unknown:
        raise FileFormatError(f"{where}: tolerance for {unknown[0]}, which is not a column")
    return TableTrace(circuit, params, columns, provenance)


def _tolerance(specs: list[str], where: str) -> tuple[float, float]:
    out = {"abs": 0.0, "rel": 0.0}
    if not specs:
        raise FileFormatError(f"{where}: a tolerance needs abs=A and/or rel=R")
    for spec in specs:
        m = _TOL.match(spec)
        try:
            value = float(m[2]) if m else math.nan
        except ValueError:
            value = math.nan
        if not m or not math.isfinite(value) or value < 0:
            raise FileFormatError(f"{where}: {spec!r} is not abs=A or rel=R with a number >= 0")
        out[m[1]] = value
    return out["abs"], out["rel"]


def _check(trace: TableTrace, where: str) -> None:
    time = trace.time
    if time is not None:
        if len(time) < 2 or not np.all(np.isfinite(time)) or np.any(np.diff(time) <= 0):
            raise FileFormatError(f"{where}: time must be at least two finite, strictly increasing values")
    if trace.columns and trace.columns[0].name != "time" and time is not None:
        raise FileFormatError(f"{where}: time must be the first column")
    for c in trace.columns:
        if c.kind == "stimulus":
            if time is None:
                raise FileFormatError(f"{where}: stimulus {c.name} needs a time column")
            if not _SOURCE.match(c.target):
                raise FileFormatError(f"{where}: {c.name}: a stimulus drives an independent source (V... or I...)")
            if len(c.values) != len(time) or not np.all(np.isfinite(c.values)):
                raise FileFormatError(f"{where}: stimulus {c.name} needs a value at every time")
        elif c.kind == "waveform" and time is None:
            raise FileFormatError(f"{where}: waveform {c.name} needs a time column")
    if not trace.of_kind("measure") and not trace.of_kind("waveform"):
        raise FileFormatError(f"{where}: the trace expects nothing (no waveform or meas: column)")


# ------------------------------------------------------------------ stimulus


def drive_sources(netlist: str, time: np.ndarray, stimuli: Mapping[str, np.ndarray]) -> str:
    """The netlist with each named independent source driven by ``PWL(time, values)``."""
    lines = netlist.splitlines()
    out: list[str] = []
    found: set[str] = set()
    skipping = False
    depth = 0
    wanted = {k.lower(): (k, v) for k, v in stimuli.items()}
    for line in lines:
        word = line.split(None, 1)[0].lower() if line.strip() else ""
        if skipping and line.lstrip().startswith("+"):
            continue
        skipping = False
        if word in (".subckt", ".macro"):
            depth += 1
        elif word in (".ends", ".eom") and depth:
            depth -= 1
        if depth == 0 and word in wanted:
            tokens = line.split()
            if len(tokens) < 3:
                raise UsageError(f"source {tokens[0]}: its line has no two nodes to drive")
            found.add(word)
            values = wanted[word][1]
            pairs = [f"{float(t)!r} {float(v)!r}" for t, v in zip(time, values, strict=True)]
            out.append(f"{tokens[0]} {tokens[1]} {tokens[2]} PWL(")
            out.extend("+ " + " ".join(pairs[k:k + 6]) for k in range(0, len(pairs), 6))
            out.append("+ )")
            skipping = True
            continue
        out.append(line)
    missing = [wanted[k][0] for k in wanted if k not in found]
    if missing:
        sources = sorted({ln.split()[0] for ln in lines if ln.strip() and _SOURCE.match(ln.split()[0])
                          and not ln.lstrip().startswith(".")})
        raise UsageError(f"the circuit has no independent source {missing[0]} to drive; it has "
                         f"{', '.join(sources) or 'none'}")
    return "\n".join(out) + "\n"


def _tran_stop(netlist: str) -> float | None:
    from ..spice.userdeck import deck_number
    for line in netlist.splitlines():
        tokens = line.split()
        if tokens and tokens[0].lower() == ".tran" and len(tokens) >= 3:
            return deck_number(tokens[2])
    return None


# ------------------------------------------------------------------ replay


@dataclass
class ColumnResult:
    """How one expected column compared."""

    name: str
    kind: str
    n: int  # points compared
    max_err: float
    max_err_at: float  # time (waveforms) or row (measures) of the largest error
    n_fail: int
    first_fail_at: float | None
    tol_abs: float
    tol_rel: float
    simulated: np.ndarray
    expected: np.ndarray
    reason: str = ""

    @property
    def passed(self) -> bool:
        """No point outside the tolerance."""
        return self.n_fail == 0 and not self.reason

    def summary(self) -> dict[str, Any]:
        """JSON-able result."""
        return {"column": self.name, "kind": self.kind, "points": self.n, "max_err": self.max_err,
                "max_err_at": self.max_err_at, "failing_points": self.n_fail, "first_fail_at": self.first_fail_at,
                "tol_abs": self.tol_abs, "tol_rel": self.tol_rel, "passed": self.passed, "reason": self.reason}


@dataclass
class TableReport:
    """A replayed trace: one result per expected column."""

    circuit: str
    params: dict[str, Any]
    results: list[ColumnResult]
    time: np.ndarray | None
    provenance: dict[str, Any]

    @property
    def passed(self) -> bool:
        """Every column within its tolerance."""
        return all(r.passed for r in self.results)

    def summary(self) -> dict[str, Any]:
        """The JSON summary of the report."""
        return {"circuit": self.circuit, "params": self.params, "passed": self.passed,
                "columns": [r.summary() for r in self.results], "provenance": self.provenance}


def compare_column(col: Column, simulated: np.ndarray, at: np.ndarray) -> ColumnResult:
    """Compare ``simulated`` with the column's expected values (``at``: their times or rows)."""
    expected = col.values
    sim = np.asarray(simulated, dtype=float).ravel()
    if sim.shape != expected.shape:
        return ColumnResult(col.name, col.kind, len(expected), math.nan, math.nan, len(expected), None,
                            col.tol_abs, col.tol_rel, sim, expected,
                            reason=f"the circuit gives {sim.size} values, the trace expects {expected.size}")
    keep = np.isfinite(expected)
    err = np.abs(sim - expected)
    bad = keep & ~(err <= col.tol_abs + col.tol_rel * np.abs(expected))  # NaN from the circuit fails
    shown = np.where(keep, np.nan_to_num(err, nan=np.inf), -1.0)
    worst = int(np.argmax(shown)) if keep.any() else 0
    first = float(at[np.argmax(bad)]) if bad.any() else None
    return ColumnResult(col.name, col.kind, int(keep.sum()), float(shown[worst]) if keep.any() else 0.0,
                        float(at[worst]) if keep.any() else math.nan, int(bad.sum()), first, col.tol_abs,
                        col.tol_rel, sim, expected)


def replay(circuit: str, trace: TableTrace, overrides: Mapping[str, Any] | None = None,
           backend: str = "session", pdk: str = "generic130", corner: str | None = None,
           check_circuit: bool = True) -> TableReport:
    """Run ``circuit`` at the trace's parameters (``overrides`` on top) with its stimulus, and compare."""
    from ..circuits.run import run_circuit
    if check_circuit and trace.circuit and trace.circuit != circuit and \
            Path(trace.circuit).name != Path(circuit).name:
        raise UsageError(f"the trace is for circuit {trace.circuit}, not {circuit}")
    time = trace.time
    stimuli = {c.target: c.values for c in trace.of_kind("stimulus")}
    need_stop = float(time[-1]) if time is not None and (stimuli or trace.of_kind("waveform")) else None

    def transform(text: str) -> str:
        if need_stop is not None:
            stop = _tran_stop(text)
            if stop is None:
                raise UsageError("the trace has waveforms or stimuli but the circuit has no .tran analysis")
            if stop < need_stop * (1 - 1e-9):
                raise UsageError(f"the trace runs to {need_stop:g} s but the circuit's .tran stops at {stop:g} s; "
                                 "lengthen it (e.g. -p t_stop=...)")
        return drive_sources(text, time, stimuli) if stimuli else text

    values = {**trace.params, **(overrides or {})}
    res = run_circuit(circuit, values, pdk=pdk, corner=corner, backend=backend, transform=transform)
    results = []
    for col in trace.columns:
        if col.kind == "measure":
            if col.target not in res.measures:
                raise UsageError(f"column {col.name}: circuit {circuit} has no measure {col.target!r}; it has "
                                 f"{', '.join(res.measures) or 'none'}")
            results.append(compare_column(col, np.atleast_1d(np.asarray(res.measures[col.target], dtype=float)),
                                          np.arange(len(col.values), dtype=float)))
        elif col.kind == "waveform":
            waves = res.waveforms
            if col.name not in waves:
                raise UsageError(f"column {col.name}: the run has no vector {col.name!r}; it has "
                                 f"{', '.join(sorted(waves)[:12])}")
            sim = np.interp(time[:len(col.values)], waves["time"], np.real(waves[col.name]))
            results.append(compare_column(col, sim, time[:len(col.values)]))
    return TableReport(circuit, values, results, time, trace.provenance)


def write_table_report(report: TableReport, out: Path, plot: Callable[..., Any] | None = None) -> None:
    """``summary.json``, ``columns.csv`` (one row per compared column) and ``overlay.png``."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(report.summary(), indent=1, default=float))
    rows = ["column,kind,points,max_err,max_err_at,failing_points,first_fail_at,tol_abs,tol_rel,passed"]
    for r in report.results:
        rows.append(f"{r.name},{r.kind},{r.n},{r.max_err!r},{r.max_err_at!r},{r.n_fail},"
                    f"{'' if r.first_fail_at is None else repr(r.first_fail_at)},{r.tol_abs!r},{r.tol_rel!r},"
                    f"{int(r.passed)}")
    atomic_write_text(out / "columns.csv", "\n".join(rows) + "\n")
    from ..plots import _pyplot, save_figure
    plt = _pyplot()
    n = len(report.results)
    fig, axes = plt.subplots(n, 2, figsize=(10, 2.4 * n), squeeze=False)
    for ax, r in zip(axes, report.results, strict=True):
        x = report.time[:len(r.expected)] if r.kind == "waveform" else np.arange(len(r.expected))
        style = "-" if r.kind == "waveform" else "o"
        ax[0].plot(x, r.expected, "k" + style, label="trace")
        if r.simulated.shape == r.expected.shape:
            ax[0].plot(x, r.simulated, "C1" + ("--" if r.kind == "waveform" else "x"), label="circuit")
            ax[1].plot(x, np.abs(r.simulated - r.expected), "C3" + style, label="|error|")
        ax[1].plot(x, r.tol_abs + r.tol_rel * np.abs(r.expected), "k:", label="tolerance")
        ax[0].set_ylabel(r.name)
        ax[0].legend(fontsize=7)
        ax[1].legend(fontsize=7)
        ax[1].set_title("PASS" if r.passed else f"FAIL ({r.reason or f'{r.n_fail} points'})", fontsize=8)
        for a in ax:
            a.set_xlabel("time (s)" if r.kind == "waveform" else "element")
    fig.suptitle(f"{report.circuit} against the trace: {'PASS' if report.passed else 'FAIL'}")
    fig.tight_layout()
    save_figure(fig, out / "overlay.png")
