"""Circuit plugins: an installed package's entry point makes its generator a circuit like ours."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy.linalg import expm

from marks import requires_ngspice

pytestmark = requires_ngspice

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rcladder"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The example package, built and installed as pip does it (isolated build) into its own folder."""
    target = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                        str(EXAMPLE)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert list(target.glob("pycircuits_rcladder-*.dist-info/entry_points.txt"))
    return target


def cli(site, *args, cwd=None, extra_path=()):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *map(str, extra_path)])}
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def ladder_t50(n: int, r: float, c: float) -> float:
    """Half-step time of the last node of an n-section RC ladder, from its state equations (matrix exponential)."""
    g = np.zeros((n, n))
    for k in range(n):
        g[k, k] = 2.0 / r if k < n - 1 else 1.0 / r
        if k > 0:
            g[k, k - 1] = g[k - 1, k] = -1.0 / r
    a = -g / c  # dv/dt = a (v - 1) after the step: every node settles at 1
    lo, hi = 0.0, 10 * r * c * n * n
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        v_last = 1.0 - (expm(a * mid) @ np.ones(n))[-1]
        lo, hi = (mid, hi) if v_last < 0.5 else (lo, mid)
    return 0.5 * (lo + hi)


def test_the_installed_plugin_is_listed_and_documented(site):
    r = cli(site, "list")
    assert r.returncode == 0 and "rcladder" in r.stdout and "[plugin: pycircuits-rcladder 0.1.0" in r.stdout
    r = cli(site, "list", "rcladder")
    assert r.returncode == 0 and "n_stages" in r.stdout and "t50_s" in r.stdout
    r = cli(site, "doctor")
    assert "plugin         rcladder: pycircuits-rcladder 0.1.0 (pycircuits_rcladder:circuit)" in r.stdout
    r = cli(site, "netlist", "rcladder", "-p", "n_stages=3")
    assert r.returncode == 0 and "R3 n2 n3 {r}" in r.stdout.replace("r3", "R3")


def test_plugin_runs_and_sweeps_with_monte_carlo_against_the_state_equations(site, tmp_path):
    r = cli(site, "sweep", "rcladder", "--vary", "n_stages=list:1,3,6", "-p", "t_stop=400u", "-p", "n_steps=20000",
            "--no-cache", "--jobs", "2", "-o", "s.nc", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ds = xr.open_dataset(tmp_path / "s.nc")
    want = [ladder_t50(n, 1e3, 1e-9) for n in (1, 3, 6)]
    np.testing.assert_allclose(ds.t50_s.values, want, rtol=5e-3)
    assert want[0] == pytest.approx(1e-6 * np.log(2), rel=1e-9)
    # Monte Carlo through the plugin's own sampler: seeded, the same for 1 and 2 jobs
    mc = ["sweep", "rcladder", "--vary", "n_stages=list:2,4", "--mc", "5", "--seed", "9", "-p", "sigma_r=0.1",
          "-p", "sigma_c=0.05", "--no-cache"]
    assert cli(site, *mc, "--jobs", "1", "-o", "a.nc", cwd=tmp_path).returncode == 0
    assert cli(site, *mc, "--jobs", "2", "-o", "b.nc", cwd=tmp_path).returncode == 0
    a, b = xr.open_dataset(tmp_path / "a.nc"), xr.open_dataset(tmp_path / "b.nc")
    assert a.t50_s.values.tobytes() == b.t50_s.values.tobytes() and float(a.mc_r.std()) > 0
    # every drawn sample's delay follows the state equations with its own R and C
    for (i, n) in enumerate((2, 4)):
        for m in range(5):
            assert float(a.t50_s[i, m]) == pytest.approx(
                ladder_t50(n, float(a.mc_r[i, m]), float(a.mc_c[i, m])), rel=5e-3)


def test_a_broken_or_clashing_plugin_is_skipped_with_one_line(site, tmp_path):
    for name, value in [("broken", "no_such_module_xyz:circuit"), ("clash", "clash_mod:circuit")]:
        info = tmp_path / f"{name}_pkg-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-pkg\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[pycircuits.circuits]\n{name} = {value}\n")
    (tmp_path / "clash_mod.py").write_text(
        "import dataclasses\n"
        "import pycircuits_rcladder\n"
        "def circuit():\n"
        "    return dataclasses.replace(pycircuits_rcladder.circuit(), name='rc')\n")
    r = cli(site, "list", extra_path=[tmp_path])
    assert r.returncode == 0 and "rcladder" in r.stdout and "rc " in r.stdout
    warnings = [line for line in r.stderr.splitlines() if line]
    assert len(warnings) == 2, r.stderr
    assert "circuit plugin broken = no_such_module_xyz:circuit (broken-pkg 1.0) skipped: ModuleNotFoundError" \
        in warnings[0]
    assert "circuit plugin clash = clash_mod:circuit (clash-pkg 1.0) skipped: ValueError: circuit name 'rc' is taken" \
        in warnings[1]
    r = cli(site, "run", "rc", extra_path=[tmp_path])
    assert r.returncode == 0 and r.stdout.startswith("rc: tran analysis")
