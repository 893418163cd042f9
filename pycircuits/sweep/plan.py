"""Sweep plans: swept axes, Monte Carlo samples and corners, validated into a list of points.

A plan is what the user asked for -- ``--vary r=log:1k:100k:5 --mc 100 --seed 1
--corner tt,ss`` or the same in a TOML file -- checked completely before any
simulation: unknown parameters, empty or too large ranges, log ranges through
zero and out-of-range values are refused with one-line
:class:`~pycircuits.errors.UsageError`.

Points are numbered in C order over the dimensions ``(corner, *axes, mc)``
(``corner`` only when several corners are given, ``mc`` only with Monte
Carlo; the first axis is outermost).  Point ``i`` draws its Monte Carlo values
from ``default_rng(SeedSequence(seed).spawn(n_points)[i])``, so the numbers
depend on the seed and the point alone, never on workers or scheduling.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError, UsageError
from ..files import jsonable
from ..params import ParamSpec, make_params, parse_number, specs

MAX_POINTS = 1_000_000
_KINDS = ("lin", "log", "list")
_PLAN_KEYS = {"circuit", "pdk", "corners", "corner", "mc", "seed", "params", "vary", "vary_mc", "ngspice_threads",
              "batch_size", "allow_control", "backend", "engine"}
_DISTS = ("lognormal", "normal", "uniform")


@dataclass(frozen=True)
class McDist:
    """A Monte Carlo distribution the sweep names for one parameter (``--vary-mc``).

    ``lognormal:SIGMA`` multiplies the point's value by ``exp(SIGMA*z)``;
    ``normal:REL%`` by ``1 + REL/100*z``; ``normal:ABS`` adds ``ABS*z``;
    ``uniform:A:B`` draws from [A, B).  ``z`` is a standard normal draw.
    """

    name: str
    kind: str  # lognormal | normal | normal% | uniform
    a: float
    b: float = 0.0
    spec: str = ""

    def draw(self, base: float | None, rng: np.random.Generator) -> float:
        """One sample around ``base`` (the point's value) from ``rng``."""
        if self.kind == "uniform":
            return float(rng.uniform(self.a, self.b))
        z = float(rng.standard_normal())
        if self.kind == "lognormal":
            return float(base * math.exp(self.a * z))
        if self.kind == "normal%":
            return float(base * (1.0 + self.a / 100.0 * z))
        return float(base + self.a * z)

    @property
    def relative(self) -> bool:
        """Whether the draw is around the point's own value (and so needs a number there)."""
        return self.kind != "uniform"


@dataclass(frozen=True)
class Axis:
    """One swept parameter: its name, how it was written and its values (in sweep order)."""

    name: str
    kind: str  # lin | log | list
    spec: str  # as the user wrote it, e.g. "log:1k:100k:5"
    values: tuple[Any, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description (for provenance)."""
        return {"name": self.name, "kind": self.kind, "spec": self.spec, "values": list(self.values)}


@dataclass(frozen=True)
class Point:
    """One simulation of a sweep.

    ``params_values`` holds every parameter that differs from the circuit's
    defaults (base, swept and Monte Carlo values) as literal numbers;
    ``coords`` the swept values in axis order; ``mc_values`` the overrides the
    circuit's Monte Carlo sampler drew (empty without Monte Carlo).
    """

    index: int
    params_values: dict[str, Any] = field(hash=False)
    corner: str
    mc_index: int | None
    coords: tuple[Any, ...]
    mc_values: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Plan:
    """A validated sweep plan; :meth:`points` expands it."""

    circuit: str
    params: dict[str, Any]
    axes: tuple[Axis, ...]
    mc: int
    seed: int
    corners: tuple[str, ...]
    pdk: str
    vary_mc: tuple[McDist, ...] = ()

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimension names in point order: ``corner`` (if several), the axes, ``mc`` (if any)."""
        out = ("corner",) if len(self.corners) > 1 else ()
        out += tuple(a.name for a in self.axes)
        return out + (("mc",) if self.mc else ())

    @property
    def shape(self) -> tuple[int, ...]:
        """Length of each dimension of :attr:`dims`."""
        out = (len(self.corners),) if len(self.corners) > 1 else ()
        out += tuple(len(a.values) for a in self.axes)
        return out + ((self.mc,) if self.mc else ())

    @property
    def n_points(self) -> int:
        """Number of simulations the plan asks for."""
        return math.prod(self.shape)

    def points(self) -> list[Point]:
        """Every point, in C order over :attr:`dims`, with Monte Carlo values drawn."""
        from ..circuits import get
        defn = get(self.circuit)
        out: list[Point] = []
        grid = list(itertools.product(*(a.values for a in self.axes)))
        samples = range(self.mc) if self.mc else [None]
        for corner in self.corners:
            for coords in grid:
                values = dict(self.params)
                values.update(zip((a.name for a in self.axes), coords, strict=True))
                for m in samples:
                    index = len(out)
                    drawn = _draw(defn, values, self.seed, index, self.vary_mc) if m is not None else {}
                    out.append(Point(index, {**values, **drawn}, corner, m, coords, drawn))
        return out

    def to_json(self) -> str:
        """The plan as JSON text (stored with the dataset)."""
        return json.dumps({"circuit": self.circuit, "pdk": self.pdk, "corners": list(self.corners),
                           "mc": self.mc, "seed": self.seed, "params": jsonable(self.params),
                           "vary": [a.to_json() for a in self.axes],
                           "vary_mc": {d.name: d.spec for d in self.vary_mc}})


def point_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of point ``index``: ``default_rng(SeedSequence(seed).spawn(n)[index])``.

    ``SeedSequence(seed, spawn_key=(index,))`` is that child, built in O(1).
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def _draw(defn, values: Mapping[str, Any], seed: int, index: int,
          dists: Sequence[McDist] = ()) -> dict[str, Any]:
    """Point ``index``'s sample: the circuit's sampler, then the named distributions, from one generator."""
    params = make_params(defn.params, values)
    rng = point_rng(seed, index)
    drawn = defn.monte_carlo(params, rng) if defn.monte_carlo is not None else {}
    out = {k: _literal(v) for k, v in drawn.items()}
    for d in dists:
        out[d.name] = d.draw(out.get(d.name, getattr(params, d.name)), rng)
    try:
        make_params(defn.params, {**values, **out})
    except ParameterError as exc:
        raise UsageError(f"Monte Carlo sample of point {index} is invalid: {exc}") from None
    return out


def _literal(v: Any) -> Any:
    """A drawn value as a plain Python number (or tuple of numbers)."""
    if isinstance(v, (tuple, list, np.ndarray)):
        return tuple(_literal(x) for x in v)
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    return float(v)


def parse_axis(text: str, spec: ParamSpec | None = None, name: str | None = None) -> Axis:
    """Parse ``NAME=lin:A:B:N``, ``NAME=log:A:B:N`` or ``NAME=list:a,b,c`` (or just the part after =).

    Numbers go through :func:`~pycircuits.params.parse_number` (``10k``,
    ``2.5p``); ``spec`` (the parameter's) makes integer parameters integers
    and lets ``list:`` name the choices of a choice parameter.
    """
    if name is None:
        name, sep, text = str(text).partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--vary expects NAME=lin:A:B:N|log:A:B:N|list:a,b,c, got {_shown(name + sep + text)}")
    kind, sep, body = str(text).strip().partition(":")
    if not sep or kind not in _KINDS:
        raise UsageError(f"--vary {name}: expected lin:A:B:N, log:A:B:N or list:a,b,c, got {_shown(text)}")
    if kind == "list":
        items = [t.strip() for t in body.split(",") if t.strip()]
        if not items:
            raise UsageError(f"--vary {name}: empty list")
        if len(items) > MAX_POINTS:
            raise UsageError(f"--vary {name}: {len(items)} values; at most {MAX_POINTS}")
        if spec is not None and spec.kind == "choice":
            return Axis(name, kind, str(text), tuple(items))
        values = [parse_number(t, name) for t in items]
    else:
        parts = body.split(":")
        if len(parts) != 3:
            raise UsageError(f"--vary {name}: {kind} takes START:STOP:N, got {_shown(text)}")
        a, b = parse_number(parts[0], name), parse_number(parts[1], name)
        n = parse_number(parts[2], f"{name} (number of values)")
        if n != int(n):
            raise UsageError(f"--vary {name}: the number of values must be an integer, got {parts[2]}")
        n = int(n)
        if n < 1:
            raise UsageError(f"--vary {name}: empty range ({n} values)")
        if n > MAX_POINTS:
            raise UsageError(f"--vary {name}: {n} values; at most {MAX_POINTS}")
        if kind == "log":
            if a <= 0 or b <= 0:
                raise UsageError(f"--vary {name}: a log range needs positive bounds, got {parts[0]}:{parts[1]}")
            values = np.geomspace(a, b, n).tolist()
            values[0], values[-1] = a, b  # exact endpoints as written
        else:
            values = np.linspace(a, b, n).tolist()
    typed = tuple(_typed(spec, name, v) for v in values)
    if len(set(typed)) < len(typed):  # a dataset coordinate holds each value once
        twice = next(v for v in typed if typed.count(v) > 1)
        raise UsageError(f"--vary {name}: the value {twice:g} comes twice (an integer parameter rounds "
                         "its values); give each value once" if spec is not None and spec.kind == "int"
                         else f"--vary {name}: the value {twice:g} comes twice; give each value once")
    return Axis(name, kind, str(text), typed)


def _typed(spec: ParamSpec | None, name: str, v: float) -> Any:
    if spec is not None and spec.kind == "int":
        r = round(v)
        if abs(v - r) > 1e-9 * max(1.0, abs(v)):
            raise UsageError(f"--vary {name}: {v:g} is not an integer (parameter {name} is one)")
        return int(r)
    return float(v)


def _shown(text: str) -> str:
    text = str(text)
    return text if len(text) <= 64 and text.isprintable() else repr(text[:64])


def _axes_of(vary: Mapping[str, Any] | Iterable[Any] | None, by_name: dict[str, ParamSpec]) -> list[Axis]:
    """Axes from ``{"r": "log:1k:1meg:5", "c": [1e-9, 2e-9]}``, ``["r=lin:1k:2k:3"]`` or Axis objects."""
    if vary is None:
        return []
    items: list[tuple[str | None, Any]]
    if isinstance(vary, Mapping):
        items = list(vary.items())
    else:
        items = [(None, v) for v in vary]
    axes: list[Axis] = []
    for name, v in items:
        if isinstance(v, Axis):
            name, v = v.name, v.spec
        elif name is None:
            name, _, v = str(v).partition("=")
            name = name.strip()
        if name not in by_name:
            raise UsageError(f"--vary: unknown parameter {_shown(name)}; valid: {', '.join(sorted(by_name))}")
        spec = by_name[name]
        # A per-element parameter (one value per synapse...) takes the swept
        # value as a single element: valid when its length parameter is 1, and
        # refused with the length message by the Params check otherwise.
        if isinstance(v, (list, tuple)):
            v = "list:" + ",".join(str(x) for x in v)
        axes.append(parse_axis(str(v), spec, name))
    return axes


def parse_mc(text: str, name: str | None = None) -> McDist:
    """Parse ``NAME=lognormal:SIGMA``, ``normal:REL%``, ``normal:ABS`` or ``uniform:A:B``."""
    if name is None:
        name, sep, text = str(text).partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--vary-mc expects NAME=lognormal:SIGMA|normal:REL%|normal:ABS|uniform:A:B, "
                             f"got {_shown(name + sep + text)}")
    kind, sep, body = str(text).strip().partition(":")
    parts = body.split(":")
    if not sep or kind not in _DISTS or len(parts) != (2 if kind == "uniform" else 1):
        raise UsageError(f"--vary-mc {name}: expected lognormal:SIGMA, normal:REL%, normal:ABS or uniform:A:B, "
                         f"got {_shown(text)}")
    if kind == "uniform":
        a, b = parse_number(parts[0], name), parse_number(parts[1], name)
        if not a < b:
            raise UsageError(f"--vary-mc {name}: uniform:A:B needs A < B, got {parts[0]}:{parts[1]}")
        return McDist(name, kind, a, b, str(text).strip())
    percent = kind == "normal" and parts[0].strip().endswith("%")
    a = parse_number(parts[0].strip().rstrip("%") if percent else parts[0], name)
    if a < 0:
        raise UsageError(f"--vary-mc {name}: the spread must be >= 0, got {parts[0]}")
    return McDist(name, "normal%" if percent else kind, a, 0.0, str(text).strip())


def _mc_of(vary_mc: Mapping[str, Any] | Iterable[Any] | None, by_name: dict[str, ParamSpec]) -> list[McDist]:
    if not vary_mc:
        return []
    items = list(vary_mc.items()) if isinstance(vary_mc, Mapping) else [(None, v) for v in vary_mc]
    out: list[McDist] = []
    for name, v in items:
        d = v if isinstance(v, McDist) else parse_mc(str(v), name)
        if d.name not in by_name:
            raise UsageError(f"--vary-mc: unknown parameter {_shown(d.name)}; valid: {', '.join(sorted(by_name))}")
        if by_name[d.name].kind not in ("float", "expr"):
            raise UsageError(f"--vary-mc {d.name}: only a number parameter can be drawn")
        if any(o.name == d.name for o in out):
            raise UsageError(f"--vary-mc {d.name}: parameter given twice")
        out.append(d)
    return out


def _corner_list(corners: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(corners, str):
        corners = [corners]
    out = tuple(c.strip() for item in corners for c in str(item).split(",") if c.strip())
    if not out:
        raise UsageError("--corner: no corner given")
    if len(set(out)) != len(out):
        raise UsageError(f"--corner: a corner is given twice ({','.join(out)})")
    return out


def build_plan(circuit: str, vary: Mapping[str, Any] | Iterable[Any] | None = None,
               params: Mapping[str, Any] | None = None, mc: int = 0, seed: int = 0,
               corners: str | Sequence[str] | None = None, pdk: str = "generic130",
               vary_mc: Mapping[str, Any] | Iterable[Any] | None = None, allow_control: bool = False) -> Plan:
    """Validate a sweep request completely and return its :class:`Plan`.

    Every problem -- unknown circuit, parameter, PDK or corner; an empty range;
    a log range with a bound <= 0; more than 10**6 values; a value outside its
    parameter's range; ``mc`` on a circuit without a Monte Carlo sampler -- is
    a :class:`UsageError` naming it, raised before anything runs.
    """
    from ..circuits import check_corner, default_corner, get
    from ..pdk import get_pdk
    defn = get(circuit)
    deck = defn.extra.get("deck")
    if deck is not None and deck.control and not allow_control:
        raise UsageError(f"{circuit} lines {deck.control[0]}-{deck.control[1]}: a .control block, which sweep "
                         "workers do not run: write its analyses as dot cards (.tran, .meas...), or give "
                         "--allow-control to run it at every point")
    by_name = {s.name: s for s in specs(defn.params)}
    taken = set(by_name) | {"error", "ok", "meas_failed", "mc", "corner"}
    clash = sorted(m for m in defn.measures if m in taken or m.startswith("mc_"))
    if clash:
        raise UsageError(f"{circuit}: measure {clash[0]!r} has the name of a parameter or of a dataset variable "
                         "(error, ok, meas_failed, mc, corner, mc_*); rename the .meas")
    axes = _axes_of(vary, by_name)
    dists = _mc_of(vary_mc, by_name)
    # unknown names and bad values refused here; the swept values take part, so
    # that a base is judged as it will run (e.g. n_syn=1 with one swept r_delay)
    first = {a.name: a.values[0] for a in axes if a.values and a.name not in (params or {})}
    base = make_params(defn.params, {**(params or {}), **first})
    given = {k: getattr(base, k) for k in (params or {})}
    seen: set[str] = set()
    for axis in axes:
        if axis.name in seen:
            raise UsageError(f"--vary {axis.name}: parameter swept twice")
        if axis.name in given:
            raise UsageError(f"--vary {axis.name}: also set with -p; give it one way")
        seen.add(axis.name)
        for value in axis.values:
            make_params(defn.params, {**given, axis.name: value})
    mc, seed = _count(mc, "--mc"), _count(seed, "--seed")
    if mc and defn.monte_carlo is None and not dists:
        raise UsageError(f"circuit {circuit} has no Monte Carlo sampler; --mc needs one, or name the "
                         "distributions with --vary-mc NAME=lognormal:SIGMA|normal:REL%|normal:ABS|uniform:A:B")
    if dists and not mc:
        raise UsageError("--vary-mc draws Monte Carlo samples: give their number with --mc N")
    for d in dists:
        if not d.relative and any(a.name == d.name for a in axes):  # a relative draw varies around each value
            raise UsageError(f"--vary-mc {d.name}={d.spec}: the parameter is also swept with --vary and a "
                             "uniform draw would replace the swept value; give it one way")
        if d.relative and getattr(base, d.name) is None:
            raise UsageError(f"--vary-mc {d.name}: the parameter is derived (no number to vary around); "
                             "set it with -p or draw it with uniform:A:B")
    corner_list = _corner_list(corners) if corners is not None else (default_corner(defn),)
    pdk_name = "" if deck is not None else get_pdk(pdk).name
    for c in corner_list:
        check_corner(defn, pdk, c)
    plan = Plan(circuit=defn.name, params=given, axes=tuple(axes), mc=mc, seed=seed,
                corners=corner_list, pdk=pdk_name, vary_mc=tuple(dists))
    if plan.n_points > MAX_POINTS:
        raise UsageError(f"the plan has {plan.n_points} points; at most {MAX_POINTS} per sweep")
    return plan


MAX_SEED = 2**63 - 1  # the dataset keeps the seed as a 64-bit integer


def _count(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        n: float | int = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        n = int(value)  # exactly, not through a float
    else:
        try:
            n = parse_number(value, what)
        except ParameterError:
            raise UsageError(f"{what}: expected a non-negative integer, got {_shown(str(value))}") from None
    if n != int(n) or n < 0:
        raise UsageError(f"{what}: expected a non-negative integer, got {_shown(str(value))}")
    if n > MAX_POINTS and what == "--mc":
        raise UsageError(f"--mc {int(n)}: at most {MAX_POINTS} samples")
    if n > MAX_SEED and what == "--seed":
        raise UsageError(f"--seed {_shown(str(value))}: at most 2**63 - 1")
    return int(n)


def load_plan_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML sweep file into :func:`build_plan` keywords (plus ``circuit``).

    Example::

        circuit = "rc"
        corners = ["tt", "ss"]
        mc = 100
        seed = 1
        [params]
        sigma_r = 0.1
        [vary]
        r = "log:1k:100k:5"
        c = [1e-9, 2e-9]

    ``backend = "vacask"`` (or ``engine = "vacask"``) runs the points on
    VACASK; ``"batch"`` on ``ngspice -b``; the default is the session.

    A deck (``circuit = "rcf.cir"``) names its Monte Carlo distributions::

        [vary_mc]
        r = "lognormal:0.1"
        c = "normal:5%"
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read sweep file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"sweep file {path} is not valid TOML: {str(exc).splitlines()[0]}") from None
    unknown = sorted(set(data) - _PLAN_KEYS)
    if unknown:
        raise UsageError(f"sweep file {path}: unknown key {unknown[0]!r}; valid: {', '.join(sorted(_PLAN_KEYS))}")
    for key in ("params", "vary"):
        if key in data and not isinstance(data[key], dict):
            raise UsageError(f"sweep file {path}: [{key}] must be a table of NAME = VALUE")
    if "vary_mc" in data and not (isinstance(data["vary_mc"], dict)
                                  and all(isinstance(v, str) for v in data["vary_mc"].values())):
        raise UsageError(f'sweep file {path}: [vary_mc] must be a table of NAME = "lognormal:SIGMA"...')
    if "allow_control" in data and not isinstance(data["allow_control"], bool):
        raise UsageError(f"sweep file {path}: allow_control must be true or false")
    for key in ("circuit", "pdk", "backend", "engine"):
        if key in data and not isinstance(data[key], str):
            raise UsageError(f"sweep file {path}: {key} must be a string")
    if "backend" in data and "engine" in data and data["backend"] != data["engine"]:
        raise UsageError(f"sweep file {path}: backend and engine name two engines; give one")
    out = dict(data)
    if "engine" in out:  # the same key, as the engine is named elsewhere
        out["backend"] = out.pop("engine")
    from ..circuits.deck import is_deck_name
    if "circuit" in out and is_deck_name(out["circuit"]) and not Path(out["circuit"]).expanduser().is_absolute():
        out["circuit_as_written"] = out["circuit"]  # a deck named in the file is found beside the file
        out["circuit"] = str(path.parent / out["circuit"])
    if "corner" in out:
        out["corners"] = out.pop("corner")
    corners = out.get("corners")
    if corners is not None and not (isinstance(corners, str) or
                                    (isinstance(corners, list) and all(isinstance(c, str) for c in corners))):
        raise UsageError(f'sweep file {path}: corners must be a string or a list of strings, like ["tt", "ss"]')
    for key, v in out.get("params", {}).items():
        if isinstance(v, (dict, bool)) or (isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v)):
            raise UsageError(f"sweep file {path}: params.{key} must be a number, a string or a list of numbers")
    return out
