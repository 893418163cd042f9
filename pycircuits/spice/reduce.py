"""A deck's model libraries cut down to what its circuit uses, cached on disk.

A deck that pulls in a PDK hands ngspice far more than its circuit uses: the
sky130 inverter (two transistors) includes 2 MB of model text, 1,653
``.param`` lines and 395 ``.model``/``.subckt`` definitions.  ngspice parses
all of it at the first load *and again at every* ``reset``, which is how a
session re-run applies ``alterparam`` (its ``reset`` re-reads the stored
deck).  :func:`reduce_deck` flattens the deck's ``.lib``/``.include`` files
into one text and keeps, from those files:

* every card that is not a definition (device lines, analyses, ``.option``,
  ``.func``, ``.global``, ``.temp``, ``.control`` blocks...), in order;
* the ``.subckt`` definitions, ``.model`` cards (and their binned family
  ``NAME.1``, ``NAME.2``...) and ``.param`` cards whose names are reachable,
  by identifier, from the kept cards, whole and in their order.

The deck's own lines are all kept.  The removed cards define names that no
kept card reads, so ngspice builds the same circuit and the results are
bit-identical (tests/spice/test_reduce.py checks every vector of the sky130
and generic130 circuits against the full deck, in ngspice's shared library
and in ``ngspice -b``).  Where that argument might not hold, the deck is
left whole: conditional cards (``.if``), an ``.end`` inside an included
file, a file that cannot be read, or a deck that sets a random seed
(``rndseed``, ``.option seed``) while removed cards draw random numbers
(``agauss``... in ``.param``/``.model`` cards, evaluated as ngspice reads
them): removing draws would shift a seeded sequence.  Without a seed,
ngspice seeds its generator from the process id, so such draws already
differ from one run to the next; sky130's draws are all multiplied by its
``MC_*_SWITCH`` parameters, which are 0 outside its ``mc`` sections.

Reduced decks are cached under the user cache folder, keyed by the deck's
text; an entry records every file it read with its size, mtime and SHA-256,
and is used only while each file still has that content.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .deck import MODEL_LINE

_LAYOUT = "reduced-deck-v1"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[^\s=(){},'\"]+")
_PARAM_NAME = re.compile(r"(?<![<>!=\w])([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
_RANDOM = re.compile(r"\b(agauss|gauss|aunif|unif|limit|rand|sgauss|sunif|spoisson|sexp|poisson|exponential|"
                     r"trnoise|trrandom)\s*\(", re.IGNORECASE)
_SEED = re.compile(r"\brndseed\b|^\s*\.options?\b.*\bseed\s*=", re.IGNORECASE | re.MULTILINE)
_BIN = re.compile(r"\.\d+$")


class Unsupported(Exception):
    """The deck uses something the reduction does not take apart; it is left whole."""


@dataclass
class _Card:
    """One logical card: its physical lines (comments dropped) and what it is."""

    lines: list[str]
    kind: str = "keep"              # keep | param | model | subckt
    names: tuple[str, ...] = ()     # names it defines (lower case)
    in_subckt: bool = False
    text: str = ""                  # the card's lines joined, for tokens

    def tokens(self) -> set[str]:
        low = self.text.lower()
        return set(_IDENT.findall(low)) | set(_WORD.findall(low))


@dataclass
class Reduction:
    """The reduced deck, and what went into it."""

    text: str
    files: list[str] = field(default_factory=list)   # every file read, resolved
    kept_cards: int = 0
    removed_cards: int = 0
    reason: str = ""                # why the deck was left whole ("" when reduced)
    signatures: dict[str, list] = field(default_factory=dict, repr=False)  # file -> [size, mtime_ns, sha256]

    @property
    def reduced(self) -> bool:
        return not self.reason


def _logical(lines: list[str]) -> list[list[str]]:
    """Group physical lines into cards: a line and its ``+`` continuations (comments dropped)."""
    cards: list[list[str]] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        s = line.lstrip()
        if not s or s.startswith("*"):
            continue
        if s.startswith("+") and cards:
            cards[-1].append(line)
        else:
            cards.append([line])
    return cards


def _resolve(path: str, folder: Path) -> Path:
    p = Path(os.path.expanduser(path))
    if p.is_absolute():
        return p
    for base in (folder, Path.cwd()):
        if (base / p).is_file():
            return (base / p).resolve()
    return (folder / p)


class _Flattener:
    """Reads a deck's included files into a flat list of classified cards."""

    def __init__(self) -> None:
        self.files: dict[str, None] = {}
        self.stack: list[str] = []

    def read(self, path: Path) -> list[str]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise Unsupported(f"cannot read {path}: {exc.strerror or exc}") from None
        self.files[str(path.resolve())] = None
        return text.splitlines()

    def section(self, path: Path, name: str) -> list[str]:
        """The lines between ``.lib NAME`` and ``.endl`` in a library file."""
        lines = self.read(path)
        out: list[str] | None = None
        for line in lines:
            s = line.strip().lower()
            words = s.split()
            if out is None:
                if len(words) == 2 and words[0] == ".lib" and words[1] == name.lower():
                    out = []
                continue
            if words and words[0] == ".endl":
                return out
            out.append(line)
        raise Unsupported(f"{path} has no section {name!r}")

    def expand(self, lines: list[str], folder: Path, depth: int = 0) -> list[_Card]:
        """Cards of included text, with nested ``.lib``/``.include`` expanded in place."""
        if depth > 50:
            raise Unsupported("includes nested more than 50 deep")
        out: list[_Card] = []
        subckt_depth = 0
        control = False
        for group in _logical(lines):
            first = group[0].strip()
            low = first.lower()
            word = low.split()[0]
            if control:
                out.append(_Card(group))
                control = word != ".endc"
                continue
            if word == ".control":
                control = True
                out.append(_Card(group))
                continue
            if word in (".if", ".elseif", ".else", ".endif"):
                raise Unsupported("conditional cards (.if)")
            if word == ".end":
                raise Unsupported(".end inside an included file")
            m = MODEL_LINE.match(first)
            if m and m[2].lower() != "hdl" and not (m[2].lower() == "lib" and not m[4].strip()):
                if subckt_depth:
                    raise Unsupported(".include inside a .subckt")
                path = _resolve(m[3], folder)
                section = m[4].strip().split()[0] if m[2].lower() == "lib" else ""
                key = f"{path.resolve()}\0{section.lower()}"
                if key in self.stack:
                    raise Unsupported(f"{path} includes itself")
                self.stack.append(key)
                body = self.section(path, section) if section else self.read(path)
                out.extend(self.expand(body, path.parent, depth + 1))
                self.stack.pop()
                continue
            card = _Card(group, text=" ".join(g.strip().lstrip("+") for g in group), in_subckt=subckt_depth > 0)
            if word == ".subckt":
                subckt_depth += 1
                if subckt_depth == 1:
                    parts = low.split()
                    card.kind, card.names = "subckt", (parts[1],) if len(parts) > 1 else ()
            elif word == ".ends":
                subckt_depth = max(0, subckt_depth - 1)
            elif subckt_depth == 0 and word == ".model":
                parts = low.split()
                if len(parts) > 1:
                    card.kind, card.names = "model", (parts[1], _BIN.sub("", parts[1]))
            elif subckt_depth == 0 and word in (".param", ".params"):
                names = tuple(n.lower() for n in _PARAM_NAME.findall(card.text[len(word):]))
                if names:
                    card.kind, card.names = "param", names
            out.append(card)
        return out


def _group_subckts(cards: list[_Card]) -> list[_Card]:
    """Fold each top-level ``.subckt`` ... ``.ends`` into one card (its whole body)."""
    out: list[_Card] = []
    open_card: _Card | None = None
    depth = 0
    for c in cards:
        if open_card is not None:
            open_card.lines.extend(c.lines)
            open_card.text += "\n" + c.text
            first = c.lines[0].strip().lower().split()[0]
            if first == ".subckt":
                depth += 1
            elif first == ".ends":
                depth -= 1
                if depth == 0:
                    out.append(open_card)
                    open_card = None
            continue
        if c.kind == "subckt":
            open_card, depth = c, 1
            continue
        out.append(c)
    if open_card is not None:
        raise Unsupported(f".subckt {open_card.names[0] if open_card.names else ''} has no .ends")
    return out


def _select(cards: list[_Card], roots: set[str]) -> list[bool]:
    """Which cards to keep: every non-definition card, and definitions reachable from them."""
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(cards):
        for n in c.names:
            by_name.setdefault(n, []).append(i)
    keep = [c.kind == "keep" for c in cards]
    pending = set(roots)
    for i, c in enumerate(cards):
        if keep[i] and c.text:
            pending |= c.tokens()
    seen: set[str] = set()
    while pending:
        tok = pending.pop()
        if tok in seen:
            continue
        seen.add(tok)
        for i in by_name.get(tok, ()):
            if not keep[i]:
                keep[i] = True
                pending |= cards[i].tokens() - seen
    return keep


def reduce_text(netlist: str, folder: Path | None = None) -> Reduction:
    """Reduce ``netlist`` (see the module notes); never raises for the deck's content."""
    folder = Path.cwd() if folder is None else Path(folder)
    flat = _Flattener()
    lines = netlist.splitlines()
    out: list[str] = []
    kept = removed = 0
    roots: set[str] = set()
    blocks: list[tuple[int, list[_Card]]] = []
    try:
        control = False
        for i, line in enumerate(lines):
            low = line.strip().lower()
            word = low.split()[0] if low else ""
            if control or word == ".control":
                control = word != ".endc"
                out.append(line)
                roots |= set(_IDENT.findall(low)) | set(_WORD.findall(low))
                continue
            if i > 0 and word in (".if", ".elseif", ".else", ".endif"):
                raise Unsupported("conditional cards (.if)")
            m = MODEL_LINE.match(line) if i > 0 else None
            if m and m[2].lower() != "hdl" and not (m[2].lower() == "lib" and not m[4].strip()):
                path = _resolve(m[3], folder)
                section = m[4].strip().split()[0] if m[2].lower() == "lib" else ""
                flat.stack = [f"{path.resolve()}\0{section.lower()}"]
                body = flat.section(path, section) if section else flat.read(path)
                cards = _group_subckts(flat.expand(body, path.parent))
                blocks.append((len(out), cards))
                out.append("")  # placeholder, replaced by the block's kept lines
                continue
            out.append(line)
            if i > 0:
                roots |= set(_IDENT.findall(low)) | set(_WORD.findall(low))
        all_cards = [c for _, cs in blocks for c in cs]
        keep = _select(all_cards, roots)
        pairs = list(zip(all_cards, keep, strict=True))
        if _SEED.search(netlist) or any(k and _SEED.search(c.text) for c, k in pairs):
            if any(not k and c.kind != "subckt" and _RANDOM.search(c.text) for c, k in pairs):
                raise Unsupported("a random seed is set and removed cards draw random numbers")
    except Unsupported as exc:
        return Reduction(netlist, sorted(flat.files), reason=str(exc))
    j = 0
    pieces: dict[int, str] = {}
    for at, cards in blocks:
        chosen = []
        for c in cards:
            if keep[j]:
                chosen.extend(c.lines)
                kept += 1
            else:
                removed += 1
            j += 1
        pieces[at] = "\n".join(chosen)
    text = "\n".join(pieces.get(k, line) for k, line in enumerate(out))
    if netlist.endswith("\n"):
        text += "\n"
    return Reduction(text, sorted(flat.files), kept, removed)


# ---------------------------------------------------------------- cache

def _sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _signature(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _default_root() -> Path:
    from ..sweep.cache import default_cache_dir
    return default_cache_dir() / "decks"


_memo: dict[str, Reduction] = {}


def reduce_deck(netlist: str, folder: Path | None = None, cache: Path | bool | None = True) -> Reduction:
    """:func:`reduce_text`, through an on-disk cache (``cache=False``: none; a path: that folder).

    A deck without ``.lib``/``.include`` lines is returned as it is, at once.
    """
    if not any(True for _ in MODEL_LINE.finditer(netlist)):
        return Reduction(netlist, reason="no .lib/.include lines")
    folder = Path.cwd() if folder is None else Path(folder)
    key = hashlib.sha256(f"{_LAYOUT}\0{folder.resolve()}\0{netlist}".encode()).hexdigest()
    memo = _memo.get(key)
    if memo is not None and _still_valid(memo.files, memo.signatures):
        return memo
    root = None if cache is False else (_default_root() if cache in (True, None) else Path(cache))
    entry = root / key[:2] / f"{key}.json" if root is not None else None
    if entry is not None:
        got = _load_entry(entry)
        if got is not None:
            _memo[key] = got
            return got
    red = reduce_text(netlist, folder)
    sigs: dict[str, list] = {}
    for f in red.files:
        try:
            sigs[f] = [*_signature(f), _sha(f)]
        except OSError:
            sigs = {}
            break
    red.signatures = sigs
    if entry is not None and sigs:
        _store_entry(entry, red, sigs)
    _memo[key] = red
    return red


def _still_valid(files: list[str], sigs: dict) -> bool:
    if not sigs:
        return False
    for f in files:
        try:
            size, mtime = _signature(f)
        except OSError:
            return False
        want = sigs.get(f)
        if want is None:
            return False
        if (size, mtime) != tuple(want[:2]):
            if size != want[0] or _sha(f) != want[2]:
                return False
            want[1] = mtime
    return True


def _load_entry(path: Path) -> Reduction | None:
    try:
        data = json.loads(path.read_text())
        if data.get("layout") != _LAYOUT:
            return None
        sigs = {f: list(v) for f, v in data["files"].items()}
        red = Reduction(data["text"], sorted(sigs), data["kept"], data["removed"], data["reason"], sigs)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _still_valid(red.files, sigs):
        return None
    return red


def _store_entry(path: Path, red: Reduction, sigs: dict) -> None:
    from ..files import atomic_write_text
    data = {"layout": _LAYOUT, "files": {f: list(v) for f, v in sigs.items()}, "text": red.text,
            "kept": red.kept_cards, "removed": red.removed_cards, "reason": red.reason}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data))
    except OSError:
        pass  # a cache that cannot be written only costs the next load its time
