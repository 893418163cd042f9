"""Parameter specs and the one safe path from user text to a netlist number.

Every circuit declares its parameters once, as a frozen dataclass deriving from
:class:`Params` whose fields are made with :func:`param` (name, type, default,
SI unit, valid range, one-line doc), in the manner of Hdl21's paramclasses.
``pycircuits list`` and the docs are generated from these declarations.

User text reaches a netlist only through :func:`parse_value` (which accepts a
plain number with an optional SPICE scale suffix, ``10k``, ``1meg``, ``2.5p``,
``1e-12``, and nothing else) and :func:`fmt` (which writes a finite number).
Any other text -- a newline, ``.control``, ``shell``, ``.include``, a node name
-- is refused with :class:`~pycircuits.errors.ParameterError` before anything is
written, because ngspice ``.control`` blocks can run shell commands.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ParameterError


class SuffixWarning(UserWarning):
    """A value whose SPICE suffix reads as milli (``M``) or femto (``F``) where mega or farad fit too."""

_SUFFIX = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3,
           "k": 1e3, "meg": 1e6, "g": 1e9, "t": 1e12}
_NUMBER = re.compile(
    r"^(?P<mant>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?P<suf>meg|[fpnumkgt])?$",
    re.IGNORECASE | re.ASCII,  # ASCII digits only: a Unicode digit is not a SPICE number
)
_MAX_TEXT = 64


@dataclass(frozen=True)
class ParamSpec:
    """What a parameter is: type, unit, default, range and meaning.

    ``kind`` is ``"float"``, ``"int"``, ``"choice"`` (one of ``choices``),
    ``"floats"`` (a tuple of floats, e.g. one value per synapse), ``"ints"``
    ``"path"`` (an existing file, read by the generator in Python and never
    written into a netlist; ``""`` = none) or ``"expr"`` (a user deck's
    parameter defined by an expression: ``None`` keeps the expression, a
    number overrides it).
    ``variability`` marks parameters that Monte Carlo draws (spreads, sigmas).
    """

    name: str
    kind: str
    default: Any
    unit: str
    doc: str
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    choices: tuple[str, ...] = ()
    variability: bool = False
    length_of: str | None = None

    def range_text(self) -> str:
        """The valid range as a short human-readable string."""
        if self.kind == "choice":
            return "|".join(self.choices)
        if self.kind == "path":
            return "file path"
        if self.kind == "expr":
            return "derived"
        lo = "-inf" if self.min is None else _exact(self.min, self.kind)
        hi = "inf" if self.max is None else _exact(self.max, self.kind)
        return f"{'(' if self.min_exclusive else '['}{lo}, {hi}]"


def _exact(value: float, kind: str) -> str:
    """A bound or value as a refusal shows it: integers in full, floats to 12 digits (1e+07 vs 10000001)."""
    if kind in ("int", "ints") and float(value).is_integer():
        return str(int(value))
    return f"{value:.12g}"


def param(default: Any, unit: str, doc: str, *, min: float | None = None,
          max: float | None = None, min_exclusive: bool = False,
          choices: Sequence[str] = (), variability: bool = False,
          length_of: str | None = None) -> Any:
    """Declare a parameter field of a :class:`Params` dataclass.

    The kind is taken from the default: float, int, str (then ``choices`` is
    required), or a tuple of numbers (one value per element; ``length_of``
    names the integer parameter its length must equal).
    """
    if isinstance(default, bool):
        raise TypeError("boolean parameters are declared as int 0/1")
    if isinstance(default, str):
        kind = "choice"
        if default not in choices:
            raise TypeError(f"default {default!r} not among choices {choices}")
    elif isinstance(default, tuple):
        kind = "ints" if all(isinstance(v, int) for v in default) and default else "floats"
    elif isinstance(default, int):
        kind = "int"
    else:
        kind = "float"
    spec = dict(kind=kind, default=default, unit=unit, doc=doc, min=min, max=max,
                min_exclusive=min_exclusive, choices=tuple(choices),
                variability=variability, length_of=length_of)
    return field(default=default, metadata={"spec": spec})


def path_param(doc: str) -> Any:
    """Declare a file-path parameter (default ``""``: no file); see :class:`ParamSpec`."""
    spec = dict(kind="path", default="", unit="", doc=doc, min=None, max=None, min_exclusive=False,
                choices=(), variability=False, length_of=None)
    return field(default="", metadata={"spec": spec})


_MAX_PATH = 4096


def _check_path(spec: ParamSpec, raw: Any) -> str:
    s = "" if raw is None else str(raw)
    if not s:
        return ""
    if len(s) > _MAX_PATH or not s.isprintable():
        raise ParameterError(f"parameter {spec.name}: not a usable file path")
    if not Path(s).is_file():
        raise ParameterError(f"parameter {spec.name}: file {s} not found")
    return s


@dataclass(frozen=True)
class Params:
    """Base of every circuit's parameter dataclass; validates on construction."""

    def __post_init__(self) -> None:
        for spec in specs(type(self)):
            value = _coerce(spec, getattr(self, spec.name))
            object.__setattr__(self, spec.name, value)
        for spec in specs(type(self)):
            if spec.length_of is not None:
                want = getattr(self, spec.length_of)
                got = len(getattr(self, spec.name))
                if got != want:
                    raise ParameterError(
                        f"parameter {spec.name}: {got} values given, "
                        f"{spec.length_of}={want} needs {want}")

    def replace(self, **changes: Any) -> Params:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Field name -> value, tuples kept as tuples."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


P = TypeVar("P", bound=Params)


def specs(cls: type[Params]) -> list[ParamSpec]:
    """The parameter specs of a Params class, in declaration order."""
    return list(_specs(cls))


@functools.lru_cache(maxsize=256)
def _specs(cls: type[Params]) -> tuple[ParamSpec, ...]:
    # built once per class: every parameter object validates against them
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("spec")
        if meta is not None:
            out.append(ParamSpec(name=f.name, **meta))
    return tuple(out)


def parse_number(text: str | float | int, name: str = "value") -> float:
    """Parse one number: plain or with a SPICE scale suffix (``10k``, ``1meg``, ``2.5p``).

    Refuses anything else -- units, expressions, newlines, dot-commands -- with
    a :class:`ParameterError` naming the parameter.
    """
    if isinstance(text, bool):
        raise ParameterError(f"parameter {name}: expected a number, got a boolean")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text)
        shown = s if len(s) <= _MAX_TEXT and s.isprintable() else repr(s[:_MAX_TEXT])
        m = _NUMBER.match(s.strip()) if s.isprintable() else None
        if m is None:
            raise ParameterError(
                f"parameter {name}: {shown!s} is not a number "
                "(expected e.g. 10k, 1meg, 2.5p, 1e-12)")
        value = float(m["mant"]) * _SUFFIX.get((m["suf"] or "").lower(), 1.0)
    if not math.isfinite(value):
        raise ParameterError(f"parameter {name}: {value} is not a finite number")
    return value


def fmt(value: float | int) -> str:
    """Format a number for a netlist: exact (``repr`` of the float) and finite.

    This is the only function that writes numbers into netlists, so a value
    that is not a finite real number can never reach ngspice.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            import numpy as np
            if isinstance(value, np.integer):
                return str(int(value))
            if isinstance(value, np.floating):
                value = float(value)
            else:
                raise TypeError
        except TypeError:
            raise ParameterError(f"not a number: {value!r}") from None
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ParameterError(f"not a finite number: {value!r}")
    return repr(float(value))


def _check_range(spec: ParamSpec, value: float) -> None:
    lo, hi = spec.min, spec.max
    low_bad = lo is not None and (value <= lo if spec.min_exclusive else value < lo)
    if low_bad or (hi is not None and value > hi):
        raise ParameterError(
            f"parameter {spec.name}={_exact(value, spec.kind)} is out of range {spec.range_text()} "
            f"{spec.unit}".rstrip())


def _coerce(spec: ParamSpec, raw: Any) -> Any:
    """Turn raw user input (text or Python values) into the spec's type, checked."""
    if spec.kind == "path":
        return _check_path(spec, raw)
    if spec.kind == "expr":  # a deck's derived parameter: None keeps the deck's expression
        return None if raw is None else _coerce_scalar(spec, raw, "float")
    if spec.kind == "choice":
        s = str(raw)
        if s not in spec.choices:
            shown = s if len(s) <= _MAX_TEXT and s.isprintable() else repr(s[:_MAX_TEXT])
            raise ParameterError(
                f"parameter {spec.name}: {shown} is not one of {', '.join(spec.choices)}")
        return s
    if spec.kind in ("floats", "ints"):
        if isinstance(raw, str):
            items: Sequence[Any] = [t for t in raw.split(",")]
        elif isinstance(raw, (int, float)):
            items = [raw]
        else:
            items = list(raw)
        if not items:
            raise ParameterError(f"parameter {spec.name}: needs at least one value")
        values = tuple(_coerce_scalar(spec, v, "int" if spec.kind == "ints" else "float")
                       for v in items)
        return values
    return _coerce_scalar(spec, raw, spec.kind)


def _suffix_warning(spec: ParamSpec, text: str, value: float) -> None:
    """Warn when ``10M`` (milli, as in SPICE) or ``1F`` (femto) could have meant mega or farads here."""
    m = _NUMBER.match(text.strip())
    if m is None or m["suf"] not in ("M", "F"):
        return
    meant, what = (float(m["mant"]) * 1e6, "mega: write meg") if m["suf"] == "M" else (float(m["mant"]), "farads")
    try:
        _check_range(spec, meant)
    except ParameterError:
        return  # the other reading is out of range: nothing to confuse
    import warnings
    warnings.warn(f"{spec.name}={text.strip()} reads as {value:g} ({'milli' if m['suf'] == 'M' else 'femto'}, "
                  f"as in SPICE), not {meant:g} ({what})", SuffixWarning, stacklevel=4)


def _coerce_scalar(spec: ParamSpec, raw: Any, kind: str) -> float | int:
    if kind == "int" and isinstance(raw, int) and not isinstance(raw, bool):
        _check_range(spec, raw)  # exactly: an integer past 2**53 must not round through a float
        return raw
    if kind == "int" and isinstance(raw, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", raw):
        _check_range(spec, int(raw))
        return int(raw)
    value = parse_number(raw, spec.name)
    if isinstance(raw, str):
        _suffix_warning(spec, raw, value)
    if kind == "int":
        if value != int(value):
            raise ParameterError(f"parameter {spec.name}: {fmt(value)} is not an integer")
        value = int(value)
    _check_range(spec, value)
    return value


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """Split ``NAME=VALUE`` strings from the command line into a dict (values unparsed)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            shown = pair if len(pair) <= _MAX_TEXT and pair.isprintable() else repr(pair[:_MAX_TEXT])
            raise ParameterError(f"expected NAME=VALUE, got {shown}")
        out[name] = value
    return out


def make_params(cls: type[P], values: Mapping[str, Any] | None = None) -> P:
    """Build a validated parameter object from defaults overridden by ``values``.

    Unknown names are refused with the list of valid ones.
    """
    values = dict(values or {})
    known = {s.name for s in specs(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ParameterError(
            f"unknown parameter {unknown[0]!s}; valid: {', '.join(sorted(known))}")
    try:
        return cls(**values)
    except ParameterError:
        raise
    except (TypeError, ValueError) as exc:  # pragma: no cover - dataclass misuse
        raise ParameterError(str(exc)) from None
