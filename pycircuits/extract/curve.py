"""TransferCurve: what a circuit does, with its spread, as a small JSON file.

A TransferCurve maps one input quantity ``x`` (a grid, SI units) to one
output quantity ``y``: the median over Monte Carlo samples, optional 5/25/75/95
percentiles and optionally the samples themselves, plus the provenance needed
to reproduce it (circuit, parameters, seed, ngspice version, PDK, corner,
netlist hash).  The network simulator reads curves and nothing of SPICE.

File format (``SCHEMA_VERSION`` 1): one JSON object whose keys are the
dataclass fields.  Floats are written with ``repr`` so they read back
bit-identical; non-finite floats are written as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` to keep the file strict JSON, and those
three strings read back as floats wherever they appear.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import PchipInterpolator

from pycircuits.errors import FileFormatError

SCHEMA_VERSION = 1

PERCENTILES = (5, 25, 75, 95)

_REQUIRED_KEYS = ("schema_version", "name", "x", "x_unit", "y", "y_unit")

# Above this max(x)/min(x) the grid spans decades and is interpolated in log(x).
_LOG_X_SPAN = 100.0

# z of the 95th percentile of a standard normal: 5-95 % band = 2 * 1.6449 sigma.
_Z95 = 1.6448536269514722

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

_TEXT_FIELDS = (
    "name",
    "x_unit",
    "y_unit",
    "x_name",
    "y_name",
    "recipe",
    "circuit",
    "ngspice_version",
    "pdk",
    "corner",
    "netlist_hash",
)

# Fields whose JSON may hold the names of non-finite floats.
_NUMERIC_FIELDS = ("x", "y", "percentiles", "samples", "params", "extra")


@dataclass(frozen=True, eq=False)
class TransferCurve:
    """A sampled transfer curve ``y(x)`` with its spread and provenance.

    Arrays are stored as read-only float64 copies.  ``percentiles`` maps a
    percentile (5, 25, 75, 95) to an array on the x grid; ``samples`` is an
    ``(n_x, n_samples)`` Monte Carlo array or None.  ``x`` must be strictly
    increasing; NaN in ``y`` (a failed sweep point) is kept in the file and
    skipped by interpolation.  ``log_x=None`` chooses log-x interpolation when
    ``x > 0`` spans more than a factor 100.
    """

    name: str
    x: np.ndarray
    x_unit: str
    y: np.ndarray
    y_unit: str
    percentiles: dict[int, np.ndarray] = field(default_factory=dict)
    samples: np.ndarray | None = None
    x_name: str = "x"
    y_name: str = "y"
    recipe: str = ""
    circuit: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    ngspice_version: str = ""
    pdk: str = ""
    corner: str = ""
    netlist_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    log_x: bool | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self._check_types()
        x = _frozen_array(self.x, "x", ndim=1)
        if x.size < 2:
            raise ValueError(f"x needs at least 2 points, got {x.size}")
        if not np.all(np.isfinite(x)) or np.any(x[1:] <= x[:-1]):
            raise ValueError("x must be finite and strictly increasing")
        set_ = object.__setattr__  # frozen: assignment only while building
        set_(self, "x", x)
        set_(self, "y", _frozen_array(self.y, "y", shape=x.shape))
        bands = {
            _percentile_key(p): _frozen_array(v, f"percentile {p}", shape=x.shape)
            for p, v in self.percentiles.items()
        }
        set_(self, "percentiles", bands)
        if self.samples is not None:
            samples = _frozen_array(self.samples, "samples", ndim=2)
            if samples.shape[0] != x.size:
                raise ValueError(
                    f"samples have {samples.shape[0]} rows, x has {x.size} points (mismatched length)"
                )
            set_(self, "samples", samples)
        if self.seed is not None:
            set_(self, "seed", _as_int(self.seed, "seed"))
        if self.log_x is None:
            with np.errstate(over="ignore"):  # a huge span is still a span
                set_(self, "log_x", bool(x[0] > 0 and x[-1] > _LOG_X_SPAN * x[0]))
        elif self.log_x and x[0] <= 0:
            raise ValueError("log_x needs x > 0")
        set_(self, "params", dict(self.params))
        set_(self, "extra", dict(self.extra))
        set_(self, "schema_version", SCHEMA_VERSION)

    def _check_types(self) -> None:
        """Refuse field types that would not survive the JSON round trip."""
        if not _is_schema_version(self.schema_version):
            raise ValueError(
                f"unknown schema_version {self.schema_version!r} (this pycircuits reads {SCHEMA_VERSION})"
            )
        for name in _TEXT_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string, got {getattr(self, name)!r}")
        for name in ("percentiles", "params", "extra"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise TypeError(f"{name} must be a mapping, got {type(value).__name__}")
            if name != "percentiles" and not all(isinstance(k, str) for k in value):
                raise TypeError(f"{name} keys must be strings")
        if self.log_x is not None and not isinstance(self.log_x, (bool, np.bool_)):
            raise TypeError(f"log_x must be true, false or null, got {self.log_x!r}")

    # ------------------------------------------------------------------ build

    @classmethod
    def from_samples(
        cls,
        name: str,
        x: ArrayLike,
        samples: ArrayLike,
        x_unit: str,
        y_unit: str,
        **kwargs: Any,
    ) -> TransferCurve:
        """Build a curve from an ``(n_x, n_samples)`` Monte Carlo array.

        Median and 5/25/75/95 percentiles are taken over each row ignoring NaN
        (failed runs); a row with no finite sample gives NaN.  ``kwargs`` are
        the other fields (provenance, ``extra``, ``log_x``).
        """
        samples = np.asarray(samples, dtype=float)
        if samples.ndim != 2:
            raise ValueError(f"samples must be 2-D (n_x, n_samples), got shape {samples.shape}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows -> NaN
            median = np.nanmedian(samples, axis=1)
            bands = np.nanpercentile(samples, PERCENTILES, axis=1)
        percentiles = dict(zip(PERCENTILES, bands, strict=True))
        return cls(name, x, x_unit, median, y_unit, percentiles, samples, **kwargs)

    # ----------------------------------------------------------- interpolate

    @cached_property
    def _finite(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Grid points with a finite median, as (x, u, y); u = log(x) if log_x."""
        ok = np.isfinite(self.y)
        if np.count_nonzero(ok) < 2:
            raise ValueError(f"curve {self.name!r} has fewer than 2 finite points")
        return self.x[ok], self._u(self.x[ok]), self.y[ok]

    def _u(self, x: np.ndarray) -> np.ndarray:
        """Interpolation coordinate: log(x) when log_x, else x."""
        return np.log(x) if self.log_x else x

    @property
    def is_monotone(self) -> bool:
        """True when the finite median points are strictly increasing or decreasing."""
        ok = np.isfinite(self.y)
        dy = np.diff(self.y[ok])
        return dy.size > 0 and bool(np.all(dy > 0) or np.all(dy < 0))

    @property
    def has_spread(self) -> bool:
        """True when :meth:`sample` draws a spread (Monte Carlo columns or a 5-95 % band), not the median."""
        return self._good_columns.size >= 2 or (5 in self.percentiles and 95 in self.percentiles)

    @cached_property
    def _interpolant(self) -> Callable[[np.ndarray], np.ndarray]:
        """PCHIP on u for monotone curves (keeps them monotone), else linear."""
        _, u, y = self._finite
        if self.is_monotone:
            return PchipInterpolator(u, y, extrapolate=False)
        return lambda q: np.interp(q, u, y)

    def _clip_u(self, x: ArrayLike) -> np.ndarray:
        """u of the query, held inside the grid (no extrapolation)."""
        xf, u, _ = self._finite
        x = np.clip(np.asarray(x, dtype=float), xf[0], xf[-1])
        return np.clip(self._u(x), u[0], u[-1])  # log may round past the ends

    def __call__(self, x: ArrayLike) -> np.ndarray | float:
        """Median y at ``x`` (units of ``x_unit``).

        PCHIP when the curve is monotone, linear otherwise, in log(x) when
        ``log_x``.  Outside the grid the end value is held: the curve says
        nothing about inputs it was not simulated at.
        """
        out = self._interpolant(self._clip_u(x))
        return float(out) if np.ndim(x) == 0 else out

    def inverse(self, y: ArrayLike) -> np.ndarray | float:
        """The ``x`` at which the curve equals ``y``; monotone curves only.

        Solved on the interpolant itself (safeguarded Newton on each PCHIP
        piece), so ``inverse(curve(x)) == x`` to rounding.  Raises
        ``ValueError`` for a non-monotone curve or ``y`` outside its range.
        """
        if not self.is_monotone:
            raise ValueError(f"curve {self.name!r} is not monotone; its inverse is undefined")
        _, u, y_nodes = self._finite
        target = np.asarray(y, dtype=float)
        reach = np.concatenate([self._interpolant(u[[0, -1]]), y_nodes])
        lo, hi = float(reach.min()), float(reach.max())
        slack = 1e-12 * (hi - lo)  # values from curve(x_end) may differ by rounding
        if np.any(~np.isfinite(target)) or np.any((target < lo - slack) | (target > hi + slack)):
            raise ValueError(
                f"inverse of curve {self.name!r}: y must be finite and within [{lo!r}, {hi!r}] {self.y_unit}"
            )
        root = _solve_monotone(self._interpolant, u, y_nodes, np.clip(target, lo, hi).ravel())
        out = (np.exp(root) if self.log_x else root).reshape(target.shape)
        return float(out) if target.ndim == 0 else out

    # ----------------------------------------------------------------- spread

    def sample(
        self,
        x: ArrayLike,
        rng: np.random.Generator | int | None,
        size: int | tuple[int, ...] | None = None,
    ) -> np.ndarray | float:
        """Draw device-to-device values of y at ``x``.

        With Monte Carlo ``samples`` each draw picks one sample column (one
        simulated device) and applies its ratio to the median, interpolated
        in x, to ``curve(x)``; the deviation instead of the ratio when the
        median changes sign or touches zero.  Columns with a failed run (NaN)
        are not drawn.  Without usable samples, draws are log-normal (all
        values positive) or normal with the 5-95 % band of ``percentiles``;
        without either, the median itself.  Output shape:
        ``size + shape(x)``.
        """
        rng = np.random.default_rng(rng)
        x = np.asarray(x, dtype=float)
        lead = () if size is None else tuple(np.atleast_1d(size).tolist())
        xq = np.broadcast_to(x, lead + x.shape)
        center = np.asarray(self(xq), dtype=float)
        cols = self._good_columns
        if cols.size >= 2:
            out = self._sample_columns(xq, center, cols, rng)
        elif 5 in self.percentiles and 95 in self.percentiles:
            out = self._sample_band(xq, center, rng)
        else:
            out = center.copy()
        return float(out) if out.ndim == 0 else out

    @cached_property
    def _good_columns(self) -> np.ndarray:
        if self.samples is None:
            return np.zeros(0, dtype=int)
        return np.flatnonzero(np.all(np.isfinite(self.samples), axis=0))

    @cached_property
    def _ratio_mode(self) -> bool:
        """Spread as ratios to the median when the median keeps one strict sign."""
        y = self.y[np.isfinite(self.y)]
        return bool(np.all(y > 0) or np.all(y < 0))

    def _grid_weights(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index k and weight w of each query between grid points k and k+1."""
        ug = self._u(self.x)
        uq = np.clip(self._u(np.clip(xq, self.x[0], self.x[-1])), ug[0], ug[-1])
        k = np.clip(np.searchsorted(ug, uq, side="right") - 1, 0, ug.size - 2)
        return k, (uq - ug[k]) / (ug[k + 1] - ug[k])

    def _sample_columns(
        self,
        xq: np.ndarray,
        center: np.ndarray,
        cols: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        s = self.samples[:, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            dev = s / self.y[:, None] if self._ratio_mode else s - self.y[:, None]
        k, w = self._grid_weights(xq)
        j = rng.integers(0, cols.size, size=xq.shape)
        d = (1 - w) * dev[k, j] + w * dev[k + 1, j]
        return center * d if self._ratio_mode else center + d

    def _sample_band(self, xq: np.ndarray, center: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p5, p95 = self.percentiles[5], self.percentiles[95]
        lognormal = bool(np.all(p5 > 0) and np.all(p95 > 0) and np.all(self.y > 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            width = np.log(p95 / p5) if lognormal else p95 - p5
        sigma = np.interp(
            self._u(np.clip(xq, self.x[0], self.x[-1])),
            self._u(self.x),
            width / (2 * _Z95),
        )
        z = rng.standard_normal(xq.shape)
        return center * np.exp(sigma * z) if lognormal else center + sigma * z

    # -------------------------------------------------------------------- I/O

    def to_dict(self) -> dict[str, Any]:
        """The curve as plain JSON-ready data (lists, strings, numbers)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "percentiles":
                value = {repr(p): v for p, v in value.items()}
            out[f.name] = _encode(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> TransferCurve:
        """Rebuild a curve from :meth:`to_dict` data; ``FileFormatError`` if malformed.

        ``source`` names the file in the one-line error message.
        """
        if not isinstance(data, Mapping):
            raise FileFormatError(f"{source}: not a TransferCurve (a JSON object is expected)")
        version = data.get("schema_version")
        if not _is_schema_version(version):
            raise FileFormatError(
                f"{source}: unknown TransferCurve schema_version {version!r} "
                f"(this pycircuits reads {SCHEMA_VERSION})"
            )
        known = {f.name for f in fields(cls)}
        missing = [k for k in _REQUIRED_KEYS if k not in data]
        unknown = sorted(set(data) - known)
        if missing or unknown:
            problem = f"missing keys {missing}" if missing else f"unknown keys {unknown}"
            raise FileFormatError(f"{source}: not a valid TransferCurve: {problem}")
        try:
            kwargs = {k: _decode(v) if k in _NUMERIC_FIELDS else v for k, v in data.items()}
            if isinstance(kwargs.get("percentiles"), Mapping):
                kwargs["percentiles"] = {_percentile_key(p): v for p, v in kwargs["percentiles"].items()}
            return cls(**kwargs)
        except (ValueError, TypeError) as err:
            raise FileFormatError(f"{source}: not a valid TransferCurve: {err}") from None

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the curve to ``path`` as strict JSON (atomically: no half files)."""
        from ..files import atomic_write_text
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> TransferCurve:
        """Read a curve written by :meth:`to_json`; ``FileFormatError`` if invalid."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise FileFormatError(f"{path}: cannot read curve ({err.strerror})") from None
        except UnicodeDecodeError:
            raise FileFormatError(f"{path}: not a JSON curve (not UTF-8 text)") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise FileFormatError(
                f"{path}: not JSON (line {err.lineno}, column {err.colno}: {err.msg})"
            ) from None
        except RecursionError:
            raise FileFormatError(f"{path}: not a curve (JSON nested too deeply)") from None
        except ValueError as err:  # an integer of more than 4,300 digits
            raise FileFormatError(f"{path}: not a curve ({str(err).split(':')[0]})") from None
        return cls.from_dict(data, source=str(path))

    # ------------------------------------------------------------------- plot

    def plot(self, ax: Any = None, analytic: Callable[[np.ndarray], ArrayLike] | None = None) -> Any:
        """Draw median, 25-75 and 5-95 % bands and an optional analytic law (dashed).

        Returns the matplotlib Axes.  ``analytic`` is called on a dense x grid.
        """
        import matplotlib.pyplot as plt  # lazy: the library must work without a display

        if ax is None:
            _, ax = plt.subplots()
        for lo, hi, alpha in ((5, 95, 0.2), (25, 75, 0.35)):
            if lo in self.percentiles and hi in self.percentiles:
                ax.fill_between(
                    self.x,
                    self.percentiles[lo],
                    self.percentiles[hi],
                    alpha=alpha,
                    color="C0",
                    linewidth=0,
                    label=f"{lo}-{hi} %",
                )
        ax.plot(self.x, self.y, "o-", color="C0", label="median")
        if analytic is not None:
            dense = (np.geomspace if self.log_x else np.linspace)(self.x[0], self.x[-1], 200)
            ax.plot(
                dense,
                np.asarray(analytic(dense), dtype=float),
                "--",
                color="k",
                label="analytic",
            )
        if self.log_x:
            ax.set_xscale("log")
        ax.set_xlabel(f"{self.x_name} [{self.x_unit}]")
        ax.set_ylabel(f"{self.y_name} [{self.y_unit}]")
        ax.set_title(self.name)
        ax.legend()
        return ax


# ------------------------------------------------------------------ helpers


def _solve_monotone(
    f: PchipInterpolator, u: np.ndarray, y_nodes: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """u with f(u) = target for a monotone PCHIP, vectorised over target.

    Newton steps from the linear-interpolation guess; a step leaving the
    current bracket is replaced by bisection, so it always converges.
    """
    sign = 1.0 if y_nodes[-1] > y_nodes[0] else -1.0
    order = np.argsort(sign * y_nodes)
    guess = np.interp(sign * target, sign * y_nodes[order], u[order])
    lo, hi = np.full_like(target, u[0]), np.full_like(target, u[-1])
    deriv = f.derivative()
    tol = 4 * np.finfo(float).eps * max(abs(u[0]), abs(u[-1]), u[-1] - u[0])
    x = guess
    for _ in range(200):
        err = f(x) - target
        r = sign * err
        lo, hi = np.where(r <= 0, x, lo), np.where(r >= 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x - err / deriv(x)
        ok = np.isfinite(step) & (step > lo) & (step < hi)
        new = np.where(r == 0, x, np.where(ok, step, 0.5 * (lo + hi)))
        done = np.all(np.abs(new - x) <= tol)
        x = new
        if done:
            break
    return x


def _frozen_array(
    value: ArrayLike,
    what: str,
    ndim: int | None = None,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """A read-only float64 copy, checked for dimension or shape."""
    arr = np.array(value, dtype=float, copy=True)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{what} must be {ndim}-D, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{what} has shape {arr.shape}, x has shape {shape} (mismatched length)")
    arr.flags.writeable = False
    return arr


def _is_schema_version(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value == SCHEMA_VERSION


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _percentile_key(p: Any) -> int | float:
    """5 and "5" and 5.0 are the same percentile; 2.5 stays a float."""
    q = float(p)
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {p!r} is outside [0, 100]")
    return int(q) if q.is_integer() else q


def _encode(value: Any) -> Any:
    """JSON-ready copy: arrays to lists, non-finite floats to their names."""
    if isinstance(value, np.ndarray):
        return _encode(value.tolist())
    if isinstance(value, np.generic):
        return _encode(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    """Inverse of :func:`_encode` (lists stay lists; arrays are made by the class)."""
    if isinstance(value, str):
        return _NONFINITE.get(value, value)
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
