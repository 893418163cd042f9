"""Deck reduction: the cut-down deck gives the whole deck's results bit for bit, and falls back safely."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest

from pycircuits.circuits import generate, names
from pycircuits.errors import NetlistError
from pycircuits.spice import Session, run_batch
from pycircuits.spice import reduce as red_mod
from pycircuits.spice.reduce import reduce_deck, reduce_text

from marks import requires_ngspice, requires_sky130

MODELS = """\
* a small model library: two diodes, a binned resistor-like family, parameters
.param unused_p = 7
.param is_a = {is_base*2}
.param is_base = 1e-14
.param rs_b = 10
.model da d(is={is_a} n=1.05)
.model db d(is=1e-12 rs={rs_b})
.model rmod.1 r(tc1=0 lmin=0 lmax=1)
.model rmod.2 r(tc1=0 lmin=1 lmax=2)
.subckt clamp a k
d1 a k da
.ends clamp
.subckt unused_sub a k
d1 a k db
.ends unused_sub
"""

DECK = """\
* clamp deck
.include "{lib}"
.param rin=1k
V1 in 0 PULSE(0 2 0 1n 1n 5u 10u)
R1 in a {{rin}}
X1 a 0 clamp
C1 a 0 1n
.tran 10n 20u
.end
"""


def _assert_same(a, b):
    assert a.analysis == b.analysis
    assert sorted(a.vectors) == sorted(b.vectors)
    for k in a.vectors:
        assert np.array_equal(np.asarray(a.vectors[k]), np.asarray(b.vectors[k])), k


@pytest.fixture()
def clamp(tmp_path):
    lib = tmp_path / "models.lib"
    lib.write_text(MODELS)
    return tmp_path, lib, DECK.format(lib=lib)


def test_only_the_used_definitions_are_kept(clamp):
    folder, lib, deck = clamp
    r = reduce_text(deck, folder)
    assert r.reduced, r.reason
    assert r.files == [str(lib.resolve())]
    text = r.text.lower()
    for kept in (".subckt clamp", ".model da", "is_a", "is_base"):
        assert kept in text
    for gone in ("unused_sub", ".model db", "rs_b", "unused_p", "rmod"):
        assert gone not in text
    assert r.kept_cards == 4 and r.removed_cards == 6
    # the deck's own lines stay, in order
    own = [ln for ln in deck.splitlines() if not ln.startswith(".include")]
    got = [ln for ln in r.text.splitlines() if ln in own]
    assert got == own


def test_a_binned_family_is_kept_whole(tmp_path):
    lib = tmp_path / "m.lib"
    lib.write_text(MODELS)
    deck = f".title t\n.include {lib}\nR1 1 0 1k\nR2 1 0 rmod l=1.5 w=1 r=1k\nV1 1 0 1\n.op\n.end\n"
    text = reduce_text(deck, tmp_path).text
    assert ".model rmod.1" in text and ".model rmod.2" in text
    assert ".model da" not in text


@requires_ngspice
def test_clamp_results_are_bit_identical_in_session_and_batch(clamp):
    folder, lib, deck = clamp
    r = reduce_deck(deck, folder, cache=False)
    assert r.reduced
    whole = Session(reduce=False).run(deck, {"rin": 2e3})
    cut = Session(reduce=True).run(deck, {"rin": 2e3})
    _assert_same(whole, cut)
    _assert_same(run_batch(deck), run_batch(r.text))


@requires_ngspice
@pytest.mark.parametrize("name", [n for n in names() if n not in ("rc", "crossbar")])  # no model files to cut
def test_builtin_circuits_are_bit_identical_reduced(name):
    net = str(generate(name)[2])
    r = reduce_deck(net, cache=False)
    assert r.reduced, r.reason
    _assert_same(Session(reduce=False).run(net), Session(reduce=True).run(net))


@requires_ngspice
@requires_sky130
def test_sky130_inverter_reduced_is_bit_identical_and_small():
    net = str(generate("inverter", {"n_stages": 1, "n_steps": 250}, pdk="sky130")[2])
    r = reduce_deck(net, cache=False)
    assert r.reduced, r.reason
    assert len(r.files) > 50            # the PDK's files, followed through its .include tree
    assert r.kept_cards < r.removed_cards / 10
    assert len(r.text) < 0.5 * sum(os.path.getsize(f) for f in r.files)
    for params in ({}, {"wn": 2.3e-6}):
        _assert_same(Session(reduce=False).run(net, params), Session(reduce=True).run(net, params))
    _assert_same(run_batch(net), run_batch(r.text))


def test_relative_includes_resolve_against_the_including_file(tmp_path):
    (tmp_path / "lib" / "sub").mkdir(parents=True)
    (tmp_path / "lib" / "top.lib").write_text(".include sub/inner.lib\n")
    (tmp_path / "lib" / "sub" / "inner.lib").write_text(".include ../../leaf.mod\n")
    (tmp_path / "leaf.mod").write_text(".model dl d(is=1e-15)\n.model dz d(is=2e-15)\n")
    deck = ".title t\n.include lib/top.lib\nD1 1 0 dl\nV1 1 0 0.5\n.op\n.end\n"
    r = reduce_text(deck, tmp_path)
    assert r.reduced, r.reason
    assert len(r.files) == 3
    assert ".model dl" in r.text and "dz" not in r.text


def test_lib_sections_are_followed(tmp_path):
    (tmp_path / "c.lib").write_text(textwrap.dedent("""\
        .lib tt
        .param k=1
        .include m.mod
        .endl
        .lib ff
        .param k=2
        .include m.mod
        .endl
        """))
    (tmp_path / "m.mod").write_text(".model dk d(is={k*1e-15})\n")
    deck = ".title t\n.lib c.lib ff\nD1 1 0 dk\nV1 1 0 0.5\n.op\n.end\n"
    text = reduce_text(deck, tmp_path).text
    assert ".param k=2" in text and ".param k=1" not in text and ".model dk" in text


@pytest.mark.parametrize("lib_text, reason", [
    (".if (1)\n.model da d\n.endif\n", "conditional"),
    (".model da d\n.end\n", ".end inside"),
    (".subckt s a b\n.include x.lib\n.ends\n", "inside a .subckt"),
    (".subckt s a b\nr1 a b 1\n", "no .ends"),
    (".include x.lib\n", "includes itself"),
])
def test_what_it_does_not_take_apart_is_left_whole(tmp_path, lib_text, reason):
    (tmp_path / "x.lib").write_text(lib_text)
    deck = f".title t\n.include {tmp_path / 'x.lib'}\nV1 1 0 1\nR1 1 0 1k\n.op\n.end\n"
    r = reduce_text(deck, tmp_path)
    assert not r.reduced and reason in r.reason
    assert r.text == deck


def test_a_seeded_deck_keeps_removed_random_draws(tmp_path):
    (tmp_path / "x.lib").write_text(".param used=1\n.param drawn={agauss(0,1,3)}\n")
    base = f".title t\n.include {tmp_path / 'x.lib'}\nV1 1 0 {{used}}\nR1 1 0 1k\n.op\n"
    assert reduce_text(base + ".end\n", tmp_path).reduced        # no seed: the draw was unrepeatable anyway
    seeded = reduce_text(base + ".option seed=5\n.end\n", tmp_path)
    assert not seeded.reduced and "random" in seeded.reason
    assert not reduce_text(base + ".control\nset rndseed=3\n.endc\n.end\n", tmp_path).reduced


def test_a_missing_file_is_left_to_ngspice(tmp_path):
    deck = f".title t\n.include {tmp_path / 'nowhere.lib'}\nV1 1 0 1\nR1 1 0 1k\n.op\n.end\n"
    r = reduce_text(deck, tmp_path)
    assert not r.reduced and "cannot read" in r.reason


@requires_ngspice
def test_a_deck_error_is_reported_from_the_whole_deck(clamp):
    folder, lib, deck = clamp
    bad = deck.replace("X1 a 0 clamp", "X1 a 0 clamp\nQ9 a b")
    with pytest.raises(NetlistError):
        Session().run(bad)


def test_the_disk_cache_follows_the_included_files(clamp, tmp_path, monkeypatch):
    folder, lib, deck = clamp
    root = tmp_path / "cache"
    first = reduce_deck(deck, folder, cache=root)
    entries = list(root.rglob("*.json"))
    assert len(entries) == 1
    red_mod._memo.clear()
    calls = []
    monkeypatch.setattr(red_mod, "reduce_text", lambda *a: calls.append(a) or reduce_text(*a))
    again = reduce_deck(deck, folder, cache=root)
    assert again.text == first.text and not calls          # read back from disk
    lib.write_text(MODELS.replace("n=1.05", "n=1.07"))      # same size, new content
    red_mod._memo.clear()
    changed = reduce_deck(deck, folder, cache=root)
    assert "n=1.07" in changed.text and len(calls) == 1
    changed_again = reduce_deck(deck, folder, cache=root)   # in-process memo, still valid
    assert changed_again is changed and len(calls) == 1
    entries[0].write_text("{not json")                      # a corrupt entry is recomputed
    red_mod._memo.clear()
    assert reduce_deck(deck, folder, cache=root).text == changed.text


def test_a_deck_without_includes_is_passed_through():
    deck = ".title t\nV1 1 0 1\nR1 1 0 1k\n.op\n.end\n"
    r = reduce_deck(deck, cache=False)
    assert r.text == deck and not r.reduced
