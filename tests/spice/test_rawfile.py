"""The raw-file reader against ngspice's own text output; corrupt files give clear errors."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycircuits.errors import FileFormatError
from pycircuits.spice.rawfile import parse_raw, read_raw

from marks import requires_ngspice

pytestmark = requires_ngspice

DECK = """* raw reader reference
V1 in 0 PULSE(0 1 0 1n 1n 5u 10u)
R1 in out 1k
C1 out 0 1n
L1 out mid 1m
R2 mid 0 50
{analysis}
.control
run
set wr_singlescale
set numdgt=15
wrdata {d}/cols.txt {vecs}
set filetype=ascii
write {d}/ascii.raw
set filetype=binary
write {d}/binary.raw
.endc
.end
"""


def _run(tmp_path, analysis: str, vecs: str):
    deck = tmp_path / "deck.cir"
    deck.write_text(DECK.format(analysis=analysis, d=tmp_path, vecs=vecs))
    # ngspice -b exits 1 here ("no .plot lines") although the .control block ran.
    subprocess.run(["ngspice", "-b", str(deck)], capture_output=True, timeout=60)
    assert (tmp_path / "binary.raw").is_file() and (tmp_path / "cols.txt").is_file()
    return tmp_path


@pytest.fixture(scope="module")
def tran_files(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("tran"), ".tran 10n 20u", "v(out) v(mid) i(v1)")


@pytest.fixture(scope="module")
def ac_files(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("ac"), ".ac dec 10 1k 10meg", "v(out) v(mid)")


def test_binary_and_ascii_raw_agree_with_ngspice_text_columns(tran_files):
    cols = np.loadtxt(tran_files / "cols.txt")
    for name in ("binary.raw", "ascii.raw"):
        (plot,) = read_raw(tran_files / name)
        assert plot.names[0] == "time" and set(plot.names) >= {"v(out)", "v(mid)", "i(v1)"}
        vec = plot.vectors()
        np.testing.assert_allclose(vec["time"], cols[:, 0], rtol=1e-12, atol=1e-21)
        for k, name_ in enumerate(["v(out)", "v(mid)", "i(v1)"], start=1):
            np.testing.assert_allclose(vec[name_], cols[:, k], rtol=1e-9, atol=1e-15)


def test_complex_ac_raw_in_binary_and_ascii_agree(ac_files):
    (b,) = read_raw(ac_files / "binary.raw")
    (a,) = read_raw(ac_files / "ascii.raw")
    assert b.complex and a.complex
    cols = np.loadtxt(ac_files / "cols.txt")  # frequency, re, im per vector
    vb = b.vectors()
    np.testing.assert_allclose(vb["frequency"].real, cols[:, 0], rtol=1e-12)
    np.testing.assert_allclose(vb["v(out)"], cols[:, 1] + 1j * cols[:, 2], rtol=1e-9, atol=1e-15)
    for name in b.names:
        np.testing.assert_allclose(a.vectors()[name], vb[name], rtol=1e-12, atol=1e-18)


def test_truncated_binary_raw_is_refused_with_a_clear_message(tran_files):
    blob = (tran_files / "binary.raw").read_bytes()
    with pytest.raises(FileFormatError, match="truncated"):
        parse_raw(blob[:-9], "cut.raw")


def test_garbage_is_not_a_raw_file():
    with pytest.raises(FileFormatError, match="not an ngspice raw file"):
        parse_raw(b"\x00\x01hello", "junk.raw")


def test_missing_file_is_a_file_format_error(tmp_path):
    with pytest.raises(FileFormatError, match="cannot read"):
        read_raw(tmp_path / "nope.raw")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10**6), which=st.sampled_from(["binary.raw", "ascii.raw"]))
def test_any_truncation_gives_an_error_or_the_full_data(tran_files, cut, which):
    blob = (tran_files / which).read_bytes()
    full = parse_raw(blob)
    cut = cut % (len(blob) + 1)
    try:
        plots = parse_raw(blob[:cut])
    except FileFormatError:
        return
    # Only a cut in trailing whitespace may parse, and then it must be the whole data.
    np.testing.assert_array_equal(plots[0].data, full[0].data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0, max_value=10**6), byte=st.integers(min_value=0, max_value=255),
       which=st.sampled_from(["binary.raw", "ascii.raw"]))
def test_corrupted_bytes_never_crash_the_reader(tran_files, pos, byte, which):
    blob = bytearray((tran_files / which).read_bytes())
    pos = pos % len(blob)
    blob[pos] = byte
    try:
        plots = parse_raw(bytes(blob))
    except FileFormatError as exc:
        assert "\n" not in str(exc)
        return
    for p in plots:  # whatever parsed is self-consistent with its header
        assert p.data.shape[0] == len(p.names)
        assert np.all(np.isfinite(p.data))


def test_an_ascii_number_corrupted_to_overflow_is_refused(tran_files):
    import re

    blob = (tran_files / "ascii.raw").read_bytes()
    values = blob.index(b"Values:")
    match = re.compile(rb"[1-9]\.\d+(e[-+]\d\d)").search(blob, values)  # a nonzero value's exponent
    assert match is not None
    bad = blob[:match.start(1)] + b"e+905" + blob[match.end(1):]  # overflows to inf
    with pytest.raises(FileFormatError, match="non-finite number"):
        parse_raw(bad)
