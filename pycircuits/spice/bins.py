"""Binned MOS model families cut down to the bins the circuit's transistors take.

A PDK describes each transistor flavour as a family of binned models,
``.model NAME.1`` ... ``.model NAME.N``, each valid on a rectangle of
drawn length and width (``lmin <= L <= lmax``, ``wmin <= W <= wmax``).
ngspice picks a transistor's bin when it parses the deck
(``INPgetModBin``: the first bin of the family, in deck order, whose
rectangle holds the instance's ``l`` and ``w``, each times ``.option scale``,
``w`` divided by ``nf`` where ``wnflag`` asks for it; bounds are inclusive to
1e-9).  The bins no transistor takes are parsed all the same, at the load and
at every ``reset``: sky130's ``nfet_01v8`` and ``pfet_01v8`` are 96 bins of
some 300 parameters, 571 kB of text, for an inverter's two transistors.

:class:`BinDeck` reads a flat deck (its libraries already inlined by
:mod:`pycircuits.spice.reduce`), follows the subcircuit calls from the top
level down, evaluates every transistor's ``l``, ``w`` and ``nf`` at given
``.param`` values (:mod:`pycircuits.spice.expr`) and keeps, of each family,
the bins that hold one of them, within a margin of 1e-9 plus a millionth
of the value, and with both readings of ``nf``.  Bins stay in their order,
so among the kept bins ngspice takes the one it takes among all of them:
the result is bit-identical (tests/spice/test_bins.py sweeps across bin
boundaries against the whole deck).

A family is kept whole when anything about it cannot be read: a range that
is not a number, a transistor whose geometry has an expression this module
cannot evaluate (a random function, an unknown name), a family whose bins
overlap beyond their shared edges (then the first match in deck order would
depend on bins that were dropped), or no bin that fits (ngspice then
reports the error against every bin).  A deck that still includes files,
sets ``scale`` in a ``.control`` block, or instantiates more than
:data:`MAX_DEVICES` transistors is not cut at all.

Which bins a deck needs depends on the swept values: :meth:`BinDeck.select`
returns a key of the kept bins, and a session re-loads the deck only when a
new point's key differs from the loaded one (a width sweep crosses a few bin
edges; every other point is an ``alterparam`` + ``reset`` of the small deck).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .expr import Unevaluable, evaluate

MAX_DEVICES = 100_000
_BIN_MODEL = re.compile(r"^\s*\.model\s+(\S+?)\.(\d+)\b", re.IGNORECASE)
_RANGE_KEYS = ("lmin", "lmax", "wmin", "wmax")
_RANGE = {k: re.compile(rf"(?<![\w.]){k}\s*=\s*([^\s{{}}()]+)", re.IGNORECASE) for k in _RANGE_KEYS}
_ASSIGN = re.compile(r"(?<![<>!=\w.])([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
_SCALE = re.compile(r"(?<![\w.])scale\s*=\s*(\S+)", re.IGNORECASE)
_EDGE_TOL = 1e-9   # ngspice's is_equal() on bin bounds (absolute)
_REL_TOL = 1e-6    # our margin on a geometry evaluated in Python


class _Unsupported(Exception):
    """The deck is not cut (see the module notes)."""


@dataclass
class _Bin:
    lines: tuple[int, ...]                 # physical line numbers of the card
    lmin: float
    lmax: float
    wmin: float
    wmax: float


@dataclass
class _Family:
    key: str                               # "subckt/name" (top level: "/name")
    bins: list[_Bin] = field(default_factory=list)
    whole: bool = False                    # keep every bin, always


@dataclass
class SubcktDef:
    """The top level or one subcircuit definition."""

    name: str
    parent: SubcktDef | None = None
    ports: tuple[str, ...] = ()
    defaults: dict[str, str] = field(default_factory=dict)      # header params, then body .param
    devices: list[tuple[str, dict[str, str]]] = field(default_factory=list)   # (model word, assigns)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)     # (subckt name, assigns)
    families: dict[str, _Family] = field(default_factory=dict)


_INLINE_COMMENT = re.compile(r"\s(?:;|\$\s).*$|^;.*$")


def _cards(lines: list[str]) -> list[tuple[str, tuple[int, ...]]]:
    """Logical cards (continuations joined, ``; ...`` and `` $ ...`` comments dropped) with their
    physical line numbers; the title line is skipped."""
    out: list[tuple[str, list[int]]] = []
    for i, raw in enumerate(lines):
        if i == 0:
            continue
        s = _INLINE_COMMENT.sub("", raw).strip()
        if not s or s.startswith("*"):
            continue
        if s.startswith("+") and out:
            out[-1][0].append(s[1:])  # type: ignore[union-attr]
            out[-1][1].append(i)
            continue
        out.append(([s], [i]))  # type: ignore[arg-type]
    return [(" ".join(parts), tuple(idx)) for parts, idx in out]  # type: ignore[misc]


def _depths(text: str) -> list[int]:
    """Brace/quote nesting depth before each character."""
    out, depth, quote = [], 0, False
    for ch in text:
        out.append(depth + quote)
        if ch == "'":
            quote = not quote
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
    return out


def split_card(text: str) -> tuple[list[str], dict[str, str]]:
    """A card's leading words (name, nodes, model...) and its ``name=value`` assignments, in order."""
    depth = _depths(text)
    marks = [m for m in _ASSIGN.finditer(text) if depth[m.start()] == 0]
    head = text[:marks[0].start()] if marks else text
    assigns: dict[str, str] = {}
    for k, m in enumerate(marks):
        end = marks[k + 1].start() if k + 1 < len(marks) else len(text)
        assigns[m[1].lower()] = text[m.end():end].strip()
    words = [w for w in re.findall(r"\{[^{}]*\}|'[^']*'|[^\s(),]+", head) if w.lower() != "params:"]
    return words, assigns


def _number(text: str) -> float:
    return evaluate(text, {})


class BinDeck:
    """A flat deck's binned families and the transistors that use them (see the module notes)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.top = SubcktDef("")
        self.defs: dict[str, SubcktDef] = {}
        self.scale = 1.0
        self.disabled = False                      # set by a session when ngspice disagreed
        self._texts: dict[tuple, str] = {}
        self._parse()
        self.families = [f for d in [self.top, *self.defs.values()] for f in d.families.values()]
        for fam in self.families:
            fam.whole = fam.whole or _overlapping(fam.bins)

    @property
    def prunable(self) -> bool:
        """Whether some family can lose bins at all."""
        return not self.disabled and any(not f.whole and len(f.bins) > 1 for f in self.families)

    # ------------------------------------------------------------ reading
    def _parse(self) -> None:
        stack = [self.top]
        control = False
        for card, idx in _cards(self.lines):
            low = card.lower()
            word = low.split()[0]
            if control:
                control = word != ".endc"
                if re.search(r"\bscale\b", low):
                    raise _Unsupported("scale set in a .control block")
                continue
            cur = stack[-1]
            if word == ".control":
                control = True
            elif word in (".lib", ".include", ".inc"):
                raise _Unsupported("the deck still includes files")
            elif word == ".subckt":
                words, assigns = split_card(card)
                if len(words) < 2:
                    raise _Unsupported(f"bad card {card[:40]!r}")
                name = words[1].lower()
                if name in self.defs:
                    raise _Unsupported(f"subcircuit {name} defined twice")
                new = SubcktDef(name, parent=cur, ports=tuple(w.lower() for w in words[2:]), defaults=dict(assigns))
                self.defs[name] = new
                stack.append(new)
            elif word == ".ends":
                if len(stack) > 1:
                    stack.pop()
            elif word in (".param", ".params"):
                cur.defaults.update(split_card(card)[1])
            elif word in (".option", ".options", ".opt", ".opts"):
                m = _SCALE.search(card)
                if m:
                    try:
                        self.scale = _number(m[1])
                    except Unevaluable:
                        raise _Unsupported(f"scale {m[1]!r}") from None
            elif word == ".model":
                self._model(cur, card, idx)
            elif word[0] == "m":
                words, assigns = split_card(card)
                cur.devices.append((" ".join(words[1:]).lower(), assigns))
            elif word[0] == "x":
                words, assigns = split_card(card)
                if len(words) >= 2:
                    cur.calls.append((words[-1].lower(), assigns))

    def _model(self, cur: SubcktDef, card: str, idx: tuple[int, ...]) -> None:
        m = _BIN_MODEL.match(card)
        if m is None:
            return
        name = m[1].lower()
        fam = cur.families.setdefault(name, _Family(f"{cur.name}/{name}"))
        try:
            lo_hi = []
            for k in _RANGE_KEYS:
                r = _RANGE[k].search(card)
                if r is None:
                    raise Unevaluable(f"no {k}")
                lo_hi.append(_number(r[1]))
            fam.bins.append(_Bin(idx, *lo_hi))
        except Unevaluable:
            fam.whole = True
            fam.bins.append(_Bin(idx, 0.0, 0.0, 0.0, 0.0))

    # ------------------------------------------------------------ choosing
    def family_of(self, where: SubcktDef, words: str) -> _Family | None:
        """The family a transistor line names (its words after the device name), looked up from ``where`` out."""
        ws = words.split()
        d: SubcktDef | None = where
        while d is not None:
            for w in reversed(ws):
                if w in d.families:
                    return d.families[w]
            d = d.parent
        if where is not self.top:
            for w in reversed(ws):
                if w in self.top.families:
                    return self.top.families[w]
        return None

    def select(self, overrides: Mapping[str, float] | None = None) -> tuple:
        """Key of the bins kept at these top-level ``.param`` values: ``((family, (bin, ...)), ...)``.

        Families kept whole are left out of the key.  An empty key means
        nothing is cut.
        """
        if not self.prunable:
            return ()
        top = Scope({k: (v, None) for k, v in self.top.defaults.items()}, None)
        for k, v in (overrides or {}).items():
            top.values[k.lower()] = float(v)
        chosen: dict[str, set[int] | None] = {f.key: set() for f in self.families if not f.whole}
        count = [0]
        try:
            self._walk(self.top, top, chosen, count, 0)
        except _Unsupported:
            return ()
        key = []
        for fam in self.families:
            got = chosen.get(fam.key)
            if fam.whole or got is None or not got or len(got) == len(fam.bins):
                continue
            key.append((fam.key, tuple(sorted(got))))
        return tuple(key)

    def _walk(self, d: SubcktDef, scope: Scope, chosen: dict, count: list[int], depth: int) -> None:
        if depth > 50:
            raise _Unsupported("subcircuits nested more than 50 deep")
        for words, assigns in d.devices:
            fam = self.family_of(d, words)
            if fam is None or fam.whole or chosen.get(fam.key) is None:
                continue
            count[0] += 1
            if count[0] > MAX_DEVICES:
                raise _Unsupported("too many transistors")
            try:
                fits = self._fits(fam, assigns, scope)
            except Unevaluable:
                fits = None
            if fits is None or not fits:
                chosen[fam.key] = None   # keep the family whole
            else:
                chosen[fam.key] |= fits
        for name, assigns in d.calls:
            target = self.defs.get(name)
            if target is None:
                continue
            exprs = {k: (v, None) for k, v in target.defaults.items()}
            exprs.update({k: (v, scope) for k, v in assigns.items()})
            self._walk(target, Scope(exprs, scope), chosen, count, depth + 1)

    def _fits(self, fam: _Family, assigns: dict[str, str], scope: Scope) -> set[int] | None:
        if "l" not in assigns or "w" not in assigns:
            return None
        l_m = evaluate(assigns["l"], scope.get) * self.scale
        w_m = evaluate(assigns["w"], scope.get) * self.scale
        widths = {w_m}
        if "nf" in assigns:
            nf = evaluate(assigns["nf"], scope.get)
            if nf:
                widths.add(w_m / nf)
        return {i for i, b in enumerate(fam.bins)
                if _within(l_m, b.lmin, b.lmax) and any(_within(w, b.wmin, b.wmax) for w in widths)}

    def text_for(self, key: tuple) -> str:
        """The deck with the bins outside ``key`` removed (``()``: the deck as it is)."""
        if not key:
            return self.text
        got = self._texts.get(key)
        if got is None:
            drop: set[int] = set()
            kept = dict(key)
            for fam in self.families:
                if fam.key in kept:
                    for i, b in enumerate(fam.bins):
                        if i not in kept[fam.key]:
                            drop.update(b.lines)
            got = "\n".join(ln for i, ln in enumerate(self.lines) if i not in drop)
            if len(self._texts) > 64:
                self._texts.clear()
            self._texts[key] = got
        return got

    def count(self, key: tuple) -> tuple[int, int]:
        """(bins kept, bins in all) under ``key``."""
        total = sum(len(f.bins) for f in self.families)
        kept = dict(key)
        return total - sum(len(f.bins) - len(kept[f.key]) for f in self.families if f.key in kept), total


def merge_keys(a: tuple, b: tuple) -> tuple:
    """The bins two keys keep together (a family kept whole in either is kept whole)."""
    kb = dict(b)
    return tuple((fam, tuple(sorted(set(bins) | set(kb[fam])))) for fam, bins in a if fam in kb)


def covers(loaded: tuple, needed: tuple) -> bool:
    """Whether a text cut to ``loaded`` holds every bin ``needed`` keeps."""
    kn = dict(needed)
    return all(fam in kn and set(kn[fam]) <= set(bins) for fam, bins in loaded)


def _within(x: float, lo: float, hi: float) -> bool:
    tol = _EDGE_TOL + _REL_TOL * abs(x)
    return lo - tol <= x <= hi + tol


def _overlapping(bins: list[_Bin]) -> bool:
    """Whether two bins share more than an edge (then deck order decides, and no bin may go)."""
    for i, a in enumerate(bins):
        for b in bins[i + 1:]:
            if (min(a.lmax, b.lmax) - max(a.lmin, b.lmin) > _EDGE_TOL
                    and min(a.wmax, b.wmax) - max(a.wmin, b.wmin) > _EDGE_TOL):
                return True
    return False


class Scope:
    """Parameter values of one subcircuit instance (or the top level), evaluated on demand.

    ``exprs`` maps a name to its expression and the scope it is evaluated
    in (``None``: this one; a call's own values: the caller's).  Names not
    found here are looked up in the caller, as ngspice's numparam does.
    """

    __slots__ = ("exprs", "parent", "values", "busy", "draw")

    def __init__(self, exprs: dict[str, tuple[str, Scope | None]], parent: Scope | None,
                 draw: float | None = None) -> None:
        self.exprs = exprs
        self.parent = parent
        self.values: dict[str, float] = {}
        self.busy: set[str] = set()
        self.draw = parent.draw if parent is not None else draw  # random functions at this draw (None: refused)

    def get(self, name: str) -> float:
        if name in self.values:
            return self.values[name]
        entry = self.exprs.get(name)
        if entry is None:
            if self.parent is None:
                raise Unevaluable(f"unknown name {name}")
            return self.parent.get(name)
        if name in self.busy:
            raise Unevaluable(f"{name} depends on itself")
        self.busy.add(name)
        try:
            where = entry[1] if entry[1] is not None else self
            value = evaluate(entry[0], where.get, self.draw)
        finally:
            self.busy.discard(name)
        self.values[name] = value
        return value


_memo: dict[str, BinDeck | None] = {}


def bin_deck(text: str) -> BinDeck | None:
    """The :class:`BinDeck` of a flat deck, or ``None`` when it has nothing to cut (memoized by text)."""
    if ".model" not in text.lower():
        return None
    h = hashlib.sha256(text.encode()).hexdigest()
    if h in _memo:
        return _memo[h]
    try:
        deck: BinDeck | None = BinDeck(text)
    except _Unsupported:
        deck = None
    if deck is not None and not deck.prunable:
        deck = None
    if len(_memo) > 32:
        _memo.clear()
    _memo[h] = deck
    return deck
