"""A PDK's transistors for VACASK: its device subcircuits, evaluated per instance into plain BSIM4 cards.

A PDK such as sky130 wraps each transistor flavour in a subcircuit
(``sky130_fd_pr__nfet_01v8 d g s b``) whose ``.param`` lines and binned
``.model`` cards are expressions of the instance's ``l``, ``w``... and of
the library's corner parameters, with ``.option scale`` on the geometry.
VACASK reads none of that ngspice text, so :class:`PdkDevices` does what
ngspice's parser does, per subcircuit instance of the deck:

* evaluates the instance's parameters and the subcircuit's (the lazy scopes
  of :mod:`pycircuits.spice.bins`, numparam's rules);
* picks the bin ngspice picks (the first, in deck order, whose L and W
  ranges hold the scaled geometry, edges inclusive to 1e-9 m);
* evaluates that bin's model parameters into numbers, and the transistor's
  instance parameters (``l w ad as pd ps sa sb sd`` scaled as ngspice's
  BSIM4 scales them, ``nf nrd nrs delvto``, ``m`` as ``$mfactor``).

A value that depends on a random draw (a Monte Carlo section, a mismatch
switch left on) is refused: the library's draws are evaluated at two
spreads, and only values that come out equal are used, which is how
sky130's ``AGAUSS(...)`` terms, multiplied by its ``MC_*_SWITCH = 0``,
drop out of its typical corners.

The cards become VACASK models of the wheel's BSIM4 4.8 (``sp_bsim4v8``).
sky130's cards say version 4.5, which ngspice runs on its 4.5 code; on
4.8's the inverter moves by 0.05 % (ngspice itself, the same cards at
4.5 and 4.8).  The sky130 inverter's delays and energy on VACASK agree with
ngspice's within 4e-4 at tt and ss and 3.6e-3 at ff, at 1 ps steps; at
16 ps steps ngspice's delay is 1.1 % short of its own converged value,
VACASK's within 0.1 % (tests/spice/test_vacask.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import UsageError
from .bins import BinDeck, Scope, SubcktDef, split_card
from .expr import Unevaluable, evaluate

__all__ = ["PdkDevices"]

_EDGE = 1e-9  # ngspice's is_equal() on bin bounds (m)
_DRAWS = (0.0, 0.5)  # two spreads: a value equal at both does not depend on the draw
_SCALED = {"l": 1, "w": 1, "ad": 2, "as": 2, "pd": 1, "ps": 1, "sa": 1, "sb": 1, "sd": 1, "sc": 1}
_INSTANCE = ("l", "w", "nf", "ad", "as", "pd", "ps", "nrd", "nrs", "sa", "sb", "sd", "delvto")


def _refuse(what: str) -> UsageError:
    return UsageError(f"vacask backend: {what}")


def _in_bin(x: float, lo: float, hi: float) -> bool:
    return abs(x - lo) < _EDGE or abs(x - hi) < _EDGE or lo < x < hi


@dataclass
class PdkDevices:
    """The device subcircuits of a flat deck (its libraries inlined by :mod:`.reduce`), read once per
    deck structure, at the top-level ``.param`` values of one run (``values`` over the deck's own)."""

    deck: BinDeck
    values: Mapping[str, float] = field(default_factory=dict)
    models: dict[tuple, str] = field(default_factory=dict)  # (bin card, values) -> VACASK model name
    model_lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._tops = [Scope({k: (v, None) for k, v in self.deck.top.defaults.items()}, None, draw)
                      for draw in _DRAWS]
        for top in self._tops:
            top.values.update({k.lower(): float(v) for k, v in self.values.items()})

    def wraps(self, name: str) -> bool:
        """Whether ``name`` is a subcircuit holding one MOSFET on a family of bins (a PDK device)."""
        d = self.deck.defs.get(name.lower())
        return d is not None and len(d.devices) == 1 and not d.calls and \
            self.deck.family_of(d, d.devices[0][0]) is not None

    def value(self, expr: str, scopes: list[Scope], what: str) -> float:
        """``expr`` in each scope (one per draw); refused unless it is a number that no draw moves."""
        try:
            values = [evaluate(expr, s.get, s.draw) for s in scopes]
        except Unevaluable as exc:
            raise _refuse(f"{what} = {expr[:60]}: {exc}") from None
        if any(v != values[0] for v in values[1:]):
            raise _refuse(f"{what} depends on a random draw (a Monte Carlo or mismatch switch is on); "
                          "run the typical corner")
        return values[0]

    def instance(self, inst: str, pins: list[str], subckt: str, assigns: dict[str, str]) -> str:
        """The VACASK line of one instance of a PDK device (its model joins :attr:`model_lines`)."""
        d: SubcktDef = self.deck.defs[subckt.lower()]
        if len(pins) != len(d.ports):
            raise _refuse(f"{inst}: {len(pins)} pins for {subckt}'s {len(d.ports)}")
        scopes = []
        for top in self._tops:
            exprs = {k: (v, None) for k, v in d.defaults.items()}
            exprs.update({k.lower(): (v, top) for k, v in assigns.items()})
            scopes.append(Scope(exprs, top))
        words, dev = d.devices[0]
        nodes = words.split()
        family = self.deck.family_of(d, words)
        ports = dict(zip(d.ports, pins, strict=True))
        terminals = nodes[:4]
        if any(n not in ports for n in terminals):
            raise _refuse(f"{subckt}: its transistor uses nodes that are not the subcircuit's pins")
        values = {k: self.value(v, scopes, f"{subckt} {k}") for k, v in dev.items()
                  if k in _INSTANCE or k in ("m", "mult")}
        if "l" not in values or "w" not in values:
            raise _refuse(f"{subckt}: its transistor has no l and w")
        scale = self.deck.scale
        l_m, w_m = values["l"] * scale, values["w"] * scale
        nf = values.get("nf", 1.0) or 1.0
        chosen = next((b for b in family.bins  # type: ignore[union-attr]
                       if _in_bin(l_m, b.lmin, b.lmax) and (_in_bin(w_m, b.wmin, b.wmax)
                                                             or _in_bin(w_m / nf, b.wmin, b.wmax))), None)
        if chosen is None or family.whole:  # type: ignore[union-attr]
            raise _refuse(f"{inst}: no bin of {subckt} holds l = {l_m:g} m, w = {w_m:g} m")
        model = self._model(chosen.lines, scopes, subckt)
        params = {k: v * scale ** _SCALED[k] if k in _SCALED else v for k, v in values.items()
                  if k not in ("m", "mult")}
        mfactor = values.get("m", 1.0) * values.get("mult", 1.0)
        text = "".join(f" {k}={_num(v)}" for k, v in params.items())
        if mfactor != 1.0:
            text += f" $mfactor={_num(mfactor)}"
        return f"{inst} ({' '.join(ports[n] for n in terminals)}) {model}{text}"

    def _model(self, lines: tuple[int, ...], scopes: list[Scope], subckt: str) -> str:
        card = " ".join(self.deck.lines[i].strip().lstrip("+") for i in lines)
        card = re.sub(r"\s(?:;|\$\s)[^\n]*", "", card)
        words, assigns = split_card(card)
        kind = words[2].lower() if len(words) > 2 else ""
        if kind not in ("nmos", "pmos"):
            raise _refuse(f"{subckt}: its bin is a {kind or '?'} model, not nmos or pmos")
        if assigns.get("level", "").strip() not in ("14", "54"):
            raise _refuse(f"{subckt}: only BSIM4 (level 14 or 54) transistors")
        values = tuple((k, self.value(v, scopes, f"{subckt} model {k}")) for k, v in assigns.items()
                       if k not in ("level", "version"))
        key = (lines, values)
        if key not in self.models:
            name = f"pyc_pdk{len(self.models)}"
            self.models[key] = name
            polarity = 1 if kind == "nmos" else -1
            self.model_lines.append(f"model {name} sp_bsim4v8 type={polarity}"
                                    + "".join(f" {k}={_num(v)}" for k, v in values))
        return self.models[key]


def _num(value: float) -> str:
    if not math.isfinite(value):
        raise _refuse(f"a value is not finite ({value})")
    return repr(float(value))
