"""Corrupt and hostile files: one line naming the file and the problem, exit 2; a damaged cache entry is recomputed."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile

import pytest

from pycircuits.sweep import sweep

from marks import requires_ngspice

pytestmark = requires_ngspice


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def one_line_exit_2(r, *needles: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and all(n in lines[0] for n in needles), r.stderr


def huge_npz(names=("h",)) -> bytes:
    """A 1 kB archive whose arrays each declare 10^12 float64 values."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
            header = header + " " * (118 - len(header)) + "\n"
            z.writestr(f"{name}.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    return buf.getvalue()


@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    folder = tmp_path_factory.mktemp("curve")
    assert cli("extract", "rc-tau", "--run", "--mc", "2", "-o", "c.json", cwd=folder).returncode == 0
    return json.loads((folder / "c.json").read_text())


@pytest.mark.parametrize("text, needle", [
    ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    ('{"x": ' + "9" * 5000 + "}", "Exceeds the limit (4300 digits)"),
])
def test_hostile_json_curves(tmp_path, text, needle):
    (tmp_path / "c.json").write_text(text)
    one_line_exit_2(cli("plot", "c.json", "-o", "c.png", cwd=tmp_path), "c.json", needle)


@pytest.mark.parametrize("role", ["denram-delay", "denram-weight"])
@pytest.mark.parametrize("y, needle", [(float("nan"), "0 finite median(s)"), (0.0, "medians <= 0")])
def test_degenerate_curves_are_refused_by_the_network(tmp_path, curve, role, y, needle):
    bad = {**curve, "y": [y] * len(curve["y"]),
           "percentiles": {k: [y] * len(v) for k, v in curve["percentiles"].items()},
           "samples": [[y] * len(row) for row in curve["samples"]]}
    (tmp_path / "curves").mkdir()
    (tmp_path / "curves" / f"{role}.json").write_text(json.dumps(bad))
    r = cli("network", "run", "denram", "--quick", "--curves", "curves", "-o", "out", cwd=tmp_path)
    one_line_exit_2(r, f"{role}.json", needle)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_arrays_that_declare_more_than_the_file_holds(tmp_path):
    (tmp_path / "t.npz").write_bytes(huge_npz(("format", "version", "h")))
    one_line_exit_2(cli("regress", "scgru", "--traces", "t.npz", cwd=tmp_path), "t.npz",
                    "declares 8000000000000 bytes but the file holds")
    (tmp_path / "w.npz").write_bytes(huge_npz(("w_z", "w_h", "b_z", "b_h")))
    one_line_exit_2(cli("run", "scgru", "-p", "weights_file=w.npz", cwd=tmp_path), "w.npz", "declares")
    assert cli("regress", "scgru", "--record", "-o", "good.npz", cwd=tmp_path).returncode == 0
    (tmp_path / "cut.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:2000])
    one_line_exit_2(cli("regress", "scgru", "--traces", "cut.npz", cwd=tmp_path), "cut.npz",
                    "not a readable trace file")


def test_a_damaged_cache_entry_is_recomputed(tmp_path):
    kw = dict(vary={"r": "list:1k,2k"}, cache=tmp_path / "cache", jobs=1)
    first = sweep("rc", **kw)
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(entries) == 2
    entries[0].write_bytes(huge_npz(("meta", "m:tau_s")))
    again = sweep("rc", **kw)
    assert again.attrs["n_cached"] == 1 and again.attrs["n_computed"] == 1
    assert again.tau_s.values.tobytes() == first.tau_s.values.tobytes()
    # and the entry was repaired
    third = sweep("rc", **kw)
    assert third.attrs["n_cached"] == 2


def test_a_cache_slot_taken_by_a_folder_is_repaired(tmp_path):
    kw = dict(vary={"r": "list:1k"}, cache=tmp_path / "cache", jobs=1)
    sweep("rc", **kw)
    (entry,) = sorted((tmp_path / "cache").rglob("*.npz"))
    entry.unlink()
    (entry / "junk").mkdir(parents=True)
    assert sweep("rc", **kw).attrs["n_computed"] == 1
    assert entry.is_file() and sweep("rc", **kw).attrs["n_cached"] == 1


@pytest.mark.parametrize("key, value, needle", [("params", "{bad", "'params' attribute is not valid JSON"),
                                                ("plan", "[1, 2]", "'plan' attribute must be a JSON object"),
                                                ("seed", "abc", "'seed' attribute must be an integer")])
def test_sweep_datasets_with_bad_attributes(tmp_path, key, value, needle):
    ds = sweep("rc", vary={"r": "list:1k,2k"}, cache=False, jobs=1)
    ds.attrs[key] = value
    ds.to_netcdf(tmp_path / "bad.nc", engine="h5netcdf")
    for args in (["extract", "rc-tau", "bad.nc", "-o", "c.json"], ["plot", "bad.nc", "-o", "p.png"]):
        one_line_exit_2(cli(*args, cwd=tmp_path), "bad.nc", needle)


def test_plots_of_sweeps_whose_measure_failed(tmp_path):
    common = ["--vary", "r=log:1k:100k:3", "--mc", "3", "-p", "sigma_r=0.1", "--no-cache"]
    short = ["-p", "t_stop=1n", "-p", "n_steps=10"]
    assert cli("sweep", "rc", *common, *short, "-o", "all.nc", cwd=tmp_path).returncode == 0
    one_line_exit_2(cli("plot", "all.nc", "-o", "all.png", cwd=tmp_path), "tau_s is NaN at every point")
    # NaN at the largest R only (the transient is shorter than its tau): drawn, without warnings
    assert cli("sweep", "rc", *common, "-p", "t_stop=100u", "-o", "part.nc", cwd=tmp_path).returncode == 0
    r = cli("plot", "part.nc", "-o", "part.png", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "" and (tmp_path / "part.png").stat().st_size > 10_000


def test_half_written_cache_entries_of_killed_workers_are_removed(tmp_path):
    kw = dict(vary={"r": "list:1k"}, cache=tmp_path / "cache", jobs=1)
    sweep("rc", **kw)
    (entry,) = sorted((tmp_path / "cache").rglob("*.npz"))
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = entry.with_name(f".{'0' * 64}.npz.{dead.pid}.tmp")
    live = entry.with_name(f".{'1' * 64}.npz.{os.getpid()}.tmp")
    stale.write_bytes(b"\0" * 100)
    live.write_bytes(b"")
    assert sweep("rc", **kw).attrs["n_cached"] == 1
    assert not stale.exists() and live.exists()


def test_curves_with_values_near_the_float_limit(tmp_path, curve):
    huge = [1e308 * (1 + i / 10) for i in range(len(curve["x"]))]
    (tmp_path / "big.json").write_text(json.dumps({**curve, "x": huge}))
    one_line_exit_2(cli("plot", "big.json", "-o", "big.png", cwd=tmp_path), "big.json", "cannot be drawn")
    assert not (tmp_path / "big.png").exists()


@pytest.fixture(scope="module")
def scgru_trace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trace")
    assert cli("regress", "scgru", "--record", "--n-steps", "5", "-o", "t.npz", cwd=folder).returncode == 0
    import numpy as np
    with np.load(folder / "t.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("field, value, needle", [
    ("tol_h_lsb", "abc", "tol_h_lsb must hold numbers"),
    ("tol_h_lsb", float("nan"), "tol_h_lsb must be one finite number"),
    ("tol_h_lsb", -1.0, "tol_h_lsb must be >= 0"),
    ("min_agreement", 2.0, "min_agreement must be within [0, 1]"),
    ("version", "one", "version must hold numbers"),
    ("h0", "zero", "h0 must hold numbers"),
    ("h0", float("inf"), "h0 holds non-finite values"),
    ("quantization", "[1, 2, 3]", "quantization must be a JSON object"),
])
def test_trace_fields_of_the_wrong_kind(tmp_path, scgru_trace, field, value, needle):
    import numpy as np
    np.savez(tmp_path / "bad.npz", **{**scgru_trace, field: np.array(value)})
    one_line_exit_2(cli("regress", "scgru", "--traces", "bad.npz", "-o", "rep", cwd=tmp_path), "bad.npz", needle)
    assert not (tmp_path / "rep").exists()


def test_trace_states_as_text(tmp_path, scgru_trace):
    import numpy as np
    np.savez(tmp_path / "bad.npz", **{**scgru_trace, "h": scgru_trace["h"].astype(str)})
    one_line_exit_2(cli("regress", "scgru", "--traces", "bad.npz", cwd=tmp_path), "bad.npz", "h must hold numbers")


def test_weights_with_a_bad_checksum(tmp_path, scgru_trace):
    import numpy as np
    np.savez(tmp_path / "w.npz", **{k: scgru_trace[k] for k in ("w_z", "w_h", "b_z", "b_h", "theta")})
    data = bytearray((tmp_path / "w.npz").read_bytes())
    data[data.index(b"NUMPY") + 200] ^= 0xFF
    (tmp_path / "w.npz").write_bytes(bytes(data))
    one_line_exit_2(cli("regress", "scgru", "--record", "--weights", "w.npz", "-o", "t.npz", cwd=tmp_path),
                    "w.npz", "Bad CRC-32")
    assert not (tmp_path / "t.npz").exists()
