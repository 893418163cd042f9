"""ngspice's ``.meas`` cards, evaluated in NumPy on an engine's vectors.

The VACASK backend runs decks that carry ``.meas`` cards, which VACASK does
not read.  This module evaluates them on the vectors VACASK returns (named
as ngspice names them), following ngspice 39's own algorithms
(``src/frontend/com_measure2.c``), so that a designer's deck gives the same
measures on either engine, up to the engines' different time points:

* ``TRIG ... TARG ...`` (``VAL=``, ``TD=``, ``RISE=``/``FALL=``/``CROSS=``
  ``N|LAST``, ``TRIG AT=``): the target's time minus the trigger's;
* ``WHEN v(x)=VALUE`` or ``WHEN v(x)=v(y)``: the time of the crossing,
  interpolated linearly between the points around it;
* ``FIND v(x) AT=T`` and ``FIND v(x) WHEN ...``: the value, interpolated;
* ``AVG``, ``MIN``, ``MAX``, ``MIN_AT``, ``MAX_AT``, ``PP`` over the points
  in ``FROM``..``TO`` (trapezoidal average, as ngspice: no interpolation at
  the window's ends); ``RMS`` and ``INTEG`` with the ends interpolated and
  ngspice's mix of Simpson 3/8, Simpson 1/3 and trapezoid rules;
* ``PARAM='expression'`` of earlier measures and ``.param`` values.

Vectors are named ``v(node)``, ``i(vsource)`` or a bare node name (not
``v(a,b)``, which ngspice 39's ``.meas`` does not find either).  A measure
that finds no crossing is reported failed with ngspice's reason ("out of
interval"), as the ngspice backends report it.
``.meas`` cards of an analysis other than the one run are not evaluated,
as ngspice skips them.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping

import numpy as np

from .expr import Unevaluable, evaluate

__all__ = ["FUNCTIONS", "MeasureError", "evaluate_measures", "measure_words"]

DEFAULT = -1   # no RISE/FALL/CROSS given
LAST = -2      # RISE/FALL/CROSS=LAST
FUNCTIONS = frozenset({"trig", "targ", "delay", "find", "when", "avg", "min", "max", "min_at", "max_at", "pp", "rms",
                       "integ"})


class MeasureError(Exception):
    """A ``.meas`` card this module cannot read (the caller refuses the deck)."""


def measure_words(card: str) -> list[str]:
    """The words of a ``.meas`` card as ngspice sees them: no spaces around ``=``; a space splits
    words everywhere but inside ``{...}`` and ``'...'`` (so ``v(a, b)`` is two words, as in ngspice)."""
    out, word, depth, quoted = [], "", 0, False
    text = re.sub(r"\s*=\s*", "=", card.strip())
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        if ch.isspace() and depth == 0 and not quoted:
            if word:
                out.append(word)
            word = ""
        else:
            word += ch
    if word:
        out.append(word)
    return out


def _ulps_equal(a: float, b: float, max_ulps: int = 100) -> bool:
    """ngspice's ``AlmostEqualUlps``: at most ``max_ulps`` representable doubles apart."""
    if a == b:
        return True
    ia, ib = (struct.unpack("<q", struct.pack("<d", x))[0] for x in (a, b))
    ia = -(2**63) - ia if ia < 0 else ia
    ib = -(2**63) - ib if ib < 0 else ib
    return abs(ia - ib) <= max_ulps


def _crossing(s0: float, s1: float, v0: float, v1: float, w0: float, w1: float, level: float, two: bool) -> float:
    """Where the segment (s0, v0)-(s1, v1) meets the level (or, ``two``, the segment (s0, w0)-(s1, w1))."""
    den = (v1 - v0 - w1 + w0) if two else (v1 - v0)
    if den == 0:
        return s1
    return s0 + ((w0 if two else level) - v0) * (s1 - s0) / den


class _Spec:
    """One clause's settings (ngspice's ``struct measure``)."""

    def __init__(self, dc: bool) -> None:
        self.vec: str | None = None
        self.vec2: str | None = None
        self.val = 1e99
        self.rise = self.fall = self.cross = DEFAULT
        self.td = 0.0
        self.frm, self.to = (-1e99, 1e99) if dc else (0.0, 0.0)
        self.at = 1e99


class _Measurer:
    def __init__(self, vectors: Mapping[str, np.ndarray], analysis: str, params: Mapping[str, float]) -> None:
        self.v = {k.lower(): np.asarray(x) for k, x in vectors.items()}
        self.analysis = analysis
        self.dc = analysis == "dc"
        self.params = {k.lower(): float(x) for k, x in params.items()}
        scale = {"tran": "time", "dc": "v-sweep"}.get(analysis, "time")
        if self.dc and scale not in self.v:
            scale = "i-sweep"
        if scale not in self.v:
            raise MeasureError(f"no {scale} vector to measure against")
        self.scale = np.asarray(self.v[scale], dtype=float)

    # ------------------------------------------------------------ words
    def vector(self, name: str) -> np.ndarray:
        low = name.lower().strip("'\"")
        m = re.fullmatch(r"([vi])\(([^,]+)\)", low)  # not v(a,b): ngspice 39's .meas has no such vector
        if m:
            return self._get(f"{m[1]}({m[2].strip()})")
        return self._get(f"v({low})")

    def _get(self, key: str) -> np.ndarray:
        if key not in self.v:
            raise KeyError(key)
        return np.real(self.v[key]).astype(float)

    def is_vector(self, word: str) -> bool:
        if re.fullmatch(r"[+-]?\d+", word):
            return False
        try:
            self.vector(word)
        except KeyError:
            return False
        return True

    def number(self, text: str) -> float:
        try:
            return evaluate(text, self.params)
        except Unevaluable as exc:
            raise MeasureError(f"cannot evaluate {text!r}: {exc}") from None

    def std_params(self, spec: _Spec, words: list[str]) -> None:
        if not words:
            raise MeasureError("bad syntax")
        for w in words:
            name, sep, value = w.partition("=")
            key = name.lower()
            if not sep:
                if key == "last":
                    spec.cross, spec.rise, spec.fall = LAST, DEFAULT, DEFAULT
                    continue
                raise MeasureError("bad syntax. equal sign missing ?")
            num = LAST if value.lower() == "last" else self.number(value)
            if key in ("rise", "fall", "cross"):
                n = int(math.floor(num + 0.5)) if num != LAST else LAST
                spec.rise, spec.fall, spec.cross = DEFAULT, DEFAULT, DEFAULT
                setattr(spec, key, n)
            elif key in ("val", "td", "at"):
                setattr(spec, key, num)
            elif key == "from":
                spec.frm = num
            elif key == "to":
                spec.to = num
            else:
                raise MeasureError(f"no such parameter as '{name}'")
        if self.dc and spec.to < spec.frm:
            spec.frm, spec.to = spec.to, spec.frm

    def trigtarg(self, words: list[str]) -> _Spec:
        spec = _Spec(self.dc)
        if not words:
            raise MeasureError("bad syntax")
        if words[0].lower().startswith("at"):
            self.std_params(spec, words)
        else:
            spec.vec = words[0]
            if len(words) > 1:
                self.std_params(spec, words[1:])
        if spec.vec is not None and not self.is_vector(spec.vec):
            raise MeasureError(f"no such vector as '{spec.vec}'")
        return spec

    def when_spec(self, words: list[str]) -> _Spec:
        spec = _Spec(self.dc)
        if not words or "=" not in words[0]:
            raise MeasureError("bad syntax of WHEN")
        left, _, right = words[0].partition("=")
        spec.vec = left
        if self.is_vector(right):
            spec.vec2 = right
        else:
            spec.val = self.number(right)
        if not self.is_vector(left):
            raise MeasureError(f"no such vector as '{left}'")
        if len(words) > 1:
            self.std_params(spec, words[1:])
        return spec

    # ------------------------------------------------------------ algorithms
    def when(self, m: _Spec) -> float:
        """ngspice's ``com_measure_when``: the scale value of the chosen crossing, or NaN."""
        d = self.vector(m.vec)  # type: ignore[arg-type]
        d2 = self.vector(m.vec2) if m.vec2 else None
        s = self.scale
        prev = prev2 = prev_s = 0.0
        first = rise = fall = cross = 0
        pending = False
        section = 0  # 1 above, -1 below
        measured = math.nan
        for i in range(len(d)):
            value, sv = float(d[i]), float(s[i])
            value2 = float(d2[i]) if d2 is not None else math.nan
            if self.dc and i == 0:
                m.td = sv
            if not self.dc and sv < m.td:
                continue
            if self.dc:
                if sv < m.frm or sv > m.to:
                    continue
            else:
                if sv < m.frm:
                    continue
                if m.to != 0.0 and sv > m.to:
                    break
            if first > 1 and self.dc and m.td == sv:
                first = 1
            level = value2 if d2 is not None else m.val
            if first == 1:
                cross = 0
                if value < level:
                    section = -1
                    if prev <= level <= value:
                        fall = cross = 1
                else:
                    section = 1
                    if prev <= level <= value:
                        rise = cross = 1
            if first > 1:
                if section == -1 and value >= level:
                    section, cross, rise = 1, cross + 1, rise + 1
                    pending = m.fall != LAST
                elif section == 1 and value <= level:
                    section, cross, fall = -1, cross + 1, fall + 1
                    pending = m.rise != LAST
                if cross == m.cross or rise == m.rise or fall == m.fall:
                    return _crossing(prev_s, sv, prev, value, prev2, value2, m.val, d2 is not None)
                if pending:
                    if m.cross == DEFAULT and m.rise == DEFAULT and m.fall == DEFAULT:
                        return _crossing(prev_s, sv, prev, value, prev2, value2, m.val, d2 is not None)
                    if LAST in (m.cross, m.rise, m.fall):
                        measured = _crossing(prev_s, sv, prev, value, prev2, value2, m.val, d2 is not None)
                    pending = False
            first += 1
            prev, prev_s = value, sv
            if d2 is not None:
                prev2 = value2
        return measured

    def at(self, vec: str, at: float) -> float:
        """ngspice's ``measure_at``: the vector interpolated at scale value ``at``, or NaN."""
        d, s = self.vector(vec), self.scale
        for i in range(1, len(d)):
            if (s[i - 1] <= at <= s[i]) or (self.dc and s[i - 1] >= at >= s[i]):
                return float(d[i - 1] + (at - s[i - 1]) * (d[i] - d[i - 1]) / (s[i] - s[i - 1]))
        return math.nan

    def window(self, m: _Spec) -> tuple[np.ndarray, np.ndarray]:
        """The points of ``FROM``..``TO`` (ngspice's loop: a TO of 0 means the end)."""
        d, s = self.vector(m.vec), self.scale  # type: ignore[arg-type]
        if self.dc:
            keep = (s >= m.frm) & (s <= m.to)
            return s[keep], d[keep]
        keep = s >= m.frm
        if m.to != 0.0:
            over = np.nonzero(s > m.to)[0]
            if len(over):
                keep[over[0]:] = False
        return s[keep], d[keep]

    def min_max_avg(self, m: _Spec, kind: str) -> tuple[float, float]:
        """ngspice's ``measure_minMaxAvg``: (value, scale value where it is)."""
        s, d = self.window(m)
        if not len(d):
            return math.nan, math.nan
        if kind == "avg":
            total = float(np.sum(0.5 * (d[1:] + d[:-1]) * np.diff(s))) if len(d) > 1 else 0.0
            span = float(s[-1] - s[0])
            return (total / span if span else math.nan), float(s[-1])
        # ngspice keeps the last of equal extremes (<= and >=)
        k = (len(d) - 1 - int(np.argmin(d[::-1]))) if kind == "min" else (len(d) - 1 - int(np.argmax(d[::-1])))
        return float(d[k]), float(s[k])

    def rms_integral(self, m: _Spec, kind: str) -> float:
        """ngspice's ``measure_rms_integral``, its window ends interpolated and its integration rules."""
        d, s = self.vector(m.vec), self.scale  # type: ignore[arg-type]
        x: list[float] = []
        y: list[float] = []
        to_val = -1.0
        start = math.nan
        for i in range(len(d)):
            xv, v = float(s[i]), float(d[i])
            if xv < m.frm:
                continue
            if m.to != 0.0 and xv > m.to:
                if not _ulps_equal(xv, m.to):
                    v = float(d[i - 1] + (m.to - s[i - 1]) * (d[i] - d[i - 1]) / (s[i] - s[i - 1]))
                    xv = m.to
                x.append(xv)
                y.append(v * v if kind == "rms" else v)
                to_val = xv
                break
            if not x:
                if m.frm != 0.0 and i > 0 and not _ulps_equal(xv, m.frm):
                    v = float(d[i - 1] + (m.frm - s[i - 1]) * (d[i] - d[i - 1]) / (s[i] - s[i - 1]))
                    xv = m.frm
                start = xv
            x.append(xv)
            y.append(v * v if kind == "rms" else v)
        if not x:
            return math.nan
        width = [x[k + 1] - x[k] for k in range(len(x) - 1)] + [0.0, 0.0]
        total, i = 0.0, 0
        while i < len(x) - 1:
            if i + 3 < len(y) and _ulps_equal(width[i], width[i + 1]) and _ulps_equal(width[i], width[i + 2]):
                total += 3 * width[i] * (y[i] + 3 * (y[i + 1] + y[i + 2]) + y[i + 3]) / 8.0
                i += 3
            elif i + 2 < len(y) and _ulps_equal(width[i], width[i + 1]):
                total += width[i] * (y[i] + 4 * y[i + 1] + y[i + 2]) / 3.0
                i += 2
            else:
                total += width[i] * (y[i] + y[i + 1]) / 2
                i += 1
        if to_val < 0.0:
            to_val = float(s[-1])
        if kind == "rms":
            return math.sqrt(total / (to_val - start)) if to_val != start else math.nan
        return total

    # ------------------------------------------------------------ one card
    def measure(self, func: str, words: list[str]) -> float:
        """The value of one measure; NaN when it finds nothing ("out of interval")."""
        low = [w.lower() for w in words]
        if func in ("trig", "targ", "delay"):
            if "targ" not in low:
                raise MeasureError("TRIG without TARG")
            k = low.index("targ")
            trig_words = words[1:k] if low[0] == "trig" else words[:k]
            trig, targ = self.trigtarg(trig_words), self.trigtarg(words[k + 1:])
            for spec in (trig, targ):
                if DEFAULT == spec.rise == spec.fall == spec.cross and spec.at == 1e99:
                    raise MeasureError("at, rise, fall or cross must be given")
            if trig.frm != 0.0 and targ.frm == 0.0:
                targ.frm = trig.frm
            elif targ.frm != 0.0 and trig.frm == 0.0:
                trig.frm = targ.frm
            t0 = trig.at if trig.at != 1e99 else self.when(trig)
            if math.isnan(t0):
                return math.nan
            return self.when(targ) - t0
        if func == "find":
            if "when" in low:
                k = low.index("when")
                spec = self.trigtarg(words[1:k])
                t = self.when(self.when_spec(words[k + 1:]))
                return self.at(spec.vec, t) if not math.isnan(t) else math.nan  # type: ignore[arg-type]
            spec = _Spec(self.dc)
            spec.vec = words[1]
            if not self.is_vector(spec.vec):
                raise MeasureError(f"no such vector as '{spec.vec}'")
            if len(words) < 3 or not words[2].lower().startswith("at="):
                raise MeasureError("bad syntax of WHEN")
            self.std_params(spec, words[2:])
            return self.at(spec.vec, spec.at)
        if func == "when":
            return self.when(self.when_spec(words[1:]))
        if func in ("avg", "min", "max", "min_at", "max_at", "pp"):
            spec = self.trigtarg(words[1:])
            if func == "pp":
                lo, hi = self.min_max_avg(spec, "min")[0], self.min_max_avg(spec, "max")[0]
                return hi - lo
            value, where = self.min_max_avg(spec, func.removesuffix("_at"))
            return where if func.endswith("_at") else value
        if func in ("rms", "integ"):
            return self.rms_integral(self.trigtarg(words[1:]), func)
        raise MeasureError(f"no such function as '{func}'")


def evaluate_measures(cards: list[str], vectors: Mapping[str, np.ndarray], analysis: str,
                      params: Mapping[str, float] | None = None) -> tuple[dict[str, float], dict[str, str]]:
    """``({name: value}, {name: reason})`` of the ``.meas`` cards of ``analysis`` on ``vectors``.

    Names are lower case, as ngspice keeps them; a card of another analysis
    is skipped; one that finds nothing is in the second dict with ngspice's
    reason (a vector the card names and the run lacks is such a reason, as
    in ngspice).  :class:`MeasureError` for a card of an unknown function.
    """
    meter: _Measurer | None = None  # made for the first card of this analysis (it needs its scale)
    values: dict[str, float] = {}
    failed: dict[str, str] = {}
    for card in cards:
        words = measure_words(card)
        if len(words) < 4:
            raise MeasureError(f"{card!r}: invalid num params")
        kind, name = words[1].lower(), words[2].lower()
        if kind != analysis:
            continue
        meter = meter or _Measurer(vectors, analysis, params or {})
        head = words[3]
        if head.lower().startswith("param="):
            scope = {**meter.params, **values}
            try:
                values[name] = evaluate(head.partition("=")[2], scope)
            except Unevaluable:
                failed[name] = "failed"
            continue
        func = head.lower()
        if func not in FUNCTIONS:
            raise MeasureError(f"{card!r}: no such function as '{words[3]}'")
        try:
            value = meter.measure(func, words[3:])
        except MeasureError as exc:  # ngspice fails the measure with its reason and goes on
            failed[name] = str(exc)
            continue
        if math.isnan(value):
            failed[name] = "out of interval"
        else:
            values[name] = value
    return values, failed
