"""The text of an ngspice deck: its ``.param`` lines, its model references, its analysis names.

Every place that reads or rewrites deck text uses these patterns, so that a
generator, a session re-run, a sweep's structure key, a cache key and a
user's deck all agree on what a ``.param`` line or a ``.lib`` line is.
Pure text handling: nothing here loads ngspice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..params import fmt, parse_number

# `.param NAME=VALUE` alone on its line: the form generators write and `alterparam` re-sets
# (a derived value in braces may hold spaces: `.param tau={r * c}`)
PARAM_LINE = re.compile(r"^(\.param\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*)(\{[^\n]*\}|\S+)[ \t]*$",
                        re.IGNORECASE | re.MULTILINE)
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# `.lib "PATH" [SECTION]`, `.include PATH`, `.inc PATH`, `.hdl PATH` (a Verilog-A model, for VACASK):
# groups (keyword line start, keyword, path, rest of the line)
MODEL_LINE = re.compile(r'^([ \t]*\.(lib|include|inc|hdl)[ \t]+)"?([^"\s]+)"?([^\n]*)$', re.IGNORECASE | re.MULTILINE)
HDL_LINE = re.compile(r'^[ \t]*\.hdl[ \t]', re.IGNORECASE | re.MULTILINE)

# analysis of a plot: session plot names (tran1, op2...) and raw-file plot names ("Transient Analysis")
_ANALYSES = (("dc transfer", "dc"), ("transient", "tran"), ("tran", "tran"), ("dc", "dc"), ("ac", "ac"),
             ("operating", "op"), ("op", "op"), ("noise", "noise"))


def analysis_of(plot_name: str) -> str:
    """Short analysis name (``tran``, ``dc``, ``ac``, ``op``, ``noise``) of a session or raw-file plot name."""
    low = plot_name.lower()
    stem = re.sub(r"\d+$", "", low)
    for key, short in _ANALYSES:
        if stem == key:
            return short
    for key, short in _ANALYSES:  # raw files' names: "Transient Analysis", "DC transfer characteristic"
        if len(key) > 3 and low.startswith(key):
            return short
    return low.split()[0] if low else ""


def numeric_params(netlist: str) -> dict[str, float]:
    """``.param NAME=NUMBER`` lines of a netlist as a dict (expressions are left out)."""
    out = {}
    for m in PARAM_LINE.finditer(netlist):
        try:
            out[m[2]] = parse_number(m[3], m[2])
        except ParameterError:
            continue
    return out


def param_value(netlist: str, name: str) -> float:
    """The value a numeric ``.param NAME=VALUE`` line of the netlist gives; ``KeyError`` when none does."""
    for m in PARAM_LINE.finditer(netlist):
        if m[2].lower() == name.lower():
            return parse_number(m[3], name)
    raise KeyError(f"netlist has no numeric .param {name}")


def blank_param_values(netlist: str) -> str:
    """The netlist with the values of its numeric ``.param`` lines removed (what a re-run can change)."""
    def blank(m: re.Match) -> str:
        try:
            parse_number(m[3], m[2])
        except ParameterError:
            return m[0]
        return m[1]
    return PARAM_LINE.sub(blank, netlist)


def set_params(text: str, values: Mapping[str, Any]) -> str:
    """Replace the values of existing ``.param NAME=VALUE`` lines (numbers only, validated)."""
    for name, raw in values.items():
        value = fmt(parse_number(raw, name))
        found = False

        def repl(m: re.Match, v: str = value, n: str = name) -> str:
            nonlocal found
            if m[2].lower() != n.lower():
                return m[0]
            found = True
            return m[1] + v

        text = PARAM_LINE.sub(repl, text)
        if not found:
            raise ParameterError(f"the netlist has no '.param {name}=...' line to set")
    return text


def check_ngspice_deck(netlist: str) -> None:
    """Refuse, in one line, a deck ngspice cannot run: one that loads a Verilog-A model (``.hdl``)."""
    if HDL_LINE.search(netlist):
        from ..errors import UsageError
        raise UsageError("the deck loads a Verilog-A model (.hdl), which ngspice 39 cannot load (it has no OSDI): "
                         "run it with --backend vacask")


def model_references(text: str) -> Iterator[tuple[str, str, str]]:
    """``(keyword, path, section)`` of every ``.lib``/``.include`` line; a ``.lib SECTION``
    line inside a library (one word, no file) is not a reference and is skipped."""
    for m in MODEL_LINE.finditer(text):
        keyword, path, rest = m[2].lower(), m[3], m[4].strip()
        if keyword == "lib" and not rest:
            continue
        yield keyword, path, rest


def rewrite_model_paths(text: str, new_path: Callable[[str], str | None]) -> str:
    """Replace each model path by ``new_path(path)`` (quoted); ``None`` keeps the line as it is."""
    def repl(m: re.Match) -> str:
        p = new_path(m[3])
        return m[0] if p is None else f'{m[1]}"{p}"{m[4]}'
    return MODEL_LINE.sub(repl, text)


def absolutize_includes(text: str, base: Path) -> str:
    """Make relative ``.lib``/``.include`` paths absolute against ``base``.

    ngspice -b resolves them against the netlist's folder, but a netlist
    loaded into libngspice from memory has no folder: this keeps both alike.
    """
    return rewrite_model_paths(text, lambda p: str(Path(p) if Path(p).is_absolute() else (base / p).resolve()))
