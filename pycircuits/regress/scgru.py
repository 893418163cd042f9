"""Circuit against recorded software traces: run the circuit on the recorded inputs, compare every step.

Trace file format (``.npz``, version 1), written by :func:`record_trace` or by
any software model that follows it:

=====================  ==========================================================
key                    content
=====================  ==========================================================
``format``             the string ``"pycircuits-trace"``
``version``            1
``circuit``            the circuit the trace is for (``"scgru"``)
``inputs``             ``(T, n_in)`` int 0/1, the input of each step
``h``                  ``(T, n_hidden)`` float, expected state after each step
``y``                  ``(T, n_hidden)`` int 0/1, expected output of each step
``w_z w_h b_z b_h``    weight and bias codes (:class:`pycircuits.twins.mingru.MinGRUWeights`)
``theta``              ``(n_hidden,)`` output thresholds (state units)
``h0``                 initial state (scalar or ``(n_hidden,)``)
``quantization``       JSON of :class:`pycircuits.twins.mingru.Quantization`
``tol_h_lsb``          state tolerance in LSB of a 6-bit state range (default 2)
``min_agreement``      minimum fraction of steps whose outputs all agree (default 0.99)
``provenance``         JSON, free form (who recorded it, from what model, when)
=====================  ==========================================================

A step fails when any unit's state error exceeds ``tol_h_lsb`` LSB or an
output differs where the software state is decided: an output whose software
state lies closer to its threshold than the circuit's state error at that step
plus the comparator's resolution (``COMPARATOR_RESOLUTION_LSB`` of
:mod:`pycircuits.circuits.scgru`, measured: 0.2 LSB) is ambiguous -- a state error
within tolerance can put the two on opposite sides -- so it is reported but
not held against the circuit.  The run passes when no state error exceeds the tolerance and the
outputs agree on at least ``min_agreement`` of the decided steps.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, ParameterError, UsageError
from ..files import atomic_write, atomic_write_text
from ..twins.mingru import MinGRUWeights, Quantization, mingru_reference, random_weights, save_weights

TRACE_FORMAT = "pycircuits-trace"
TRACE_VERSION = 1
_WEIGHT_KEYS = ("w_z", "w_h", "b_z", "b_h", "theta")
_REQUIRED = ("format", "version", "circuit", "inputs", "h", "y", *_WEIGHT_KEYS, "h0", "quantization")


@dataclass
class Trace:
    """A recorded software trace and the model it came from."""

    circuit: str
    inputs: np.ndarray
    h: np.ndarray
    y: np.ndarray
    weights: MinGRUWeights
    quantization: Quantization
    h0: np.ndarray
    tol_h_lsb: float = 2.0
    min_agreement: float = 0.99
    provenance: dict[str, Any] | None = None


def record_trace(weights: MinGRUWeights, inputs: np.ndarray, q: Quantization | None = None, h0: float = 0.0,
                 provenance: Mapping[str, Any] | None = None, tol_h_lsb: float = 2.0,
                 min_agreement: float = 0.99) -> Trace:
    """Run the software twin on ``inputs`` and keep everything a regression needs."""
    q = q or Quantization()
    h, y, _ = mingru_reference(weights, inputs, q, h0=h0)
    prov = {"model": "pycircuits.twins.mingru.mingru_reference", "recorded": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **(provenance or {})}
    return Trace("scgru", np.asarray(inputs, dtype=np.int64), h, y, weights, q,
                 np.asarray(h0, dtype=float), tol_h_lsb, min_agreement, prov)


def save_trace(path: str | Path, trace: Trace) -> None:
    """Write a trace file (format above), atomically."""
    arrays = {"format": np.array(TRACE_FORMAT), "version": np.array(TRACE_VERSION),
              "circuit": np.array(trace.circuit), "inputs": trace.inputs, "h": trace.h, "y": trace.y,
              "h0": trace.h0, "quantization": np.array(json.dumps(asdict(trace.quantization))),
              "tol_h_lsb": np.array(trace.tol_h_lsb), "min_agreement": np.array(trace.min_agreement),
              "provenance": np.array(json.dumps(trace.provenance or {}))}
    arrays.update({k: getattr(trace.weights, k) for k in _WEIGHT_KEYS})

    def write(p: Path) -> None:
        with open(p, "wb") as fh:
            np.savez(fh, **arrays)
    atomic_write(path, write)


def load_trace(path: str | Path) -> Trace:
    """Read and check a trace file; one-line :class:`FileFormatError` for anything wrong."""
    path = Path(path)
    from ..files import load_arrays
    raw = load_arrays(path, "trace file")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise FileFormatError(f"{path}: not a pycircuits trace (missing {', '.join(missing)})")
    if str(raw["format"]) != TRACE_FORMAT:
        raise FileFormatError(f"{path}: format is {str(raw['format'])!r}, expected {TRACE_FORMAT!r}")
    version = _scalar(path, raw, "version", None)
    if version != TRACE_VERSION:
        raise FileFormatError(f"{path}: trace version {version:g} is not supported "
                              f"(this pycircuits reads version {TRACE_VERSION})")
    try:
        fields = json.loads(str(raw["quantization"]))
        if not isinstance(fields, dict):
            raise TypeError(f"quantization must be a JSON object, got {type(fields).__name__}")
        q = Quantization(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
        weights = MinGRUWeights(**{k: raw[k] for k in _WEIGHT_KEYS})
        prov = json.loads(str(raw["provenance"])) if "provenance" in raw else {}
    except (ParameterError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{path}: bad weights or quantization ({exc})") from None
    tol = _scalar(path, raw, "tol_h_lsb", 2.0)
    agreement = _scalar(path, raw, "min_agreement", 0.99)
    if tol < 0:
        raise FileFormatError(f"{path}: tol_h_lsb must be >= 0, got {tol:g}")
    if not 0 <= agreement <= 1:
        raise FileFormatError(f"{path}: min_agreement must be within [0, 1], got {agreement:g}")
    trace = Trace(str(raw["circuit"]), _numbers(path, raw, "inputs"), _numbers(path, raw, "h"),
                  _numbers(path, raw, "y"), weights, q, _numbers(path, raw, "h0"), tol, agreement, prov)
    _check_shapes(path, trace)
    return trace


def _numbers(path: Path, raw: Mapping[str, np.ndarray], key: str) -> np.ndarray:
    """``raw[key]`` as numbers: one line naming the field when it holds text or objects."""
    arr = np.asarray(raw[key])
    if arr.dtype.kind not in "biuf":
        raise FileFormatError(f"{path}: {key} must hold numbers, got {arr.dtype} values")
    return arr.astype(float) if key in ("h", "h0") else arr


def _scalar(path: Path, raw: Mapping[str, np.ndarray], key: str, default: float | None) -> float:
    """A finite scalar field, or ``default`` when the file has none."""
    if key not in raw and default is not None:
        return default
    arr = _numbers(path, raw, key)
    if arr.shape != () or not np.isfinite(arr):
        raise FileFormatError(f"{path}: {key} must be one finite number, got {arr.tolist()!r}")
    return float(arr)


def _check_shapes(path: Path, t: Trace) -> None:
    n_steps, n_hidden, n_in = t.inputs.shape[0] if t.inputs.ndim == 2 else -1, t.weights.n_hidden, t.weights.n_in
    if t.inputs.ndim != 2 or t.inputs.shape[1] != n_in:
        raise FileFormatError(f"{path}: inputs have shape {t.inputs.shape}, the weights need (T, {n_in})")
    if not np.all(np.isin(t.inputs, (0, 1))):
        raise FileFormatError(f"{path}: inputs must be binary")
    for name, arr in (("h", t.h), ("y", t.y)):
        if arr.shape != (n_steps, n_hidden):
            raise FileFormatError(f"{path}: {name} has shape {arr.shape}, expected ({n_steps}, {n_hidden})")
    for name, arr in (("h", t.h), ("h0", t.h0)):
        if not np.all(np.isfinite(arr)):
            raise FileFormatError(f"{path}: {name} holds non-finite values")


@dataclass
class Report:
    """Per-step comparison of circuit and software."""

    err_lsb: np.ndarray  # (T, n_hidden) |h_circuit - h_software| / LSB
    agree: np.ndarray  # (T,) every decided output of the step agrees
    ambiguous: np.ndarray  # (T, n_hidden) software state within (error + resolution) of its threshold
    raw_agree: np.ndarray  # (T,) every output agrees, ambiguous ones included
    h_circuit: np.ndarray
    y_circuit: np.ndarray
    trace: Trace
    passed: bool
    first_failing_step: int | None
    resolution_lsb: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The JSON summary: max and RMS error, agreement, first failing step, verdict."""
        return {"circuit": self.trace.circuit, "steps": int(len(self.agree)),
                "n_hidden": int(self.err_lsb.shape[1]), "max_err_lsb": float(self.err_lsb.max()),
                "rms_err_lsb": float(np.sqrt(np.mean(self.err_lsb ** 2))),
                "output_agreement": float(self.agree.mean()),
                "output_agreement_all": float(self.raw_agree.mean()),
                "ambiguous_outputs": int(self.ambiguous.sum()),
                "comparator_resolution_lsb": self.resolution_lsb, "first_failing_step": self.first_failing_step,
                "tol_h_lsb": self.trace.tol_h_lsb, "min_agreement": self.trace.min_agreement,
                "passed": self.passed, "provenance": self.trace.provenance}


def compare(trace: Trace, h_circuit: np.ndarray, y_circuit: np.ndarray,
            resolution_lsb: float | None = None) -> Report:
    """Compare circuit states and outputs with the trace, step by step.

    ``resolution_lsb``: the comparator's resolution, LSB (default: the scgru latch's measured one).
    """
    if resolution_lsb is None:
        from ..circuits.scgru import COMPARATOR_RESOLUTION_LSB as resolution_lsb
    lsb = trace.quantization.lsb
    err = np.abs(h_circuit - trace.h) / lsb
    ambiguous = np.abs(trace.h - trace.weights.theta) <= (err + resolution_lsb) * lsb
    same = y_circuit == trace.y
    agree = np.all(same | ambiguous, axis=1)
    bad = np.any(err > trace.tol_h_lsb, axis=1) | ~agree
    first = int(np.argmax(bad)) if bad.any() else None
    passed = bool(err.max() <= trace.tol_h_lsb and agree.mean() >= trace.min_agreement)
    return Report(err, agree, ambiguous, np.all(same, axis=1), h_circuit, y_circuit, trace, passed, first,
                  float(resolution_lsb))


def circuit_values(trace: Trace, folder: Path) -> dict[str, Any]:
    """scgru parameters that replay ``trace``: weight and input files, sizes, quantization."""
    from ..circuits.scgru import N_LSB, ScgruParams  # noqa: F401 - checks the circuit is there
    default_q = Quantization()
    if tuple(trace.quantization.weight_levels) != tuple(default_q.weight_levels) or \
            trace.quantization.state_range != default_q.state_range or \
            trace.quantization.bias_bits != 6 or trace.quantization.gate_bits != 6:
        raise UsageError("the trace's quantization (weight levels, state range, 6-bit bias and gate) does not "
                         "match the scgru circuit's")
    wfile, xfile = folder / "weights.npz", folder / "inputs.npy"
    save_weights(wfile, trace.weights)
    np.save(xfile, trace.inputs)
    h0 = np.asarray(trace.h0, dtype=float)
    if h0.size > 1 and not np.all(h0 == h0.flat[0]):
        raise UsageError("the scgru circuit starts every unit from one h0; the trace has several")
    return {"weights_file": str(wfile), "inputs_file": str(xfile), "n_in": trace.weights.n_in,
            "n_hidden": trace.weights.n_hidden, "n_steps": trace.inputs.shape[0],
            "h0": float(h0.flat[0]) if h0.size else 0.0, "gate_slope": trace.quantization.gate_slope,
            "c_lsb_ratio": trace.quantization.bias_weight / N_LSB}


def regress(circuit: str, traces: str | Path, out_dir: str | Path | None = None,
            overrides: Mapping[str, Any] | None = None, pdk: str = "generic130", corner: str = "tt") -> Report:
    """Run ``circuit`` on the trace's inputs and compare; write the report into ``out_dir``."""
    if circuit != "scgru":
        raise UsageError(f"regression against software traces is defined for scgru, not {circuit}")
    trace = load_trace(traces)
    if trace.circuit != circuit:
        raise FileFormatError(f"{traces}: the trace is for circuit {trace.circuit}, not {circuit}")
    if out_dir is not None:
        from ..files import check_writable
        check_writable(Path(out_dir) / "summary.json")
    from ..circuits.run import run_circuit
    with tempfile.TemporaryDirectory(prefix="pycircuits-regress-") as tmp:
        values = {**circuit_values(trace, Path(tmp)), **(overrides or {})}
        res = run_circuit(circuit, values, pdk=pdk, corner=corner)
    shape = trace.h.shape
    report = compare(trace, np.asarray(res.measures["h"], dtype=float).reshape(shape),
                     np.asarray(res.measures["y"]).reshape(shape).astype(np.int64))
    if out_dir is not None:
        write_report(report, Path(out_dir))
    return report


def write_report(report: Report, out: Path) -> None:
    """``summary.json``, ``steps.csv`` (per-step error and agreement) and ``overlay.png``."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(report.summary(), indent=1))
    rows = ["step," + ",".join(f"err_lsb_{j}" for j in range(report.err_lsb.shape[1])) + ",outputs_agree"]
    for t, (errs, ok) in enumerate(zip(report.err_lsb, report.agree, strict=True)):
        rows.append(f"{t}," + ",".join(f"{e:.6g}" for e in errs) + f",{int(ok)}")
    atomic_write_text(out / "steps.csv", "\n".join(rows) + "\n")
    from ..plots import _pyplot, save_figure
    plt = _pyplot()
    n = report.err_lsb.shape[1]
    fig, axes = plt.subplots(n + 1, 1, figsize=(8, 2.2 * (n + 1)), sharex=True)
    steps = np.arange(len(report.agree))
    for j in range(n):
        ax = axes[j]
        ax.plot(steps, report.trace.h[:, j], "k-", label="software")
        ax.plot(steps, report.h_circuit[:, j], "C1.", ms=3, label="circuit")
        ax.axhline(report.trace.weights.theta[j], color="grey", lw=0.8, ls=":")
        ax.set_ylabel(f"h[{j}]")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].plot(steps, report.err_lsb.max(axis=1), "C3-", label="max state error")
    axes[-1].axhline(report.trace.tol_h_lsb, color="C3", ls="--", lw=0.8)
    axes[-1].plot(steps[~report.agree], np.zeros((~report.agree).sum()), "kx", label="output differs")
    undecided = ~report.raw_agree & report.agree
    axes[-1].plot(steps[undecided], np.zeros(undecided.sum()), "o", mfc="none", color="grey",
                  label="differs, state within tolerance of threshold")
    axes[-1].set_ylabel("error (LSB)")
    axes[-1].set_xlabel("step")
    axes[-1].legend(fontsize=7)
    s = report.summary()
    fig.suptitle(f"{s['circuit']} vs software: max {s['max_err_lsb']:.2f} LSB, RMS {s['rms_err_lsb']:.2f} LSB, "
                 f"outputs agree {100 * s['output_agreement']:.1f} % -> {'PASS' if s['passed'] else 'FAIL'}")
    save_figure(fig, out / "overlay.png")


def record_random(n_in: int, n_hidden: int, n_steps: int, seed: int, p_one: float = 0.5,
                  weights_file: str | None = None, h0: float = 0.0, gate_slope: float = 1.0) -> Trace:
    """A trace of the software twin on random binary inputs (weights random or from a file)."""
    from ..twins.mingru import load_weights
    rng = np.random.default_rng(seed)
    weights = load_weights(weights_file) if weights_file else random_weights(n_in, n_hidden, rng)
    inputs = (rng.random((n_steps, weights.n_in)) < p_one).astype(np.int64)
    q = Quantization(gate_slope=gate_slope)
    return record_trace(weights, inputs, q, h0=h0, provenance={"seed": seed, "p_one": p_one,
                                                                 "weights_file": weights_file or ""})
