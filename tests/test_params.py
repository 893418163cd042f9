"""Parameter parsing, formatting and validation: the only path from user text to a netlist."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycircuits.errors import ParameterError
from pycircuits.params import Params, fmt, make_params, param, parse_assignments, parse_number, specs


@pytest.mark.parametrize("text,value", [
    ("10k", 1e4), ("1meg", 1e6), ("1MEG", 1e6), ("2.5p", 2.5e-12), ("1e-12", 1e-12), ("3", 3.0),
    ("-4.7u", -4.7e-6), (".5n", 0.5e-9), ("1m", 1e-3), ("2g", 2e9), ("1t", 1e12), ("7f", 7e-15),
    ("+1.5E3", 1500.0),
])
def test_parse_number_accepts_spice_suffixes(text, value):
    assert parse_number(text) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", [
    "1k\n.control\nshell touch /tmp/x", ".control", "shell rm -rf /", ".include /etc/passwd",
    "1k; shell ls", "{r}", "1kOhm", "abc", "", " ", "1e", "nan", "inf", "1k 2k", "1\r", "1\x00",
    "v(out)", "1e999", "\u0661\u0662", "\uff11k", "1\u00b2",
])
def test_parse_number_refuses_anything_but_a_number(text):
    with pytest.raises(ParameterError):
        parse_number(text, "r")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_fmt_round_trips_every_finite_float_exactly(x):
    assert float(fmt(x)) == x
    assert parse_number(fmt(x)) == x


@pytest.mark.parametrize("bad", [math.nan, math.inf, "1k", None, [1.0]])
def test_fmt_refuses_non_numbers(bad):
    with pytest.raises(ParameterError):
        fmt(bad)


@dataclass(frozen=True)
class _Demo(Params):
    n: int = param(2, "", "count", min=1, max=8)
    r: float = param(1e3, "Ohm", "resistance", min=0.0, min_exclusive=True)
    rs: tuple = param((1e3, 2e3), "Ohm", "per element", min=0.0, min_exclusive=True, length_of="n")
    mode: str = param("a", "", "mode", choices=("a", "b"))


def test_make_params_parses_text_and_checks_ranges_lengths_and_choices():
    p = make_params(_Demo, {"r": "10k", "n": "3", "rs": "1k,2k,4.7k", "mode": "b"})
    assert (p.r, p.n, p.rs, p.mode) == (1e4, 3, (1e3, 2e3, 4.7e3), "b")
    for bad in ({"r": "-1"}, {"r": "0"}, {"n": "2.5"}, {"n": "9"}, {"rs": "1k,2k,3k"},
                {"mode": "c"}, {"zz": "1"}, {"rs": "1k,\n.control"}):
        with pytest.raises(ParameterError):
            make_params(_Demo, bad)


def test_specs_carry_unit_default_range_and_doc():
    by_name = {s.name: s for s in specs(_Demo)}
    assert by_name["r"].unit == "Ohm" and by_name["r"].default == 1e3
    assert by_name["r"].range_text() == "(0, inf]"
    assert by_name["rs"].kind == "floats" and by_name["mode"].kind == "choice"


def test_parse_assignments_refuses_malformed_pairs():
    assert parse_assignments(["r=1k", "c = 2p"]) == {"r": "1k", "c": " 2p"}
    for bad in ["r", "=1", "r.x=1", "1r=2", "r\n.control=1"]:
        with pytest.raises(ParameterError):
            parse_assignments([bad])


def test_path_parameters_are_checked_files_and_listed_as_file_paths(tmp_path):
    from dataclasses import dataclass

    from pycircuits.errors import ParameterError
    from pycircuits.params import Params, path_param, specs

    @dataclass(frozen=True)
    class WithFile(Params):
        data: str = path_param("a data file")

    (tmp_path / "x.npy").write_bytes(b"")
    assert WithFile().data == "" and WithFile(data=str(tmp_path / "x.npy")).data == str(tmp_path / "x.npy")
    assert specs(WithFile)[0].range_text() == "file path"
    with pytest.raises(ParameterError, match="not found"):
        WithFile(data=str(tmp_path / "missing.npy"))
    with pytest.raises(ParameterError, match="not a usable file path"):
        WithFile(data=f"{tmp_path}/x.npy\n.control")


def test_integer_parameters_parse_as_integers_and_refusals_show_exact_numbers():
    @dataclass(frozen=True)
    class P(Params):
        seed: int = param(0, "", "a seed", min=0, max=2**62)
        n: int = param(10, "", "steps", min=10, max=10_000_000)

    assert make_params(P, {"seed": str(2**62)}).seed == 2**62
    assert make_params(P, {"seed": 2**62 - 1}).seed == 2**62 - 1
    with pytest.raises(ParameterError, match=r"seed=4611686018427387905 is out of range \[0, 4611686018427387904\]"):
        make_params(P, {"seed": str(2**62 + 1)})  # not rounded to 2**62 through a float
    with pytest.raises(ParameterError, match=r"n=10000001 is out of range \[10, 10000000\]"):
        make_params(P, {"n": "10000001"})


def test_m_and_f_suffixes_warn_where_mega_or_farads_fit_the_range():
    import warnings

    from pycircuits.params import SuffixWarning

    @dataclass(frozen=True)
    class P(Params):
        r: float = param(1e3, "Ohm", "a resistor", min=0.0, min_exclusive=True, max=1e12)
        c: float = param(1e-9, "F", "a capacitor", min=0.0, min_exclusive=True, max=1.0)
        v: float = param(1.0, "V", "a supply", min=0.0, max=100.0)

    with pytest.warns(SuffixWarning, match=r"r=10M reads as 0.01 \(milli, as in SPICE\), not 1e\+07"):
        assert make_params(P, {"r": "10M"}).r == pytest.approx(0.01)
    with pytest.warns(SuffixWarning, match=r"c=1F reads as 1e-15 \(femto"):
        make_params(P, {"c": "1F"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_params(P, {"r": "10meg", "c": "1f", "v": "5M"})  # meg is mega; 5 MV is out of range anyway
