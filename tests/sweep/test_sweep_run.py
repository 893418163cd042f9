"""Sweeps that run: seeded Monte Carlo reproducible across workers, one load per batch, cache and
resume after SIGKILL, failing points recorded, dataset/CSV layout, and the command line's refusals."""

from __future__ import annotations

import csv
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pycircuits.circuits import REGISTRY, CircuitDef, Netlist, register
from pycircuits.errors import FileFormatError
from pycircuits.params import Params, param
from pycircuits.sweep import load_dataset, plot_sweep, sweep
from pycircuits.sweep.cache import Cache, Entry, read_entry

from marks import requires_ngspice

pytestmark = requires_ngspice

FAST = {"n_steps": 200}  # rc with ~230 time points: a run of about a millisecond


# A circuit whose points fail on purpose: mode 1 names a missing model (ngspice refuses the
# netlist), mode 2 kills the worker that measures it.  Its array measure grows with r.
@dataclass(frozen=True)
class TrapParams(Params):
    """Parameters of the ``sweep_trap`` test circuit."""

    r: float = param(1e3, "Ohm", "series resistance", min=1.0, max=1e9)
    mode: int = param(0, "", "0 works, 1 missing model, 2 kills its worker", min=0, max=2)


def _trap_build(p: TrapParams, pdk, corner: str = "tt") -> Netlist:  # noqa: ARG001
    net = Netlist("sweep trap", analysis=".tran 1e-7 1e-5 0 1e-7")
    r = net.param("r", p.r)
    net.V("in", "in", net.gnd, "PULSE(0 1 0 1e-9 1e-9 1 2)")
    net.R("1", "in", "out", r)
    net.C("1", "out", net.gnd, "1e-9")
    if p.mode == 1:
        net.D("1", "out", net.gnd, model="nosuchdiode")
    return net


def _trap_measure(w, p: TrapParams) -> dict:
    if p.mode == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"v_end_v": float(w["v(out)"][-1]), "first_v": np.asarray(w["v(out)"][: 2 + int(p.r // 1000)])}


TRAP = CircuitDef(name="sweep_trap", doc="test circuit with failing points", params=TrapParams,
                  build=_trap_build, measure=_trap_measure,
                  measures={"v_end_v": "V: out at the end", "first_v": "V: the first samples of out"})
if multiprocessing.parent_process() is not None:  # imported by a sweep worker to find the circuit
    register(TRAP)


@pytest.fixture
def trap():
    register(TRAP)
    yield TRAP.name
    REGISTRY.pop(TRAP.name, None)


def cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def same_data(a, b) -> bool:
    """Every variable and coordinate identical, bit for bit (attrs hold run statistics)."""
    if set(a.variables) != set(b.variables):
        return False
    for k in a.variables:
        x, y = a[k].values, b[k].values
        if x.dtype.kind == "f":
            if x.shape != y.shape or x.tobytes() != y.tobytes():
                return False
        elif not np.array_equal(x, y):
            return False
    return a.equals(b)


def test_monte_carlo_is_bit_identical_for_one_or_two_workers_and_seed_dependent():
    kw = dict(vary={"r": "list:10k,30k"}, params={**FAST, "sigma_r": 0.2, "sigma_c": 0.05}, mc=12, cache=False)
    one = sweep("rc", seed=1, jobs=1, **kw)
    two = sweep("rc", seed=1, jobs=2, **kw)
    other = sweep("rc", seed=2, jobs=2, **kw)
    assert one.attrs["n_batches"] != two.attrs["n_batches"]  # batched differently, same numbers
    assert same_data(one, two)
    assert not np.array_equal(one.tau_s.values, other.tau_s.values)
    # the physics: tau = R*C for each drawn R and C
    np.testing.assert_allclose(one.tau_s.values, one.mc_r.values * one.mc_c.values, rtol=0.02)
    assert one.attrs["n_computed"] == 24 and one.attrs["n_failed"] == 0 and one.ok.all()


def test_each_worker_loads_the_circuit_once_per_batch():
    ds = sweep("rc", {"n_steps": "list:200,300", "r": "lin:1k:8k:8"}, jobs=2, cache=False)
    a = ds.attrs
    assert a["n_batches"] == 8  # 16 points / 2 jobs / 4
    assert a["n_runs"] == 16 and a["n_computed"] == 16
    assert a["max_loads_per_batch"] == 1
    assert 2 <= a["n_loads"] <= a["n_batches"]  # two structures; a worker keeps a loaded one
    np.testing.assert_allclose(ds.tau_s.sel(n_steps=300).values, ds.r.values * 1e-9, rtol=0.02)


def test_workers_are_recycled_after_the_given_number_of_runs():
    ds = sweep("rc", {"r": "lin:10k:60k:6"}, FAST, jobs=1, recycle=3, cache=False)
    a = ds.attrs
    assert a["n_batches"] == 3 and a["workers_started"] == 2 and a["n_runs"] == 6 and a["n_loads"] == 2
    np.testing.assert_allclose(ds.tau_s.values, ds.r.values * 1e-9, rtol=0.02)


def test_cache_serves_every_point_again_and_survives_a_corrupt_entry(tmp_path):
    kw = dict(vary={"r": "lin:1k:4k:4"}, params=FAST, jobs=2, cache=tmp_path / "cache")
    first = sweep("rc", **kw)
    assert (first.attrs["n_computed"], first.attrs["n_cached"]) == (4, 0)
    again = sweep("rc", **kw)
    assert (again.attrs["n_computed"], again.attrs["n_cached"], again.attrs["n_runs"]) == (0, 4, 0)
    assert same_data(first, again)
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(entries) == 4
    entries[1].write_bytes(b"not a zip file")
    healed = sweep("rc", **kw)
    assert (healed.attrs["n_computed"], healed.attrs["n_cached"]) == (1, 3)
    assert same_data(first, healed)
    read_entry(entries[1])  # overwritten with a good entry


def test_failing_points_are_recorded_and_the_others_complete(trap, tmp_path):
    out = tmp_path / "trap.nc"
    ds = sweep(trap, {"mode": "list:0,1,2", "r": "list:1k,4k"}, jobs=2, cache=tmp_path / "c", output=out)
    assert ds.attrs["n_failed"] == 4 and ds.attrs["n_computed"] == 6
    ok = ds.sel(mode=0)
    assert ok.ok.all() and (ok.error == "").all()
    np.testing.assert_allclose(ok.v_end_v.values, 1 - np.exp(-1e-5 / (ok.r.values * 1e-9)), rtol=1e-3)
    # array measure: NaN-padded to the longest (r=4k gives 6 samples, r=1k 3)
    assert ds.first_v.dims == ("mode", "r", "first_v_index") and ds.sizes["first_v_index"] == 6
    assert np.isnan(ok.first_v.sel(r=1e3).values[3:]).all() and not np.isnan(ok.first_v.sel(r=4e3)).any()
    assert all("nosuchdiode" in e for e in ds.error.sel(mode=1).values)
    assert all(e.startswith("worker died: killed by SIGKILL") for e in ds.error.sel(mode=2).values)
    assert np.isnan(ds.v_end_v.sel(mode=[1, 2]).values).all()
    rows = list(csv.DictReader(open(out.with_suffix(".csv"))))
    assert [r["mode"] for r in rows] == ["0", "0", "1", "1", "2", "2"]
    assert rows[0]["error"] == "" and float(rows[0]["v_end_v"]) == ok.v_end_v.values[0]
    assert "nosuchdiode" in rows[2]["error"] and rows[4]["error"].startswith("worker died")
    # a refused netlist is a property of the circuit (cached); a dead worker is not
    again = sweep(trap, {"mode": "list:0,1,2", "r": "list:1k,4k"}, jobs=2, cache=tmp_path / "c")
    assert (again.attrs["n_cached"], again.attrs["n_computed"]) == (4, 2)


def test_a_point_over_the_time_limit_is_killed_and_recorded(tmp_path):
    ds = sweep("rc", {"n_steps": "list:200,10000000,300"}, jobs=1, cache=tmp_path / "c", timeout_s=2.0)
    assert list(ds.ok.values) == [True, False, True]
    assert "exceeded the 2 s limit" in ds.error.values[1]
    assert ds.tau_s.values[0] == pytest.approx(1e-5, rel=0.02) and np.isnan(ds.tau_s.values[1])
    assert len(list((tmp_path / "c").rglob("*.npz"))) == 2  # a timeout is not cached


def test_dataset_layout_waveforms_provenance_and_round_trip(tmp_path):
    out = tmp_path / "sub" / "rc.nc"
    ds = sweep("rc", {"r": "log:2k:8k:3"}, {**FAST, "sigma_c": 0.05}, mc=3, seed=4, corners="tt,ss",
               jobs=2, cache=False, keep_waveforms=True, output=out)
    assert ds.tau_s.dims == ("corner", "r", "mc") and list(ds.corner.values) == ["tt", "ss"]
    assert ds.r.attrs["units"] == "ohm" and ds.r.attrs["spacing"] == "log" and ds.tau_s.attrs["units"] == "s"
    assert ds.v_out.dims == ("corner", "r", "mc", "time") and ds.time.values[0] == 0.0
    assert np.nanmax(np.abs(ds.v_out.isel(time=-1).values - ds.v_final_v.values)) < 1e-9
    for key in ("circuit", "params", "plan", "seed", "ngspice_version", "pdk", "corners",
                "pycircuits_version", "created"):
        assert key in ds.attrs
    assert ds.attrs["corners"] == "tt,ss" and ds.attrs["seed"] == 4
    back = load_dataset(out)
    assert same_data(ds, back)
    with open(out.with_suffix(".csv")) as fh:
        header = next(csv.reader(fh))
    assert header == ["r", "mc", "mc_r", "mc_c", "corner", "tau_s", "t50_s", "v_final_v", "error"]
    bad = tmp_path / "bad.nc"
    bad.write_bytes(out.read_bytes()[:200])
    with pytest.raises(FileFormatError, match="cannot read sweep dataset"):
        load_dataset(bad)


def test_plot_sweep_draws_the_median_and_the_5_95_band():
    import matplotlib
    matplotlib.use("Agg")
    ds = sweep("rc", {"r": "lin:1k:3k:3"}, {**FAST, "sigma_r": 0.2}, mc=20, seed=1, jobs=2, cache=False)
    ax = plot_sweep(ds, "tau_s")
    median = ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(median, np.nanmedian(ds.tau_s.values, axis=1))
    assert len(ax.collections) == 1  # the band


def _entries(cache_dir: Path) -> int:
    return len(list(cache_dir.rglob("*.npz")))


def test_killed_sweep_resumes_without_losing_or_repeating_a_point(tmp_path, clean_env):
    cache_dir, out = tmp_path / "cache", tmp_path / "rc.nc"
    args = ["sweep", "rc", "--vary", "r=lin:1k:24k:24", "-p", "n_steps=20000", "--jobs", "1",
            "--cache", str(cache_dir), "-o", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "pycircuits", *args], env=clean_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _entries(cache_dir) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    time.sleep(0.5)  # its worker dies with it (PR_SET_PDEATHSIG)
    done = _entries(cache_dir)
    assert 5 <= done < 24 and not out.exists()
    r = cli(*args, env=clean_env)
    assert r.returncode == 0, r.stderr
    m = re.search(r"24 points \((\d+) computed, (\d+) cached, 0 failed\).*\nngspice: (\d+) runs", r.stdout)
    assert m, r.stdout
    assert (int(m[1]), int(m[2]), int(m[3])) == (24 - done, done, 24 - done)
    whole = sweep("rc", {"r": "lin:1k:24k:24"}, {"n_steps": 20000}, jobs=2, cache=False)
    assert same_data(load_dataset(out), whole)


def test_ctrl_c_stops_cleanly_and_keeps_the_cache(tmp_path, clean_env):
    cache_dir, out = tmp_path / "cache", tmp_path / "rc.nc"
    # 300 points, so that the interrupt lands while points remain (30 could all finish first on a fast machine)
    proc = subprocess.Popen([sys.executable, "-m", "pycircuits", "sweep", "rc", "--vary", "r=lin:1k:30k:300",
                             "-p", "n_steps=40000", "--jobs", "1", "--cache", str(cache_dir), "-o", str(out)],
                            env=clean_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _entries(cache_dir) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines() == ["pycircuits: interrupted"]
    assert not out.exists() and not out.with_suffix(".csv").exists()
    kept = _entries(cache_dir)
    assert 2 <= kept < 300 and all(read_entry(p).ok for p in cache_dir.rglob("*.npz"))
    assert not list(cache_dir.rglob("*.tmp"))


@pytest.mark.parametrize("args,needle", [
    (["--vary", "zz=lin:1:2:3"], "unknown parameter zz"),
    (["--vary", "r=lin:1k:2k:0"], "empty range"),
    (["--vary", "r=log:0:1k:3"], "positive bounds"),
    (["--vary", "r=lin:1k:2k:2", "--scheduler", "tcp://127.0.0.1:1"], "cannot reach Dask scheduler"),
    (["--vary", "r=lin:1k:2k:2", "-o", "/proc/nonexistent/sweep.nc"], "cannot write"),
    (["--vary", "r=lin:1k:2k:2", "-o", "sweep.txt"], ".nc file"),
    (["--vary", "wn=lin:1u:2u:2", "--mc", "3"], "Monte Carlo"),
])
def test_bad_sweep_input_gives_one_line_exit_2_and_writes_nothing(tmp_path, clean_env, args, needle):
    circuit = "inverter" if "--mc" in args else "rc"
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "sweep.nc")]
    r = cli("sweep", circuit, *args, env=clean_env, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert not list(tmp_path.rglob("*.nc")) and not list(tmp_path.rglob("*.csv"))
    assert not list(tmp_path.rglob("*.npz"))


def test_cache_entry_keeps_arrays_errors_and_waveforms(tmp_path):
    c = Cache(tmp_path)
    e = Entry(measures={"a": 1.5, "b": np.array([1.0, np.nan])}, waveforms={"time": np.arange(3.0)},
              scale="time", units={"time": "s"}, meta={"analysis_time_s": 0.1})
    assert c.put("ab" * 32, e)
    got = c.get("ab" * 32, need_waveforms=True)
    assert got.measures["a"] == 1.5 and np.array_equal(got.measures["b"], e.measures["b"], equal_nan=True)
    assert np.array_equal(got.waveforms["time"], np.arange(3.0)) and got.units == {"time": "s"}
    assert not c.put("cd" * 32, Entry(error="too slow", error_type="SimulationTimeout"))
    assert c.get("cd" * 32) is None
    assert c.put("ef" * 32, Entry(error="no model", error_type="NetlistError"))
    assert c.get("ef" * 32).error == "no model"
    assert c.get("ef" * 32, need_waveforms=True) is not None  # a failed point has no waveforms to want
    assert Cache(tmp_path / "x").get("ab" * 32) is None


def test_datasets_follow_cf_with_udunits_strings(tmp_path):
    import shutil

    import xarray as xr
    out = tmp_path / "cf.nc"
    sweep("rc", {"r": "list:1k,2k"}, {**FAST, "sigma_c": 0.05}, mc=2, jobs=1, cache=False, output=out)
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.attrs["Conventions"] == "CF-1.10"
        units = {k: v.attrs.get("units") for k, v in ds.variables.items()}
    assert units["r"] == "ohm" and units["mc_c"] == "F" and units["tau_s"] == "s" and units["v_final_v"] == "V"
    assert units["mc"] == "1"  # a sample index is dimensionless
    ncdump = shutil.which("ncdump")
    if ncdump is None:
        pytest.skip("ncdump not installed (make setup installs Debian's netcdf-bin)")
    header = subprocess.run([ncdump, "-h", str(out)], capture_output=True, text=True, check=True).stdout
    assert ':Conventions = "CF-1.10"' in header
    assert 'r:units = "ohm"' in header and 'mc:units = "1"' in header and 'tau_s:units = "s"' in header


def test_kept_workers_serve_the_next_sweep_with_the_circuit_still_loaded(monkeypatch):
    from pycircuits.sweep import close_workers
    kw = dict(vary={"r": "lin:10k:40k:8"}, params=FAST, jobs=2, cache=False, keep_workers=True)
    first = sweep("rc", **kw)
    again = sweep("rc", **kw)
    a = again.attrs
    assert first.attrs["workers_started"] == 2
    assert (a["workers_started"], a["workers_reused"], a["n_loads"]) == (0, 2, 0)
    assert same_data(first, again)
    # a worker sees the environment it started in: another environment starts new ones
    monkeypatch.setenv("PYCIRCUITS_TEST_MARKER", "1")
    other = sweep("rc", **kw)
    assert (other.attrs["workers_started"], other.attrs["workers_reused"]) == (2, 0)
    assert close_workers() == 2
    assert not multiprocessing.active_children()


def test_workers_started_ahead_end_with_the_sweep(tmp_path):
    kw = dict(vary={"r": "lin:10k:40k:4"}, params=FAST, jobs=2, cache=tmp_path / "cache")
    sweep("rc", **kw)
    served = sweep("rc", **kw)  # every point from the cache: the workers started ahead had nothing to do
    assert served.attrs["n_computed"] == 0 and served.attrs["workers_started"] == 2
    assert not multiprocessing.active_children()
