"""A designer's deck on the command line: list, run, sweep with Monte Carlo, the .control policy, bad input."""

from __future__ import annotations

import math

import pytest
import xarray as xr
from test_cli import cli

from marks import requires_ngspice

pytestmark = requires_ngspice

RC = """* rc filter, as a designer writes it
.PARAM r=1k c = 1n   $ both on one card
.params tau='r*c'
+ tr={1n}
V1 in 0 PULSE(0 1 1u {tr} 1n 50u 100u)
R1 in out {r}
C1 out 0 {c}
.tran 10n 20u
.meas tran tdelay TRIG v(in) VAL=0.5 RISE=1 TARG v(out) VAL=0.5 RISE=1
.meas tran tnever WHEN v(out)=5 RISE=1
.end
"""


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "rcf.cir").write_text(RC)
    return tmp_path


def test_list_shows_parameters_defaults_derived_analyses_and_measures(folder):
    r = cli("list", "rcf.cir", cwd=folder)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines() if line.startswith("  ")}
    assert rows["r"] == ["1000", "number", "2"] and rows["c"] == ["1e-09", "number", "2"]
    assert rows["tau"][:2] == ["r*c", "derived"] and rows["tr"] == ["1e-09", "number", "3"]  # the card's first line
    assert rows[".tran"] == ["10n", "20u"] and rows["tdelay"] == ["tran"] and rows["tnever"] == ["tran"]


@pytest.mark.parametrize("backend", ["session", "batch"])
def test_run_sets_parameters_and_reports_measures_on_both_backends(folder, backend):
    r = cli("run", "rcf.cir", "-p", "r=2k", "--backend", backend, "-o", f"{backend}.nc", cwd=folder)
    assert r.returncode == 0, r.stderr
    assert "tnever" in r.stdout and "(.meas failed: out of interval)" in r.stdout
    ds = xr.open_dataset(folder / f"{backend}.nc")
    assert float(ds.m_tdelay) == pytest.approx(2e3 * 1e-9 * math.log(2), rel=2e-3)
    assert math.isnan(float(ds.m_tnever)) and "out of interval" in ds.attrs["meas_failed"]
    # the derived parameter takes a number too
    r = cli("run", "rcf.cir", "-p", "tau=5", "--backend", backend, cwd=folder)
    assert r.returncode == 0, r.stderr


def test_both_backends_report_identical_measures(folder):
    values = []
    for backend in ("session", "batch"):
        r = cli("run", "rcf.cir", "--backend", backend, "-o", f"{backend}.nc", cwd=folder)
        assert r.returncode == 0, r.stderr
        values.append(float(xr.open_dataset(folder / f"{backend}.nc").m_tdelay))
    assert values[0] == values[1]


def test_sweep_with_monte_carlo_writes_one_variable_per_measure(folder):
    r = cli("sweep", "rcf.cir", "--vary", "r=lin:1k:3k:3", "--mc", "4", "--vary-mc", "c=normal:5%",
            "--vary-mc", "tr=uniform:1n:2n", "--jobs", "2", "--no-cache", "-o", "s.nc", cwd=folder)
    assert r.returncode == 0, r.stderr
    ds = xr.open_dataset(folder / "s.nc")
    assert ds.tdelay.dims == ("r", "mc") and ds.tdelay.shape == (3, 4) and "meas_failed" in ds
    expected = ds.r * ds.mc_c * math.log(2)
    assert float(abs(ds.tdelay / expected - 1).max()) < 3e-3
    assert "tdelay" in (folder / "s.csv").read_text().splitlines()[0]


def test_control_block_is_named_on_run_and_refused_on_sweep(folder):
    marker = folder / "ran"
    (folder / "ctl.cir").write_text(RC.replace(".end\n", f".control\nshell touch {marker}\n.endc\n.end\n"))
    r = cli("sweep", "ctl.cir", "-o", "s.nc", "--vary", "r=list:1k", "--no-cache", cwd=folder)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "lines 11-13: a .control block" in r.stderr and "--allow-control" in r.stderr
    assert not marker.exists()
    r = cli("run", "ctl.cir", cwd=folder)  # the user's own deck, run as asked: named first, then run
    assert r.returncode == 0, r.stderr
    assert "ctl.cir lines 11-13" in r.stderr.splitlines()[0] and marker.exists()
    marker.unlink()
    r = cli("sweep", "ctl.cir", "-o", "s.nc", "--vary", "r=list:1k", "--no-cache", "--allow-control", cwd=folder)
    assert r.returncode == 0, r.stderr
    assert marker.exists()


def test_a_circuit_name_means_the_circuit_even_when_a_file_is_called_that(folder):
    (folder / "rc").write_text(RC.replace(".end\n", ".control\nshell touch ran\n.endc\n.end\n"))
    r = cli("netlist", "rc", cwd=folder)
    assert r.returncode == 0 and r.stdout.startswith(".title rc low-pass")
    assert "shell" not in r.stdout
    (folder / "mydeck").write_text(RC)
    r = cli("run", "mydeck", cwd=folder)
    assert r.returncode == 2 and "./mydeck" in r.stderr
    r = cli("run", "./mydeck", cwd=folder)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("args, needle", [
    (["run", "rcf.cir", "-p", "zz=1"], "unknown parameter zz; valid: c, r, tau, tr"),
    (["run", "rcf.cir", "-p", "r=abc"], "r"),
    (["run", "nosuch.cir"], "deck nosuch.cir: no such file"),
    (["run", "rcf.cir", "--corner", "ff"], "the deck selects no corner"),
    (["sweep", "rcf.cir", "-o", "s.nc", "--vary", "zz=list:1"], "unknown parameter zz"),
    (["sweep", "rcf.cir", "-o", "s.nc", "--vary", "r=list:1k", "--mc", "2"], "--vary-mc NAME=lognormal:SIGMA"),
    (["sweep", "rcf.cir", "-o", "s.nc", "--vary", "r=list:1k", "--mc", "2", "--vary-mc", "c=gauss:1"], "got gauss:1"),
    (["sweep", "rcf.cir", "-o", "s.nc", "--vary", "r=list:1k", "--vary-mc", "c=normal:5%"], "--mc N"),
    (["sweep", "rcf.cir", "-o", "s.nc", "--vary", "r=list:1k", "--mc", "2", "--vary-mc", "tau=normal:5%"], "derived"),
    (["list", "bad.cir"], "deck line 2: .param r: unclosed {"),
])
def test_bad_deck_input_gives_one_line_and_exit_2(folder, args, needle):
    (folder / "bad.cir").write_text("* bad\n.param r={1k\n.end\n")
    r = cli(*args, cwd=folder)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and needle in lines[0], r.stderr


def test_a_deck_ngspice_rejects_gives_one_line_with_ngspice_message_and_the_card(folder):
    (folder / "bad.cir").write_text("* bad\nV1 in 0 1\nR1 in out foo\n.tran 1u 1m\n.end\n")
    for backend in ("session", "batch"):
        r = cli("run", "bad.cir", "--backend", backend, cwd=folder)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1
        assert "line 3" in lines[0] and "r1 in out foo" in lines[0] and "unknown parameter (foo)" in lines[0]


def test_a_plan_file_names_the_deck_relative_to_itself_and_its_distributions(folder, tmp_path_factory):
    (folder / "plan.toml").write_text('circuit = "rcf.cir"\nmc = 3\nseed = 4\n[vary]\nr = "list:1k,2k"\n'
                                      '[vary_mc]\nc = "normal:5%"\n')
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    r = cli("sweep", "--plan", str(folder / "plan.toml"), "--no-cache", "-o", "s.nc", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    ds = xr.open_dataset(elsewhere / "s.nc")
    assert ds.tdelay.shape == (2, 3) and float(ds.mc_c.std()) > 0
    r = cli("sweep", "rcf.cir", "--vary", "r=list:1k,2k", "--mc", "3", "--seed", "4", "--vary-mc", "c=normal:5%",
            "--no-cache", "-o", "t.nc", cwd=folder)
    assert r.returncode == 0, r.stderr
    assert xr.open_dataset(folder / "t.nc").tdelay.values.tobytes() == ds.tdelay.values.tobytes()
