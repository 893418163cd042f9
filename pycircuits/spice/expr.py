"""ngspice's parameter expressions (numparam), evaluated in Python.

The values inside ``{...}`` in ``.param`` cards, subcircuit calls and device
lines: numbers with SPICE scale suffixes (``1u``, ``2meg``, ``3mil``),
parameter names, ``+ - * / % ^ **``, comparisons, ``&& || !``, the ternary
``c ? a : b`` and ngspice's deterministic functions.  Random functions
(``agauss``, ``gauss``...) and anything else unknown raise
:class:`Unevaluable`: a caller that cannot evaluate a value must not guess it.

Names are looked up through a callable, so that a caller can resolve them
lazily through its own scopes (see :mod:`pycircuits.spice.bins`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

__all__ = ["Unevaluable", "evaluate", "strip_value", "suffixed_numbers"]


class Unevaluable(Exception):
    """The expression uses something this evaluator does not know (or has no finite value)."""


_TOKEN = re.compile(r"""
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?P<suffix>[A-Za-z]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|==|!=|<=|>=|&&|\|\||[-+*/%^()<>!?:,])
  | (?P<space>\s+)
""", re.VERBOSE)

_SUFFIX = {"t": 1e12, "g": 1e9, "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15, "a": 1e-18}


def suffixed_numbers(text: str) -> str:
    """``text`` with every number that carries a SPICE scale suffix (``1u``, ``2meg``, ``10kOhm``)
    written as a plain float (``1e-06``), for readers of plain arithmetic; names are left alone."""
    return _SUFFIXED.sub(lambda m: repr(float(m[1]) * _scale(m[2])), text)


_SUFFIXED = re.compile(r"(?<![\w.])((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)((?:meg|mil|[tgkmunpfa])[A-Za-z]*)",
                       re.IGNORECASE)


def _scale(suffix: str) -> float:
    """ngspice's scale factor of the letters after a number (``meg``, ``mil``, one letter, then any unit)."""
    s = suffix.lower()
    if not s:
        return 1.0
    if s.startswith("meg"):
        return 1e6
    if s.startswith("mil"):
        return 25.4e-6
    if s[0] in _SUFFIX:
        return _SUFFIX[s[0]]
    raise Unevaluable(f"number suffix {suffix!r}")


def _sgn(x: float) -> float:
    return float((x > 0) - (x < 0))


_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "exp": math.exp, "ln": math.log, "log": math.log, "log10": math.log10,
    "abs": abs, "fabs": abs, "min": min, "max": max, "pow": math.pow, "pwr": lambda x, y: math.copysign(abs(x) ** y, x),
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh, "floor": math.floor, "ceil": math.ceil,
    "int": math.trunc, "nint": lambda x: float(round(x)), "sgn": _sgn, "sign": _sgn,
    "ternary_fcn": lambda c, a, b: a if c else b,
}
_CONSTANTS = {"pi": math.pi}
# ngspice's random functions, as mu + draw x (their spread): only when a caller asks for a draw
_RANDOM: dict[str, Callable[..., Callable[..., float]]] = {
    "agauss": lambda d: lambda mu, sigma, n=1: mu + d * sigma / n,
    "gauss": lambda d: lambda mu, rel, n=1: mu * (1 + d * rel / n),
    "aunif": lambda d: lambda mu, span: mu + d * span,
    "unif": lambda d: lambda mu, rel: mu * (1 + d * rel),
    "limit": lambda d: lambda mu, span: mu + (span if d > 0 else -span if d < 0 else 0.0),
}


def strip_value(text: str) -> str:
    """A value's expression without its enclosing ``{...}`` or quotes."""
    s = text.strip()
    while len(s) >= 2 and ((s[0] == "{" and s[-1] == "}") or (s[0] == s[-1] == "'") or (s[0] == s[-1] == '"')):
        s = s[1:-1].strip()
    return s


def _tokens(text: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    pos = 0
    s = text.replace("{", "(").replace("}", ")")
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            raise Unevaluable(f"cannot read {text!r} at {s[pos:pos + 10]!r}")
        pos = m.end()
        if m["space"]:
            continue
        if m["num"]:
            out.append(("num", float(m["num"]) * _scale(m["suffix"])))
        elif m["name"]:
            out.append(("name", m["name"].lower()))
        else:
            out.append(("op", m["op"]))
    out.append(("end", None))
    return out


class _Parser:
    """Precedence climbing over the tokens, evaluating as it goes."""

    def __init__(self, text: str, lookup: Callable[[str], float], draw: float | None = None) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.lookup = lookup
        self.draw = draw

    def peek(self) -> tuple[str, object]:
        return self.toks[self.i]

    def take(self, op: str | None = None) -> tuple[str, object]:
        tok = self.toks[self.i]
        if op is not None and tok != ("op", op):
            raise Unevaluable(f"expected {op!r}")
        self.i += 1
        return tok

    def at(self, *ops: str) -> str | None:
        kind, val = self.peek()
        return val if kind == "op" and val in ops else None  # type: ignore[return-value]

    def ternary(self) -> float:
        cond = self.binary(0)
        if self.at("?"):
            self.take("?")
            a = self.ternary()
            self.take(":")
            b = self.ternary()
            return a if cond else b
        return cond

    _LEVELS = (("||",), ("&&",), ("==", "!=", "<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> float:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (op := self.at(*self._LEVELS[level])) is not None:
            self.take()
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> float:
        op = self.at("-", "+", "!")
        if op:
            self.take()
            v = self.unary()
            return -v if op == "-" else (float(not v) if op == "!" else v)
        return self.power()

    def power(self) -> float:
        base = self.primary()
        if self.at("^", "**"):
            self.take()
            exp = self.unary()  # right-associative
            return _apply("^", base, exp)
        return base

    def primary(self) -> float:
        kind, val = self.take()
        if kind == "num":
            return val  # type: ignore[return-value]
        if kind == "op" and val == "(":
            v = self.ternary()
            self.take(")")
            return v
        if kind == "name":
            name = str(val)
            if self.at("("):
                self.take("(")
                args = [] if self.at(")") else [self.ternary()]
                while self.at(","):
                    self.take(",")
                    args.append(self.ternary())
                self.take(")")
                fn = _FUNCTIONS.get(name)
                if fn is None and self.draw is not None and name in _RANDOM:
                    fn = _RANDOM[name](self.draw)
                if fn is None:
                    raise Unevaluable(f"function {name}()")
                try:
                    return float(fn(*args))
                except (TypeError, ValueError, OverflowError, ZeroDivisionError):
                    raise Unevaluable(f"{name}() of {args}") from None
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            return float(self.lookup(name))
        raise Unevaluable(f"unexpected {val!r}")


def _apply(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "%":
            return math.fmod(a, b)
        if op == "^":
            return math.pow(a, b)
    except (ZeroDivisionError, ValueError, OverflowError):
        raise Unevaluable(f"{a} {op} {b}") from None
    return float({"==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b,
                  "&&": bool(a) and bool(b), "||": bool(a) or bool(b)}[op])


def evaluate(text: str, lookup: Callable[[str], float] | dict[str, float], draw: float | None = None) -> float:
    """The value of one expression (braces or quotes around it allowed); names through ``lookup``.

    ``lookup`` is a mapping of lower-case names or a callable taking a
    lower-case name; a missing name, an unknown function or a non-finite
    result raises :class:`Unevaluable`.  ``draw`` (a number of spreads)
    lets the random functions in: ``agauss(mu, sigma, n)`` is then
    ``mu + draw sigma / n`` and so on, which tells a caller, by evaluating
    at two draws, whether a value depends on a random draw at all.
    """
    if isinstance(lookup, dict):
        table = lookup

        def lookup(name: str) -> float:  # noqa: F811 - the mapping as a callable
            if name not in table:
                raise Unevaluable(f"unknown name {name}")
            return table[name]
    p = _Parser(strip_value(text), lookup, draw)
    value = p.ternary()
    if p.peek()[0] != "end":
        raise Unevaluable(f"trailing text in {text!r}")
    if not math.isfinite(value):
        raise Unevaluable(f"{text!r} is not finite")
    return value
