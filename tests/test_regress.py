"""Regression of the scgru circuit against recorded software traces."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pycircuits.errors import FileFormatError
from pycircuits.regress import load_trace, record_random, save_trace
from pycircuits.twins.mingru import MinGRUWeights, mingru_reference

from marks import requires_ngspice

pytestmark = requires_ngspice
STEPS = 12


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "trace.npz"
    save_trace(path, record_random(8, 2, STEPS, seed=3))
    return path


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_recorded_trace_passes_and_writes_the_report(trace_file, tmp_path):
    r = cli("regress", "scgru", "--traces", str(trace_file), "-o", "rep", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["passed"] and summary["max_err_lsb"] <= 2.0 and summary["steps"] == STEPS
    assert (tmp_path / "rep" / "overlay.png").read_bytes()[:4] == b"\x89PNG"
    rows = (tmp_path / "rep" / "steps.csv").read_text().splitlines()
    assert len(rows) == STEPS + 1


def test_one_flipped_weight_fails_and_names_the_first_failing_step(trace_file, tmp_path):
    trace = load_trace(trace_file)
    w_h = np.array(trace.weights.w_h)
    x = trace.inputs
    # flip the weight of the input that is 1 earliest in the sequence, from one end of the range to the other
    unit, col = 0, int(np.argmax(x.any(axis=0)))
    w_h[unit, col] = 3 if w_h[unit, col] < 2 else 0
    flipped = MinGRUWeights(trace.weights.w_z, w_h, trace.weights.b_z, trace.weights.b_h, trace.weights.theta)
    trace.weights = flipped  # the circuit gets the flipped weight, the expected states stay the old ones
    bad = tmp_path / "flipped.npz"
    save_trace(bad, trace)
    r = cli("regress", "scgru", "--traces", str(bad), "-o", "rep", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    first = summary["first_failing_step"]
    assert not summary["passed"] and f"first failing step: {first}" in r.stdout
    # independently: the software itself diverges there by more than the circuit's own error allows
    h_flip, _, _ = mingru_reference(flipped, x, trace.quantization, h0=trace.h0)
    diff = np.abs(h_flip - trace.h).max(axis=1) / trace.quantization.lsb
    assert diff[first] > 1.0
    assert np.all(diff[:first] < 2.0 + 1.0)


def test_corrupt_and_mismatched_trace_files_are_refused_in_one_line(trace_file, tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FileFormatError):
        load_trace(junk)
    data = dict(np.load(trace_file))
    data["h"] = data["h"][:-1]  # one step short
    short = tmp_path / "short.npz"
    np.savez(short, **data)
    data = dict(np.load(trace_file))
    data["version"] = np.array(99)
    future = tmp_path / "future.npz"
    np.savez(future, **data)
    for path, needle in ((junk, "not a readable trace"), (short, "h has shape"), (future, "version 99"),
                         (tmp_path / "missing.npz", "not found")):
        r = cli("regress", "scgru", "--traces", str(path), cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0]


def test_record_sets_gate_slope_and_h0_and_refuses_empty_or_negative_sizes(tmp_path):
    def record(*args):
        return subprocess.run([sys.executable, "-m", "pycircuits", "regress", "scgru", "--record", *args],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert record("-o", "t.npz", "--gate-slope", "0.8", "--h0", "-0.15", "--n-steps", "5").returncode == 0
    trace = load_trace(tmp_path / "t.npz")
    assert trace.quantization.gate_slope == 0.8 and float(trace.h0) == -0.15 and trace.inputs.shape[0] == 5
    for args, needle in ((["--n-steps", "0"], "--n-steps: expected an integer of at least 1"),
                         (["--n-hidden", "-1"], "--n-hidden"), (["--seed", "-1"], "--seed"),
                         (["--gate-slope", "0"], "--gate-slope"), (["--h0", "2"], "--h0"),
                         (["-o", "t.csv"], "an scgru trace is a .npz file")):
        r = record(*(args if args[0] == "-o" else ["-o", "u.npz", *args]))
        assert r.returncode == 2 and needle in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert not (tmp_path / "u.npz").exists()
