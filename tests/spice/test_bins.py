"""Binned model families cut to the bins the transistors take: same results as the whole deck, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pycircuits.circuits import generate
from pycircuits.spice import Session, run_batch
from pycircuits.spice import bins as bins_mod
from pycircuits.spice.bins import BinDeck, bin_deck, covers, merge_keys
from pycircuits.spice.expr import Unevaluable, evaluate
from pycircuits.spice.reduce import reduce_deck

from marks import requires_ngspice, requires_sky130

# Three bins of one NMOS family behind a subcircuit, as PDKs write them (sky130's
# nfet_01v8 is this shape with 48 bins). Each bin has its own threshold, so the
# drain current tells which bin ngspice took.
FAMILY = """\
* a binned NMOS family behind a subcircuit
.option scale=1u
.param vshift=0
.subckt nfet d g s b mult=1
+
.param l=1 w=1 nf=1
Mn d g s b nmod l={l} w={w} nf={nf}
.model nmod.1 nmos level=54 version=4.5 lmin=1e-7 lmax=1e-6 wmin=1e-7 wmax=1e-6 vth0={0.40+vshift} toxe=2.6e-9
.model nmod.2 nmos level=54 version=4.5 lmin=1e-7 lmax=1e-6 wmin=1e-6 wmax=5e-6 vth0=0.45 toxe=2.6e-9
.model nmod.3 nmos level=54 version=4.5 lmin=1e-7 lmax=1e-6 wmin=5e-6 wmax=1e-4 vth0=0.50 toxe=2.6e-9
.ends nfet
"""

DECK = """\
* binned family deck
.include "{lib}"
.param wn=0.5
Vd d 0 1.2
Vg g 0 0.8
X1 d g 0 0 nfet l=0.15 w={{wn}}
.op
.end
"""


@pytest.fixture()
def deck(tmp_path):
    lib = tmp_path / "family.lib"
    lib.write_text(FAMILY)
    return DECK.format(lib=lib)


def _flat(deck: str) -> str:
    red = reduce_deck(deck, cache=False)
    assert red.reduced, red.reason
    return red.text


def _assert_same(a, b):
    assert a.analysis == b.analysis and sorted(a.vectors) == sorted(b.vectors)
    for k in a.vectors:
        assert np.array_equal(np.asarray(a.vectors[k]), np.asarray(b.vectors[k])), k


# ------------------------------------------------------------------ expressions

@pytest.mark.parametrize("text, value", [
    ("1.5u", 1.5e-6), ("2meg", 2e6), ("3mil", 3 * 25.4e-6), ("10kOhm", 1e4), ("{1+2*3}", 7.0),
    ("2^3^2", 512.0), ("2**3", 8.0), ("-2^2", -4.0), ("(1+2)*3", 9.0), ("7 % 4", 3.0),
    ("1 < 2 ? 10 : 20", 10.0), ("1 == 2 || 3 >= 3", 1.0), ("!0 && 1", 1.0),
    ("sqrt(16)+max(1,2,3)+abs(-1)", 8.0), ("ternary_fcn(0, 1, 2)", 2.0), ("pi", math.pi),
    ("'w*2'", 4.0), ("W/2", 1.0),
])
def test_expressions_evaluate_as_numparam_does(text, value):
    assert evaluate(text, {"w": 2.0}) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["agauss(0,1,3)", "nosuch + 1", "1/0", "sqrt(-1)", "1 +", "2x3", "f(1)"])
def test_what_cannot_be_evaluated_raises_instead_of_guessing(text):
    with pytest.raises(Unevaluable):
        evaluate(text, {})


# ------------------------------------------------------------------ choosing bins

def test_each_width_keeps_the_bin_it_falls_in(deck):
    d = BinDeck(_flat(deck))
    assert [len(f.bins) for f in d.families] == [3]
    key = lambda w: dict(d.select({"wn": w})).get("nfet/nmod")  # noqa: E731
    assert key(0.5) == (0,)
    assert key(3) == (1,)
    assert key(50) == (2,)
    assert key(1.0) == (0, 1)          # on a shared edge: both, in deck order
    assert key(5.0) == (1, 2)
    assert key(1.0 + 1e-4) == (0, 1)   # ngspice's edges are inclusive to 1e-9 m, here 1e-10 m away
    assert key(1.01) == (1,)
    assert d.select({"wn": 0.01}) == ()  # no bin fits: the family stays whole, ngspice reports it


def test_nf_is_read_both_ways(deck):
    # ngspice divides W by nf only under wnflag (or in HSPICE/Spectre mode): both readings are kept
    text = _flat(deck).replace("l=0.15 w={wn}", "l=0.15 w={wn} nf=4")
    assert dict(BinDeck(text).select({"wn": 8})) == {"nfet/nmod": (1, 2)}


@pytest.mark.parametrize("change", [
    ("w={wn}", "w={agauss(wn,0.1,3)}"),                  # a random draw
    ("w={wn}", "w={myfunc(wn)}"),                        # a .func this module does not evaluate
    ("wmin=1e-6 wmax=5e-6", "wmin=1e-6 wmax=6e-6"),      # bins 2 and 3 overlap
    ("lmin=1e-7 lmax=1e-6 wmin=5e-6", "lmin={1e-7} lmax=1e-6 wmin=5e-6"),  # a range that is not a number
])
def test_a_family_it_cannot_follow_is_kept_whole(deck, change):
    text = _flat(deck).replace(*change)
    d = bin_deck(text)
    assert d is None or d.select({"wn": 3}) == ()


def test_keys_merge_and_cover():
    a = (("f", (0,)), ("g", (1,)))
    b = (("f", (2,)),)
    assert merge_keys(a, b) == (("f", (0, 2)),)      # g kept whole by b: whole
    assert covers((("f", (0, 2)),), (("f", (2,)), ("g", (1,))))
    assert not covers((("f", (0,)),), (("f", (2,)),))
    assert not covers((("f", (0,)),), ())             # needed whole, loaded cut


# ------------------------------------------------------------------ in ngspice

@requires_ngspice
def test_a_sweep_across_bin_edges_is_bit_identical_to_the_whole_deck(deck):
    widths = [0.5, 0.9, 1.0, 1.0 + 1e-4, 1.01, 3.0, 5.0, 6.0, 50.0, 0.5, 2.0]
    cut = Session(prune_bins=True)
    got = [cut.run(deck, {"wn": w}) for w in widths]
    assert cut.loads < len(widths)                 # most points re-use the loaded text
    whole = Session(reduce=False)
    for w, g in zip(widths, got, strict=True):
        ref = whole.run(deck, {"wn": w})
        _assert_same(g, ref)
        _assert_same(g, run_batch(deck.replace(".param wn=0.5", f".param wn={w!r}")))
    currents = [-g["i(vd)"][0] for g in got]
    # the three thresholds: the current per width falls from bin to bin (0.40, 0.45, 0.50 V)
    assert currents[0] / 0.5 > currents[5] / 3.0 > currents[8] / 50.0


@requires_ngspice
def test_the_loaded_text_holds_only_the_kept_bins(deck):
    s = Session(prune_bins=True)
    s.run(deck, {"wn": 3.0})
    assert s._ng.bin_key == (("nfet/nmod", (0, 1)),)   # the deck's own 0.5 and the run's 3.0
    text = bin_deck(_flat(deck)).text_for(s._ng.bin_key)
    assert ".model nmod.2" in text and ".model nmod.3" not in text


@requires_ngspice
def test_when_ngspice_disagrees_with_the_cut_the_deck_is_loaded_whole(deck, monkeypatch):
    # a cut that keeps the wrong bin: ngspice finds no bin for the transistor
    monkeypatch.setattr(BinDeck, "select", lambda self, overrides=None: (("nfet/nmod", (2,)),))
    bins_mod._memo.clear()
    s = Session(prune_bins=True)
    got = s.run(deck, {"wn": 0.5})
    _assert_same(got, Session(reduce=False).run(deck, {"wn": 0.5}))
    assert s._ng.bins is None
    assert bin_deck(_flat(deck)).disabled
    bins_mod._memo.clear()


@requires_ngspice
@requires_sky130
def test_sky130_width_sweep_across_bins_is_bit_identical():
    net = str(generate("inverter", {"n_stages": 1, "n_steps": 250}, pdk="sky130")[2])
    widths = [0.42e-6, 0.64e-6, 0.65e-6, 1e-6, 1.26e-6, 1.65e-6, 3e-6, 7e-6, 1e-6]
    cut, whole = Session(prune_bins=True), Session(prune_bins=False)
    got = [cut.run(net, {"wn": w}) for w in widths]
    for w, g in zip(widths, got, strict=True):
        _assert_same(g, whole.run(net, {"wn": w}))
    d = bin_deck(reduce_deck(net).text)
    kept, total = d.count(d.select({"wn": 1e-6}))
    assert total == 96 and kept <= 4
