"""A designer's own deck as a circuit: parameters, measures, corners, like a built-in generator.

``deck_circuit("path/to/rcf.cir")`` reads the file (:func:`pycircuits.spice.userdeck.parse_deck`)
and returns a :class:`~pycircuits.circuits.base.CircuitDef` whose parameters
are the deck's top-level ``.param`` assignments (numbers, and ``expr``
parameters for the ones defined by expressions, which a number overrides),
whose measures are its ``.meas`` cards (the values ngspice prints, NaN with
ngspice's reason when one fails) and whose corners are the sections of the
corner library it ``.lib``\\ s.  ``build`` returns the deck text with the
values and the corner set: the deck as written, one assignment per line,
which runs in bare ``ngspice -b``.

A deck is named by its path.  The path must say it is a file: it ends in a
deck suffix (``.cir``, ``.sp``...) or holds a ``/`` (``./rc``), so that a
built-in circuit's name never runs a file that happens to be in the folder.
"""

from __future__ import annotations

import dataclasses
import keyword
import math
import os
from pathlib import Path
from typing import Any

from ..errors import FileFormatError, UsageError
from ..params import Params
from ..spice.deck import set_params
from ..spice.userdeck import DECK_SUFFIXES, DeckInfo, parse_deck, select_corner
from .base import CircuitDef

MODULE = __name__


def is_deck_name(name: str) -> bool:
    """Whether ``name`` names a deck file (a deck suffix or a path with a folder) rather than a circuit."""
    return name.lower().endswith(DECK_SUFFIXES) or "/" in name or os.sep in name


def _params_class(info: DeckInfo) -> type[Params]:
    reserved = {f for f in dir(Params) if not f.startswith("__")}
    fields = []
    for p in info.params:
        if keyword.iskeyword(p.name) or p.name in reserved:
            raise UsageError(f"deck line {p.line}: parameter name {p.name!r} cannot be used from Python; "
                             "rename it in the deck")
        if p.value is None:
            spec = dict(kind="expr", default=None, unit="", doc=f"derived: {p.text}", min=None, max=None,
                        min_exclusive=False, choices=(), variability=False, length_of=None)
            fields.append((p.name, Any, dataclasses.field(default=None, metadata={"spec": spec})))
        else:
            spec = dict(kind="float", default=p.value, unit="", doc=f"deck line {p.line}: {p.text}", min=None,
                        max=None, min_exclusive=False, choices=(), variability=False, length_of=None)
            fields.append((p.name, float, dataclasses.field(default=p.value, metadata={"spec": spec})))
    return dataclasses.make_dataclass("DeckParams", fields, bases=(Params,), frozen=True)


def _measure(info: DeckInfo):
    names = [m for m, _ in info.measures]

    def measure(waves, params) -> dict[str, Any]:  # noqa: ARG001 - the deck's measures need no parameter
        return {n: waves.meas.get(n, math.nan) for n in names}
    return measure


def circuit_from_text(name: str, text: str, base: Path | None = None) -> CircuitDef:
    """The circuit of deck text ``text`` called ``name`` (relative paths resolved in ``base``)."""
    info = parse_deck(text, base)

    def build(params: Any, pdk: Any = None, corner: str = "") -> str:  # noqa: ARG001 - decks bring their models
        values = {p.name: getattr(params, p.name) for p in info.params}
        return set_params(select_corner(info, corner), {k: v for k, v in values.items() if v is not None})

    measures = {m: f": .meas {analysis}, as ngspice prints it" for m, analysis in info.measures}
    return CircuitDef(name=name, doc=info.title.lstrip("* ").strip() or name, params=_params_class(info),
                      build=build, measure=_measure(info), measures=measures,
                      extra={"deck": info, "corners": info.corners, "corner": info.corner})


_memo: dict[tuple[str, int, int], CircuitDef] = {}


def deck_circuit(name: str) -> CircuitDef:
    """The circuit of the deck file ``name`` (memoised by path, size and mtime)."""
    path = Path(name).expanduser()
    try:
        st = path.stat()
        if not path.is_file():
            raise FileFormatError(f"deck {name}: not a file")
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _memo:
            text = path.read_text()
            _memo[key] = circuit_from_text(name, text, path.resolve().parent)
    except FileNotFoundError:
        raise UsageError(f"deck {name}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read deck {name}: {getattr(exc, 'strerror', None) or exc}") from None
    return _memo[key]


def check_corner(defn: CircuitDef, corner: str) -> str:
    """The corner if the deck offers it ('' keeps the deck's own); :class:`UsageError` otherwise."""
    info: DeckInfo = defn.extra["deck"]
    if corner in ("", info.corner):
        return corner
    select_corner(info, corner)  # raises with the list of corners
    return corner
