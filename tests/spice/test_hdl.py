"""A designer's own Verilog-A models in a deck (``.hdl "model.va"``), compiled by OpenVAF and run on VACASK."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from pycircuits.errors import UsageError
from pycircuits.spice import simulate
from pycircuits.spice.vacask import translate

from marks import requires_ngspice, requires_vacask

MODELS = """\
// a designer's devices: a resistor (model parameter r) and a capacitor (instance parameter c)
`include "disciplines.vams"

module vres(p, n);
    inout p, n;
    electrical p, n;
    parameter real r = 1e3 from (0:inf);
    analog I(p, n) <+ V(p, n) / r;
endmodule

/* a capacitor whose value each instance sets */
module vcap(p, n);
    inout p, n;
    electrical p, n;
    (* type = "instance" *) parameter real c = 1e-9 from (0:inf);
    analog I(p, n) <+ ddt(c * V(p, n));
endmodule
"""

DECK = """\
* RC of a designer's Verilog-A models
.hdl "models.va"
.param r=10k c=1n
V1 in 0 PULSE(0 1 1u 10n 10n 20u 40u)
X1 in out vres r={r}
X2 out 0 vcap c={c}
.tran 10n 30u
.meas tran tdelay TRIG v(in) VAL=0.5 RISE=1 TARG v(out) VAL=0.5 RISE=1
.end
"""


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "rc").mkdir()
    (tmp_path / "rc" / "models.va").write_text(MODELS)
    (tmp_path / "rc" / "deck.cir").write_text(DECK)
    return tmp_path


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_model_and_instance_parameters_go_where_osdi_wants_them(folder):
    deck = (folder / "rc" / "deck.cir").read_text().replace('"models.va"', f'"{folder / "rc" / "models.va"}"')
    deck = deck.replace("X2 out 0 vcap c={c}", "X2 out 0 vcap c={c}\nX3 out 0 vres r=20k\nX4 in 0 vres r={r}")
    text = translate(deck, osdi=lambda name: folder / f"{name}.osdi").text
    assert "model vres_hdl0 vres r=10000.0" in text and "model vres_hdl2 vres r=20000.0" in text
    assert "x1 (in out) vres_hdl0\n" in text and "x4 (in 0) vres_hdl0\n" in text   # one model, two instances
    assert "x2 (out 0) vcap_hdl1 c=1e-09" in text                                   # c stays on the instance


@requires_vacask
def test_an_rc_of_the_designers_models_follows_the_rc_law(folder):
    r = _cli("run", "rc/deck.cir", "--backend", "vacask", cwd=folder)  # the .hdl path is found beside the deck
    assert r.returncode == 0, r.stderr
    tdelay = float(r.stdout.split("tdelay")[1].split()[0])
    assert tdelay == pytest.approx(10e3 * 1e-9 * math.log(2), rel=1e-3)


@requires_vacask
def test_a_syntax_error_in_the_designers_model_is_one_line_with_the_compilers_message(folder):
    (folder / "rc" / "models.va").write_text(MODELS.replace("I(p, n) <+ V(p, n) / r;", "I(p, n) <+ V(p, n) / ;"))
    r = _cli("run", "rc/deck.cir", "--backend", "vacask", cwd=folder)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "models.va" in lines[0] and "error" in lines[0].lower(), lines


@requires_ngspice
def test_ngspice_backends_refuse_a_hdl_deck_in_one_line(folder):
    for backend in ("session", "batch"):
        r = _cli("run", "rc/deck.cir", "--backend", backend, cwd=folder)
        assert r.returncode == 2
        assert r.stderr.strip().splitlines() == [
            "pycircuits: error: the deck loads a Verilog-A model (.hdl), which ngspice 39 cannot load "
            "(it has no OSDI): run it with --backend vacask"]
    with pytest.raises(UsageError, match="run it with --backend vacask"):
        simulate(DECK, "session")


@requires_vacask
def test_editing_the_model_file_invalidates_the_sweeps_cache(folder):
    from pycircuits.sweep import sweep
    deck = str(folder / "rc" / "deck.cir")
    kw = dict(vary={"r": "list:5k,10k"}, backend="vacask", jobs=1, cache=folder / "cache")
    first = sweep(deck, **kw)
    assert sweep(deck, **kw).attrs["n_cached"] == 2
    (folder / "rc" / "models.va").write_text(MODELS.replace("V(p, n) / r", "V(p, n) / (2 * r)"))
    edited = sweep(deck, **kw)
    assert edited.attrs["n_computed"] == 2
    # twice the resistance: twice the delay
    assert edited.tdelay.values == pytest.approx(2 * first.tdelay.values, rel=1e-3)
