"""The command line: exit statuses, injection refused, files written only when all went well."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from marks import requires_ngspice


def cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


INJECTIONS = [
    "r=1k\n.control\nshell touch {marker}\n.endc",
    "r=1k\nshell touch {marker}",
    "r=.control",
    "r=1k .include {marker}",
    "r={{shell touch {marker}}}",
    "r=1k;shell touch {marker}",
    "v_step=1\n.endc\n.control\nshell touch {marker}",
]


@pytest.mark.parametrize("template", INJECTIONS)
@pytest.mark.parametrize("command", ["netlist", "run"])
def test_injection_attempts_are_refused_and_run_nothing(tmp_path, template, command):
    marker = tmp_path / "pwned"
    out = tmp_path / "out.cir"
    args = [command, "rc", "-p", template.format(marker=marker)]
    args += ["-o", str(out)] if command == "netlist" else ["-o", str(tmp_path / "out.nc")]
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert not marker.exists()
    assert not out.exists() and not (tmp_path / "out.nc").exists()


@pytest.mark.parametrize("args,needle", [
    (["run", "nosuch"], "unknown circuit"),
    (["netlist", "rc", "-p", "r=-1"], "out of range"),
    (["netlist", "rc", "-p", "zz=1"], "unknown parameter"),
    (["netlist", "rc", "-p", "r"], "NAME=VALUE"),
    (["netlist", "rc", "--pdk", "tsmc7"], "unknown PDK"),
    (["netlist", "inverter", "--corner", "xx"], "no corner"),
    (["netlist", "rc", "-o", "/proc/nonexistent/x.cir"], "cannot write"),
    (["run", "rc", "-o", "out.txt"], ".nc or .npz"),
    (["sweep", "rc", "--vary"], "requires an argument"),
    (["nosuchcmd"], "No such command"),
    (["run"], "Missing argument"),
    (["sweep", "rc", "--vary", "r=list:1k", "--seed", "1e30", "-o", "s.nc"], "--seed"),
    (["sweep", "rc", "--vary", "r=list:1k", "--seed", "18446744073709551616", "-o", "s.nc"], "at most 2**63 - 1"),
    (["sweep", "rc", "--vary", "r=list:1k", "--timeout", "2592001", "-o", "s.nc"], "--timeout"),
    (["demo", "--jobs", "0", "-o", "d"], "--jobs: expected a positive integer"),
    (["sweep", "rc", "--vary", "r=list:1k,1k,2k", "-o", "s.nc"], "the value 1000 comes twice"),
    (["extract", "rc-tau", "--run", "-p", "r=5k", "-o", "c.json"], "-p r: recipe rc-tau sweeps r"),
    (["regress", "rc\nshell x", "--record", "-o", "t.csv"], "no software twin records a trace of rc\\nshell x"),
    (["extract", "rc-tau", "--run", "-p", "r=1k\nshell x", "-o", "c.json"], "-p r: recipe rc-tau sweeps r"),
    (["run", "rc", "-p", "r=\u0661k"], "is not a number"),
])
def test_bad_input_gives_one_line_and_exit_2(tmp_path, args, needle):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


@pytest.mark.parametrize("corners", ["5", '["tt", 5]'])
def test_plan_corners_that_are_not_names(tmp_path, corners):
    (tmp_path / "p.toml").write_text(f'circuit = "inverter"\ncorners = {corners}\n[vary]\nwn = "list:1u,2u"\n')
    r = cli("sweep", "--plan", "p.toml", "--no-cache", "-o", "s.nc", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        'pycircuits: error: sweep file p.toml: corners must be a string or a list of strings, like ["tt", "ss"]']


def test_the_longest_timeout_is_accepted(tmp_path):
    # 30 days: past 24.8 days the OS poll's milliseconds overflow, so the executor waits in slices
    r = cli("sweep", "rc", "--vary", "r=list:1k,2k", "--timeout", "2592000", "--no-cache", "-o", "s.nc",
            cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_a_circuit_name_that_is_also_a_file_here(tmp_path):
    (tmp_path / "rc").write_text("deck\n.control\nshell touch PWNED\n.endc\n.end\n")
    r = cli("run", "rc", cwd=tmp_path)
    assert r.returncode == 0 and "tau_s" in r.stdout
    assert r.stderr.strip().splitlines() == [
        "note: rc is the built-in circuit; to use the file rc here, give it as ./rc"]
    assert not (tmp_path / "PWNED").exists()


def test_list_shows_parameters_with_unit_range_and_doc():
    r = cli("list", "rc")
    assert r.returncode == 0
    row = next(line for line in r.stdout.splitlines() if line.strip().startswith("r "))
    assert "Ohm" in row and "(0, 1e+15]" in row and "series resistance" in row
    assert "tau_s" in r.stdout


@requires_ngspice
def test_run_writes_netcdf_npz_plot_and_json(tmp_path):
    import numpy as np
    import xarray as xr
    r = cli("run", "rc", "-p", "r=1meg", "-p", "c=1n", "-p", "t_stop=10m", "-o", "w.nc", "--plot", "w.png",
            "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    measures = json.loads(r.stdout)
    assert measures["tau_s"] == pytest.approx(1e-3, rel=0.01)
    ds = xr.open_dataset(tmp_path / "w.nc", engine="h5netcdf")
    assert float(ds["m_tau_s"]) == pytest.approx(measures["tau_s"], rel=1e-12)
    assert ds.attrs["circuit"] == "rc" and "v_out" in ds
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"
    r2 = cli("run", "rc", "--backend", "batch", "-o", "w.npz", "--raw", "w.raw", cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    data = np.load(tmp_path / "w.npz")
    assert "vec:v(out)" in data and (tmp_path / "w.raw").stat().st_size > 1000


@requires_ngspice
def test_the_session_writes_the_raw_file_ngspice_b_writes(tmp_path):
    import numpy as np

    from pycircuits.spice.rawfile import read_raw
    for backend in ("session", "batch"):
        r = cli("run", "rc", "--backend", backend, "-o", f"{backend}.npz", "--raw", f"{backend}.raw", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    (session,), (batch,) = read_raw(tmp_path / "session.raw"), read_raw(tmp_path / "batch.raw")
    assert session.plotname == batch.plotname == "Transient Analysis"
    s, b = session.vectors(), batch.vectors()
    assert set(s) == set(b) and {"time", "v(out)", "v(in)"} <= set(s)
    for name in s:  # the same analysis, bit for bit, written by ngspice's write and by -r
        assert np.array_equal(s[name], b[name]), name
    returned = np.load(tmp_path / "session.npz")
    assert np.array_equal(returned["vec:v(out)"], s["v(out)"])


@requires_ngspice
def test_run_of_a_netlist_file_with_param_override(tmp_path):
    r = cli("netlist", "rc", "-o", "rc.cir", cwd=tmp_path)
    assert r.returncode == 0
    r = cli("run", "rc.cir", "-p", "r=20k", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("run", "rc.cir", "-p", "nope=1", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr == "pycircuits: error: unknown parameter nope; valid: c, r, v_step\n"


@requires_ngspice
def test_failed_simulation_exits_1_with_ngspice_text(tmp_path):
    (tmp_path / "bad.cir").write_text("* bad\nV1 in 0 1\nR1 in out foo\n.tran 1u 1m\n.end\n")
    r = cli("run", "bad.cir", "--backend", "batch", cwd=tmp_path)
    assert r.returncode == 1
    assert "r1 in out foo" in r.stderr.lower()


@pytest.mark.parametrize("root", ["/x\n.control\nshell touch {marker}\n.endc", '/x" \n.include "{marker}',
                                  "/x\r.endc"])
def test_pdk_root_from_the_environment_cannot_carry_cards_into_a_netlist(tmp_path, root):
    import os
    marker = tmp_path / "pwned"
    env = {**os.environ, "PDK_ROOT": root.format(marker=marker)}
    for args in (["netlist", "inverter", "--pdk", "sky130"], ["run", "inverter", "--pdk", "sky130"]):
        r = cli(*args, cwd=tmp_path, env=env)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and "PDK_ROOT: the path holds" in lines[0], r.stderr
        assert ".control" not in r.stdout and "shell" not in r.stdout
    assert not marker.exists()


def test_control_characters_from_a_plan_file_stay_on_one_line(tmp_path):
    (tmp_path / "p.toml").write_text('circuit = "rc"\n[params]\n"r\\nshell x" = "1k"\n[vary]\nc = "list:1n"\n')
    r = cli("sweep", "--plan", "p.toml", "-o", "s.nc", cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "unknown parameter r\\nshell x" in lines[0], r.stderr


@requires_ngspice
def test_spicelib_reads_the_session_raw_file(tmp_path):
    spicelib = pytest.importorskip("spicelib")  # in the bench extra
    import numpy as np
    assert cli("run", "rc", "-o", "w.npz", "--raw", "w.raw", cwd=tmp_path).returncode == 0
    # ngspice 39 writes no "Command:" line, by which spicelib tells dialects apart: name it
    raw = spicelib.RawRead(str(tmp_path / "w.raw"), dialect="ngspice")
    assert np.array_equal(raw.get_trace("v(out)").get_wave(), np.load(tmp_path / "w.npz")["vec:v(out)"])
