"""Scalar measures on sampled waveforms: crossings, delays, charge, fits.

Pure functions on 1-D numpy arrays.  Times are in seconds (s), currents in
amperes (A), voltages in volts (V); a measure returns SI units of its inputs.
Signals are sampled on a non-decreasing time axis, as ngspice writes them
(steps need not be uniform); between samples a signal is taken as linear.

A measure that finds nothing to measure (no crossing, no pulse) returns
``nan`` so that one failed point of a sweep does not stop the extraction;
malformed input (unequal lengths, decreasing time) raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

Direction = Literal["rising", "falling", "both"]

_DIRECTIONS = ("rising", "falling", "both")


# --------------------------------------------------------------------------
# input checks


def _signal(t: ArrayLike, *ys: ArrayLike, min_len: int = 2) -> tuple[np.ndarray, ...]:
    """Return (t, *ys) as float arrays after checking shape and time order."""
    t = np.asarray(t, dtype=float)
    if t.ndim != 1:
        raise ValueError(f"t must be 1-D, got shape {t.shape}")
    if t.size < min_len:
        raise ValueError(f"need at least {min_len} samples, got {t.size}")
    if not np.all(np.isfinite(t)):
        raise ValueError("t contains NaN or infinite values")
    if np.any(np.diff(t) < 0):
        raise ValueError("t must be non-decreasing (monotone time axis)")
    out = [t]
    for k, y in enumerate(ys):
        y = np.asarray(y, dtype=float)
        if y.shape != t.shape:
            raise ValueError(f"signal {k} has shape {y.shape}, t has shape {t.shape}")
        out.append(y)
    return tuple(out)


def _finite_xy(x: np.ndarray, y: np.ndarray, what: str) -> None:
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"{what}: data contain NaN or infinite values")


# --------------------------------------------------------------------------
# crossings and timing


def crossing_times(t: ArrayLike, y: ArrayLike, level: float, direction: Direction = "rising") -> np.ndarray:
    """All times (s) at which ``y`` crosses ``level``, linearly interpolated.

    A sample exactly at ``level`` counts as above it, so a signal that rises
    to the level and stays there crosses once, at that sample.  ``direction``
    is ``"rising"``, ``"falling"`` or ``"both"`` (times sorted).  Returns an
    empty array when there is no crossing.

    >>> crossing_times([0, 1, 2], [0.0, 1.0, 0.0], 0.5, "both")
    array([0.5, 1.5])
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {_DIRECTIONS}, got {direction!r}")
    t, y = _signal(t, y)
    above = y >= level
    below = y < level  # NaN samples are neither, so they never cross
    rising = below[:-1] & above[1:]
    falling = above[:-1] & below[1:]
    mask = {"rising": rising, "falling": falling, "both": rising | falling}[direction]
    i = np.flatnonzero(mask)
    frac = (level - y[i]) / (y[i + 1] - y[i])
    return t[i] + frac * (t[i + 1] - t[i])


def crossing_time(
    t: ArrayLike,
    y: ArrayLike,
    level: float,
    direction: Direction = "rising",
    n: int = 0,
) -> float:
    """Time (s) of the ``n``-th crossing of ``level`` (``n=-1``: the last).

    Returns ``nan`` when there are not enough crossings.
    """
    times = crossing_times(t, y, level, direction)
    if -len(times) <= n < len(times):
        return float(times[n])
    return float("nan")


def delay_between(
    t: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    level_a: float,
    level_b: float | None = None,
    direction_a: Direction = "rising",
    direction_b: Direction = "rising",
) -> float:
    """Delay (s) from ``a``'s first crossing to ``b``'s first crossing after it.

    ``level_b`` defaults to ``level_a``.  Returns ``nan`` when either crossing
    is missing; a ``b`` crossing at the same instant gives 0.
    """
    t, a, b = _signal(t, a, b)
    t_a = crossing_time(t, a, level_a, direction_a)
    if np.isnan(t_a):
        return float("nan")
    times_b = crossing_times(t, b, level_a if level_b is None else level_b, direction_b)
    after = times_b[times_b >= t_a]
    return float(after[0] - t_a) if after.size else float("nan")


def pulse_width(t: ArrayLike, y: ArrayLike, level: float, n: int = 0) -> float:
    """Width (s) of the ``n``-th positive pulse: rising to next falling crossing.

    Returns ``nan`` when the ``n``-th rising crossing or the falling one after
    it is missing (a pulse still high at the end has no width).
    """
    t, y = _signal(t, y)
    t_rise = crossing_time(t, y, level, "rising", n)
    if np.isnan(t_rise):
        return float("nan")
    falls = crossing_times(t, y, level, "falling")
    after = falls[falls > t_rise]
    return float(after[0] - t_rise) if after.size else float("nan")


def peak(t: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Time (s) and value of the maximum of ``y``, refined by a parabola.

    The parabola goes through the largest sample and its two neighbours
    (unequal steps allowed), which recovers a smooth peak between samples to
    second order in the step.  A maximum at either end is returned as is.
    """
    t, y = _signal(t, y)
    if np.all(np.isnan(y)):
        return float("nan"), float("nan")
    k = int(np.nanargmax(y))
    if k == 0 or k == len(y) - 1 or not np.all(np.isfinite(y[k - 1 : k + 2])):
        return float(t[k]), float(y[k])
    h1, h2 = t[k] - t[k - 1], t[k + 1] - t[k]
    d0, d2 = y[k - 1] - y[k], y[k + 1] - y[k]
    if h1 <= 0 or h2 <= 0:
        return float(t[k]), float(y[k])
    # y = y[k] + a*u**2 + b*u with u = t - t[k], through the three samples.
    a = (d0 * h2 + d2 * h1) / (h1 * h2 * (h1 + h2))
    b = (d2 - a * h2**2) / h2
    if a >= 0:  # flat top: no curvature to refine with
        return float(t[k]), float(y[k])
    u = float(np.clip(-b / (2 * a), -h1, h2))
    return float(t[k] + u), float(y[k] + a * u**2 + b * u)


# --------------------------------------------------------------------------
# integrals


def _window(
    t: np.ndarray,
    ys: tuple[np.ndarray, ...],
    t_start: float | None,
    t_stop: float | None,
) -> tuple[np.ndarray, ...]:
    """Cut (t, *ys) to [t_start, t_stop], adding linearly interpolated edges."""
    lo = t[0] if t_start is None else float(t_start)
    hi = t[-1] if t_stop is None else float(t_stop)
    if not t[0] <= lo <= hi <= t[-1]:
        raise ValueError(
            f"window [{lo!r}, {hi!r}] s must be ordered and inside the data [{t[0]!r}, {t[-1]!r}] s"
        )
    inside = (t > lo) & (t < hi)
    tw = np.concatenate(([lo], t[inside], [hi]))
    return (tw,) + tuple(
        np.concatenate(([np.interp(lo, t, y)], y[inside], [np.interp(hi, t, y)])) for y in ys
    )


def charge(
    t: ArrayLike,
    i: ArrayLike,
    t_start: float | None = None,
    t_stop: float | None = None,
) -> float:
    """Charge (C): trapezoid integral of the current ``i`` (A) over a window (s).

    The window defaults to the whole record.  Its edges need not fall on
    samples: the current there is interpolated linearly, so the result is the
    exact integral of the piecewise-linear waveform over the window.
    """
    t, i = _signal(t, i)
    tw, iw = _window(t, (i,), t_start, t_stop)
    return float(np.trapezoid(iw, tw))


def energy(
    t: ArrayLike,
    v: ArrayLike,
    i: ArrayLike,
    t_start: float | None = None,
    t_stop: float | None = None,
) -> float:
    """Energy (J): trapezoid integral of the power ``v*i`` (V, A) over a window (s).

    Edges are handled as in :func:`charge`; the power at an edge is the product
    of the interpolated voltage and current.  Positive when the element absorbs
    energy with the passive sign convention.
    """
    t, v, i = _signal(t, v, i)
    tw, vw, iw = _window(t, (v, i), t_start, t_stop)
    return float(np.trapezoid(vw * iw, tw))


def settling_time(t: ArrayLike, y: ArrayLike, final: float | None = None, tol: float = 0.02) -> float:
    """Time (s) after which ``|y - final|`` stays within ``tol * |final - y[0]|``.

    ``final`` defaults to the last sample.  The time is the last exit from the
    band, interpolated between samples; ``t[0]`` when the signal never leaves
    the band, ``nan`` when it is still outside at the end.
    """
    t, y = _signal(t, y)
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    final = float(y[-1]) if final is None else float(final)
    band = tol * abs(final - y[0])
    excess = np.abs(y - final) - band
    outside = np.flatnonzero(~(excess <= 0))  # NaN counts as outside
    if outside.size == 0:
        return float(t[0])
    k = int(outside[-1])
    if k == len(t) - 1:
        return float("nan")
    frac = excess[k] / (excess[k] - excess[k + 1]) if np.isfinite(excess[k]) else 1.0
    return float(t[k] + frac * (t[k + 1] - t[k]))


# --------------------------------------------------------------------------
# fits


def _r2(y: np.ndarray, y_fit: np.ndarray) -> float:
    """Coefficient of determination; 1 for a constant signal fitted exactly."""
    ss_res = float(np.sum((y - y_fit) ** 2))
    ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return 1.0 - ss_res / ss_tot


@dataclass(frozen=True)
class ExpFit:
    """Fit of ``y = offset + amplitude * exp(-t / tau)``.

    ``tau`` in seconds (negative for a growing exponential), ``amplitude`` is
    the deviation from ``offset`` at t = 0 (units of y), ``offset`` the
    asymptote y(inf), ``r2`` the coefficient of determination on the data.
    """

    tau: float
    amplitude: float
    offset: float
    r2: float

    def __call__(self, t: ArrayLike) -> np.ndarray:
        """Evaluate the fitted exponential at times ``t`` (s)."""
        return self.offset + self.amplitude * np.exp(-np.asarray(t, dtype=float) / self.tau)


@dataclass(frozen=True)
class PowerFit:
    """Fit of ``y = prefactor * t**exponent`` (least squares in log-log).

    ``r2`` is computed on ``log(y)``.  For PCM drift ``G = G0 (t/t0)**-nu``
    the drift coefficient is ``nu = -exponent``.
    """

    exponent: float
    prefactor: float
    r2: float

    def __call__(self, t: ArrayLike) -> np.ndarray:
        """Evaluate the fitted power law at ``t`` (> 0)."""
        return self.prefactor * np.asarray(t, dtype=float) ** self.exponent


@dataclass(frozen=True)
class LinFit:
    """Least-squares line ``y = slope * x + intercept`` with its ``r2``."""

    slope: float
    intercept: float
    r2: float

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """Evaluate the fitted line at ``x``."""
        return self.slope * np.asarray(x, dtype=float) + self.intercept


def fit_linear(x: ArrayLike, y: ArrayLike) -> LinFit:
    """Least-squares straight line through ``(x, y)``; needs two distinct x."""
    x, y = (np.asarray(a, dtype=float) for a in (x, y))
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    if x.size < 2:
        raise ValueError(f"need at least 2 points, got {x.size}")
    _finite_xy(x, y, "fit_linear")
    dx = x - x.mean()
    sxx = float(np.sum(dx**2))
    if sxx == 0:
        raise ValueError("fit_linear: all x are equal; the slope is undefined")
    slope = float(np.sum(dx * (y - y.mean())) / sxx)
    intercept = float(y.mean() - slope * x.mean())
    return LinFit(slope, intercept, _r2(y, slope * x + intercept))


def fit_power_law(t: ArrayLike, y: ArrayLike) -> PowerFit:
    """Fit ``y = prefactor * t**exponent`` by least squares on ``log y`` vs ``log t``.

    Needs ``t > 0`` and ``y > 0``.  Fitting in log-log weights every decade
    of t equally, which is what a drift law measured on a log time grid needs.
    """
    t, y = _signal(t, y)
    _finite_xy(t, y, "fit_power_law")
    if np.any(t <= 0) or np.any(y <= 0):
        raise ValueError("fit_power_law needs t > 0 and y > 0 (it fits in log-log)")
    line = fit_linear(np.log(t), np.log(y))
    return PowerFit(line.slope, float(np.exp(line.intercept)), line.r2)


def _exp_model(s: np.ndarray, c: float, a: float, k: float) -> np.ndarray:
    return c + a * np.exp(-k * s)


def _exp_guess(s: np.ndarray, z: np.ndarray, c: float | None) -> tuple[float, float, float]:
    """Non-iterative (c, a, k) for ``z = c + a exp(-k s)`` by the integral method.

    Integrating the ODE dz/ds = -k (z - c) gives
    ``z(s) - z(0) = -k S(s) + k c s`` with S the running integral of z, which
    is linear in the unknowns and, unlike a log-linear guess, needs no
    asymptote and tolerates noise (the integral averages it).
    """
    big_s = np.concatenate(([0.0], np.cumsum(0.5 * (z[1:] + z[:-1]) * np.diff(s))))
    if c is None:
        design = np.column_stack([np.ones_like(s), big_s, s])
        coef = np.linalg.lstsq(design, z, rcond=None)[0]
        k = -coef[1]
        c = coef[2] / k if k != 0 else float(np.mean(z))
    else:
        design = np.column_stack([np.ones_like(s), big_s - c * s])
        k = -np.linalg.lstsq(design, z, rcond=None)[0][1]
    e = np.exp(-k * s)
    a = float(np.dot(e, z - c) / np.dot(e, e))
    return float(c), a, float(k)


def fit_exponential(t: ArrayLike, y: ArrayLike, y_inf: float | None = None) -> ExpFit:
    """Fit ``y = offset + amplitude * exp(-t / tau)`` (rising or decaying).

    With ``y_inf`` given the offset is fixed to it; otherwise it is fitted.
    The fit runs on time and amplitude scaled to order one (nanosecond and
    millivolt data condition as well as seconds and volts), starts from the
    integral-method guess and is refined by ``scipy.optimize.curve_fit``.
    Raises ``ValueError`` when the data have no exponential to fit.
    """
    t, y = _signal(t, y, min_len=3 if y_inf is not None else 4)
    _finite_xy(t, y, "fit_exponential")
    t0, t_span = float(t[0]), float(t[-1] - t[0])
    y_mid, y_scale = float(np.mean(y)), float(np.std(y))
    if t_span <= 0 or y_scale == 0:
        raise ValueError("fit_exponential: t or y is constant; nothing to fit")
    s, z = (t - t0) / t_span, (y - y_mid) / y_scale
    c_fix = None if y_inf is None else (float(y_inf) - y_mid) / y_scale
    c, a, k = _exp_guess(s, z, c_fix)
    from scipy.optimize import curve_fit  # 0.3 s to import: only where a fit is made (sweep workers start faster)
    try:
        if c_fix is None:
            (c, a, k), _ = curve_fit(_exp_model, s, z, p0=(c, a, k), maxfev=10000)
        else:
            (a, k), _ = curve_fit(
                lambda s_, a_, k_: _exp_model(s_, c_fix, a_, k_),
                s,
                z,
                p0=(a, k),
                maxfev=10000,
            )
    except RuntimeError as err:
        raise ValueError(f"fit_exponential did not converge: {err}") from None
    if k == 0 or not np.isfinite(k):
        raise ValueError("fit_exponential: the data show no exponential decay or growth")
    tau = t_span / k
    # r2 is invariant under the affine scaling, so the scaled data give it.
    return ExpFit(
        tau=float(tau),
        amplitude=float(y_scale * a * np.exp(t0 / tau)),
        offset=float(y_inf) if y_inf is not None else float(y_mid + y_scale * c),
        r2=_r2(z, _exp_model(s, c, a, k)),
    )
