"""A designer's own deck, read as text: its parameters, analyses, measures, corners, control block.

:func:`parse_deck` reads what a circuit designer wrote -- ``.param`` and
``.params`` cards in any case, several assignments on one card, values in
braces or quotes, ``+`` continuation lines, ``$`` and ``;`` comments, and
commas between assignments (HSPICE's form, on which ngspice 39 hangs) -- and
returns a :class:`DeckInfo` whose ``text`` is the same deck with every
top-level assignment on a line of its own (``.param NAME=VALUE``), which is
the form :mod:`pycircuits.spice.deck` sets, blanks and re-runs with
``alterparam``.  Only top-level cards are rewritten: ``.param`` lines inside a
``.subckt`` (the subcircuit's own parameters) and everything inside a
``.control`` block are left as written.  ``.func`` definitions stay
definitions.

Relative ``.lib``/``.include`` paths become absolute against ``base`` (the
deck's folder), as ngspice resolves them.  Nothing here loads ngspice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError, UsageError
from ..params import fmt, parse_number
from .deck import absolutize_includes, model_references

DECK_SUFFIXES = (".cir", ".sp", ".spice", ".net", ".ckt", ".spi")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ASSIGN = re.compile(rf"\s*({_NAME})\s*=\s*")
_CARD = re.compile(r"^\s*\.(params?)\b", re.IGNORECASE)
_MEAS = re.compile(r"^\s*\.meas(?:ure)?\s+(\w+)\s+(\w+)", re.IGNORECASE)
_ANALYSIS = re.compile(r"^\s*\.(tran|ac|dc|op|noise|tf|sens|pz|disto|sp)\b", re.IGNORECASE)
_SECTION = re.compile(r"^\s*\.lib\s+(\w+)\s*$", re.IGNORECASE | re.MULTILINE)
# an ngspice number as a designer writes it: 1k, 2.5p, 1e-9, 1kohm, 10uF (letters after the scale are ignored)
_LOOSE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(meg|[fpnumkgt])?[a-z]*$",
                    re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class DeckParam:
    """One top-level parameter: its name (lower case, as ngspice keeps it), value text, number."""

    name: str
    text: str  # the value as written, braces and quotes removed
    value: float | None  # None: defined by an expression (derived)
    line: int  # 1-based line of the deck where it is defined


@dataclass(frozen=True)
class CornerLib:
    """A ``.lib FILE SECTION`` line whose file has sections: a corner library."""

    path: str
    section: str  # the section the deck selects
    sections: tuple[str, ...]  # the sections the file defines


@dataclass(frozen=True)
class DeckInfo:
    """What a deck declares, and its normalised text (see the module notes)."""

    text: str
    params: tuple[DeckParam, ...]
    analyses: tuple[str, ...]  # the analysis cards as written (".tran 10n 20u")
    measures: tuple[tuple[str, str], ...]  # (name, analysis) of every top-level .meas
    control: tuple[int, int] | None  # first and last line of a .control block
    corner_libs: tuple[CornerLib, ...]
    title: str

    @property
    def corners(self) -> tuple[str, ...]:
        """Corners every corner library of the deck offers (empty without one)."""
        if not self.corner_libs:
            return ()
        common = [s for s in self.corner_libs[0].sections
                  if all(s in lib.sections for lib in self.corner_libs[1:])]
        return tuple(common)

    @property
    def corner(self) -> str:
        """The corner the deck selects as written ('' without a corner library)."""
        return self.corner_libs[0].section if self.corner_libs else ""

    def param(self, name: str) -> DeckParam:
        """The parameter ``name`` (any case); :class:`ParameterError` listing them otherwise."""
        for p in self.params:
            if p.name == name.lower():
                return p
        raise ParameterError(f"unknown parameter {name}; the deck's parameters: "
                             f"{', '.join(p.name for p in self.params) or '(none)'}")


def deck_number(text: str) -> float | None:
    """The number a literal parameter value means to ngspice (``1k``, ``{2.5p}``, ``10uF``), else None."""
    s = text.strip()
    if len(s) >= 2 and s[0] + s[-1] in ("{}", "''", '""'):
        s = s[1:-1].strip()
    m = _LOOSE.match(s)
    if m is None:
        return None
    try:
        return parse_number(m[1] + (m[2] or ""))
    except ParameterError:
        return None


def _strip_comment(line: str) -> str:
    """The card without a trailing ``$ ...`` or ``; ...`` comment (outside braces and quotes)."""
    depth, quote = 0, ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif depth == 0 and ch == ";":
            return line[:i]
        elif depth == 0 and ch == "$" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _values(body: str, line: int) -> list[tuple[str, str]]:
    """``(name, value text)`` of each assignment of a ``.param`` card body."""
    out, pos = [], 0
    body = body.rstrip()
    while pos < len(body):
        if not body[pos:].strip():
            break
        m = _ASSIGN.match(body, pos)
        if m is None:
            raise UsageError(f"deck line {line}: cannot read the .param card at {body[pos:pos + 40].strip()!r}")
        name, pos = m[1], m.end()
        if pos >= len(body):
            raise UsageError(f"deck line {line}: .param {name}= has no value")
        start = pos
        if body[pos] in "'\"":
            end = body.find(body[pos], pos + 1)
            if end < 0:
                raise UsageError(f"deck line {line}: .param {name}: unclosed {body[start]}")
            pos = end + 1
        elif body[pos] == "{":
            depth = 0
            while pos < len(body):
                depth += {"{": 1, "}": -1}.get(body[pos], 0)
                pos += 1
                if depth == 0:
                    break
            if depth:
                raise UsageError(f"deck line {line}: .param {name}: unclosed {{")
        else:  # a bare value ends at a blank or a comma outside parentheses
            depth = 0
            while pos < len(body) and not (depth == 0 and (body[pos].isspace() or body[pos] == ",")):
                depth += {"(": 1, ")": -1}.get(body[pos], 0)
                pos += 1
        out.append((name.lower(), body[start:pos]))
        while pos < len(body) and (body[pos].isspace() or body[pos] == ","):
            pos += 1
    return out


def _value_line(name: str, text: str) -> tuple[str, float | None, str]:
    """(normalised card, number or None, value text without delimiters) of one assignment."""
    number = deck_number(text)
    inner = text[1:-1].strip() if len(text) >= 2 and text[0] in "{'\"" else text
    if number is not None:
        return f".param {name}={fmt(number)}", number, inner
    return f".param {name}={{{inner}}}", None, inner


def _logical_lines(lines: list[str]) -> list[tuple[int, int, str]]:
    """(first line, last line, text) of each card, ``+`` continuations joined (0-based lines)."""
    out: list[tuple[int, int, str]] = []
    for i, raw in enumerate(lines):
        stripped = raw.lstrip()
        if stripped.startswith("+") and out and i > 0:
            first, _, text = out[-1]
            out[-1] = (first, i, text + " " + stripped[1:])
        else:
            out.append((i, i, raw))
    return out


def parse_deck(text: str, base: Path | None = None) -> DeckInfo:
    """Read a deck (see the module notes); ``base`` is the folder relative paths are resolved in."""
    lines = text.splitlines()
    if not lines:
        raise UsageError("the deck is empty")
    title = lines[0].strip()
    cards = _logical_lines(lines[1:])
    out_lines: list[str] = [lines[0]]
    params: dict[str, DeckParam] = {}
    analyses: list[str] = []
    measures: list[tuple[str, str]] = []
    control: tuple[int, int] | None = None
    subckt_depth = 0
    in_control = False
    for first, last, card in cards:
        lineno = first + 2  # 1-based, after the title
        raw = [lines[k + 1] for k in range(first, last + 1)]
        word = card.strip().split(None, 1)[0].lower() if card.strip() else ""
        if in_control:
            out_lines.extend(raw)
            if word == ".endc":
                in_control = False
                control = (control[0], last + 2) if control else (lineno, last + 2)
            continue
        if word == ".control":
            in_control = True
            control = (lineno, lineno)
            out_lines.extend(raw)
            continue
        if word in (".subckt", ".macro"):
            subckt_depth += 1
        elif word in (".ends", ".eom") and subckt_depth:
            subckt_depth -= 1
        if subckt_depth == 0 and _CARD.match(card):
            body = _strip_comment(_CARD.sub("", card, count=1))
            if re.match(rf"\s*{_NAME}\s*\(", body):  # `.param f(x)=...` is a function: kept as written
                out_lines.extend(raw)
                continue
            for name, value in _values(body, lineno):
                norm, number, inner = _value_line(name, value)
                params.pop(name, None)  # a later definition wins, as in ngspice
                params[name] = DeckParam(name, inner, number, lineno)
                out_lines.append(norm)
            continue
        if subckt_depth == 0:
            m = _MEAS.match(card)
            if m:
                measures.append((m[2].lower(), m[1].lower()))
            elif _ANALYSIS.match(card):
                analyses.append(" ".join(_strip_comment(card).split()))
        out_lines.extend(raw)
    if in_control:
        raise UsageError(f"deck line {control[0] if control else '?'}: .control without .endc")
    normal = "\n".join(out_lines) + "\n"
    if base is not None:
        normal = absolutize_includes(normal, base)
    return DeckInfo(text=normal, params=tuple(params.values()), analyses=tuple(analyses),
                    measures=tuple(measures), control=control, corner_libs=_corner_libs(normal),
                    title=title)


_sections_memo: dict[tuple[str, float, int], tuple[str, ...]] = {}


def library_sections(path: str) -> tuple[str, ...]:
    """The corner sections a library file defines: its ``.lib SECTION`` blocks (empty if none or unreadable).

    A section the file's own sections call (``.lib generic130.lib models``
    inside ``tt``) is a part of the corners, not a corner, and is left out.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return ()
    key = (str(p), st.st_mtime, st.st_size)
    if key not in _sections_memo:
        try:
            text = p.read_text(errors="replace")
        except OSError:
            return ()
        called = {rest.split()[0].lower() for kw, ref, rest in model_references(text)
                  if kw == "lib" and rest and Path(ref).name == p.name}
        _sections_memo[key] = tuple(s for s in dict.fromkeys(m[1].lower() for m in _SECTION.finditer(text))
                                    if s not in called)
    return _sections_memo[key]


def _corner_libs(text: str) -> tuple[CornerLib, ...]:
    out = []
    for keyword, path, rest in model_references(text):
        if keyword != "lib" or not rest:
            continue
        section = rest.split()[0].lower()
        sections = library_sections(path)
        if len(sections) > 1 and section in sections:
            out.append(CornerLib(path, section, sections))
    return tuple(out)


def select_corner(info: DeckInfo, corner: str) -> str:
    """The deck's text with every corner library switched to section ``corner``."""
    if not corner or corner == info.corner:
        return info.text
    if not info.corner_libs:
        raise UsageError(f"corner {corner}: the deck selects no corner (no .lib FILE SECTION line "
                         "of a sectioned library)")
    if corner not in info.corners:
        raise UsageError(f"the deck's corner library has no corner {corner!r}; choose from "
                         f"{', '.join(info.corners)}")
    paths = {lib.path for lib in info.corner_libs}
    line = re.compile(r'^([ \t]*\.lib[ \t]+"?([^"\s]+)"?[ \t]+)(\w+)([^\n]*)$', re.IGNORECASE | re.MULTILINE)

    def repl(m: re.Match) -> str:
        return f"{m[1]}{corner}{m[4]}" if m[2] in paths and m[3].lower() in info.corners else m[0]
    return line.sub(repl, info.text)
