""".meas cards evaluated in NumPy (spice/meas.py): exact on known waveforms, and ngspice's numbers on VACASK."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pycircuits.errors import UsageError
from pycircuits.spice import simulate
from pycircuits.spice.meas import evaluate_measures, measure_words
from pycircuits.spice.vacask import translate

from marks import requires_ngspice, requires_vacask

# a triangle 0 -> 1 -> 0 -> 1 on t = 0..3 (1 s a ramp), sampled every 0.1 s, and a constant 0.25
T = np.linspace(0.0, 3.0, 31)
TRI = np.interp(T, [0, 1, 2, 3], [0, 1, 0, 1])
VECTORS = {"time": T, "v(a)": TRI, "v(b)": np.full_like(T, 0.25), "i(v1)": 2 * TRI}


def meas(*cards: str, params=None):
    return evaluate_measures(list(cards), VECTORS, "tran", params or {})


@pytest.mark.parametrize("card, value", [
    (".meas tran x WHEN v(a)=0.5", 0.5),
    (".meas tran x WHEN v(a)=0.5 RISE=2", 2.5),
    (".meas tran x WHEN v(a)=0.5 FALL=1", 1.5),
    (".meas tran x WHEN v(a)=0.5 CROSS=3", 2.5),
    (".meas tran x WHEN v(a)=0.5 CROSS=LAST", 2.5),
    (".meas tran x WHEN v(a)=0.5 RISE=1 TD=1", 2.5),
    (".meas tran x WHEN v(a)=v(b) FALL=1", 1.75),
    (".meas tran x TRIG v(a) VAL=0.5 RISE=1 TARG v(a) VAL=0.5 FALL=1", 1.0),
    (".meas tran x TRIG AT=0.2 TARG v(a) VAL=0.5 RISE=1", 0.3),
    (".meas tran x FIND v(a) AT=1.25", 0.75),
    (".meas tran x FIND i(v1) WHEN v(a)=0.5 FALL=1", 1.0),
    (".meas tran x AVG v(a) FROM=0 TO=2", 0.5),
    (".meas tran x AVG a FROM=0 TO=1", 0.5),
    (".meas tran x MAX v(a) FROM=0.5 TO=1.5", 1.0),
    (".meas tran x MAX_AT v(a) TO=1.5", 1.0),
    (".meas tran x MIN v(a) FROM=0.5 TO=2.5", 0.0),
    (".meas tran x PP v(a) FROM=0.5 TO=1.5", 0.5),
    (".meas tran x INTEG v(a) FROM=0 TO=0.95", 0.95**2 / 2),   # a line: the rules are exact, TO interpolated
    (".meas tran x INTEG i(v1) FROM=0.05 TO=0.95", 0.9),      # FROM interpolated too: the area of 2t
    (".meas tran x RMS v(b) FROM=0.3 TO=2.7", 0.25),
])
def test_each_function_gives_the_known_value_of_a_triangle(card, value):
    values, failed = meas(card)
    assert not failed
    assert values["x"] == pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("card, value", [
    (".meas tran x INTEG v(a) FROM=0 TO=2", 1.0),             # Simpson across the kink at t = 1
    (".meas tran x RMS v(a) FROM=0 TO=1", math.sqrt(1 / 3)),  # ramp: sqrt(<t^2>), a zero-width last segment
])
def test_integrals_follow_ngspices_rules_to_their_accuracy(card, value):
    # ngspice appends the point at TO even when a sample sits there, and mixes Simpson 3/8,
    # Simpson 1/3 and trapezoids by segment width: within 0.3 % of the exact value on this grid
    values, _ = meas(card)
    assert values["x"] == pytest.approx(value, rel=3e-3)
    assert values["x"] != value


def test_param_measures_use_earlier_measures_and_deck_params():
    values, _ = meas(".meas tran t1 WHEN v(a)=0.5", ".meas tran y PARAM='t1 * k + 1'", params={"k": 4})
    assert values["y"] == pytest.approx(3.0)


def test_failures_carry_ngspices_reasons_and_other_analyses_are_skipped():
    values, failed = meas(".meas tran never WHEN v(a)=2", ".meas tran nov MAX v(zz)",
                          ".meas tran diff MAX v(a,b)", ".meas dc other MAX v(a)")
    assert values == {}
    assert failed == {"never": "out of interval", "nov": "no such vector as 'v(zz)'",
                      "diff": "no such vector as 'v(a,b)'"}


def test_words_are_split_as_ngspice_splits_them():
    assert measure_words(".meas tran d TRIG v(in) VAL = 0.5 RISE= 1 TARG v(a, b) val={k * 2}") == [
        ".meas", "tran", "d", "TRIG", "v(in)", "VAL=0.5", "RISE=1", "TARG", "v(a,", "b)", "val={k * 2}"]


def test_a_meas_card_of_an_unknown_function_is_refused_in_one_line():
    with pytest.raises(UsageError, match=r"unsupported card '\.meas tran x deriv v\(a\) at=1u'"):
        translate("t\nV1 a 0 1\nR1 a 0 1k\n.meas tran x deriv v(a) at=1u\n.tran 1n 1u\n.end\n")


RC_DECK = """\
* measures of an RC and a B-source inverter
.param r=10k c=1n
V1 in 0 PULSE(0 1 1u 10n 10n 20u 40u)
R1 in out {r}
C1 out 0 {c}
B1 inv 0 v=1-V(out)
R2 inv 0 1k
.tran 10n 60u
.meas tran tdelay TRIG v(in) VAL=0.5 RISE=1 TARG v(out) VAL=0.5 RISE=1
.meas tran tfall TRIG v(in) VAL=0.5 FALL=1 TARG v(out) VAL=0.5 FALL=1
.meas tran t63 WHEN v(out)=0.632 RISE=1
.meas tran tcross WHEN v(out)=v(inv) CROSS=2
.meas tran vat FIND v(out) AT=5u
.meas tran vwhen FIND v(inv) WHEN v(out)=0.3 FALL=1
.meas tran vavg AVG v(out) FROM=1u TO=21u
.meas tran vmax MAX v(out)
.meas tran vmin MIN v(inv) FROM=5u TO=30u
.meas tran tmax MAX_AT v(out)
.meas tran vrms RMS v(out) FROM=2u TO=30u
.meas tran q INTEG i(v1) FROM=1u TO=21u
.meas tran ratio PARAM='tdelay/(r*c)'
.meas tran lastx WHEN v(out)=0.5 CROSS=LAST
.meas tran never WHEN v(out)=2
.meas tran pair PP v(out, inv)
.end
"""


@requires_vacask
@requires_ngspice
def test_a_decks_measures_on_vacask_are_ngspices():
    ng, vac = simulate(RC_DECK, "session"), simulate(RC_DECK, "vacask")
    assert sorted(vac.meas) == sorted(ng.meas) and len(ng.meas) == 14
    for name, value in ng.meas.items():
        assert vac.meas[name] == pytest.approx(value, rel=5e-4), name
    assert vac.meas_failed == ng.meas_failed == {"never": "out of interval",
                                                 "pair": "bad syntax. equal sign missing ?"}
    # the RC law: the 50 % delay is R C ln 2
    assert vac.meas["ratio"] == pytest.approx(math.log(2), rel=1e-3)


@requires_vacask
@requires_ngspice
def test_a_sweep_of_a_deck_with_measures_runs_on_vacask(tmp_path):
    from pycircuits.sweep import sweep
    deck = tmp_path / "rcmeas.cir"
    deck.write_text(RC_DECK.replace(".meas tran pair PP v(out, inv)\n", ""))
    kw = dict(vary={"r": "list:5k,10k,20k"}, jobs=1, cache=False)
    vac, ng = sweep(str(deck), backend="vacask", **kw), sweep(str(deck), **kw)
    np.testing.assert_allclose(vac.tdelay.values, ng.tdelay.values, rtol=5e-4)
    np.testing.assert_allclose(vac.tdelay.values, vac.r.values * 1e-9 * math.log(2), rtol=1e-3)
    assert np.isnan(vac.never.values).all() and "out of interval" in str(vac.meas_failed.values[0])


@requires_vacask
@requires_ngspice
def test_a_meas_card_of_another_analysis_is_skipped_on_both_engines():
    deck = "op with a tran measure\nV1 a 0 1\nR1 a 0 1k\n.meas tran x MAX v(a)\n.op\n.end\n"
    for backend in ("session", "vacask"):
        w = simulate(deck, backend)
        assert (w.meas, w.meas_failed) == ({}, {}) and w["i(v1)"][0] == pytest.approx(-1e-3)
