"""Recipes of ``pcm-trace``: the drift law G(t)/G_p and the gradual-SET step."""

from __future__ import annotations

import numpy as np

from ...twins.pcm import drift_ratio
from ..measures import fit_power_law
from .base import Recipe, base_params, recipe


def _pcm_drift(ds):
    """x = time since the last programming (s); y = G(t)/G_p per Monte Carlo sample."""
    t = np.asarray(ds["trace_t_s"].values, dtype=float).reshape(-1, ds["trace_t_s"].shape[-1])
    g = np.asarray(ds["trace_g_s"].values, dtype=float).reshape(t.shape)
    t_p = np.asarray(ds["t_p_s"].values, dtype=float).reshape(-1)
    g_p = np.asarray(ds["g_after_pulses_s"].values, dtype=float).reshape(len(t_p), -1)
    g_p = np.array([row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan for row in g_p])
    ref = np.flatnonzero(np.isfinite(t_p))[0]
    x = t[ref] - t_p[ref]
    x = x[np.isfinite(x) & (x > 0)]
    cols = []
    for k in range(len(t_p)):
        dt = t[k] - t_p[k]
        keep = np.isfinite(dt) & (dt > 0) & np.isfinite(g[k])
        if keep.sum() < 2 or not np.isfinite(g_p[k]):
            cols.append(np.full(len(x), np.nan))
            continue
        cols.append(np.interp(np.log(x), np.log(dt[keep]), g[k][keep] / g_p[k], left=np.nan, right=np.nan))
    samples = np.stack(cols, axis=1)
    nu = np.asarray(ds["nu_fit"].values, dtype=float).ravel()
    p = base_params(ds)
    t0 = float(p.get("t0_s", 38.6))
    med = np.nanmedian(samples, axis=1)
    fit = fit_power_law(x + t0, med) if np.all(np.isfinite(med)) else None
    extra = {"nu_median": float(np.nanmedian(nu)), "nu_p5": float(np.nanpercentile(nu, 5)),
             "nu_p95": float(np.nanpercentile(nu, 95)), "t0_s": t0,
             "nu_fit_of_median": float(-fit.exponent) if fit else float("nan"),
             "nu_model": float(p.get("nu_trace", float("nan")))}
    return x, samples, extra


recipe(Recipe(
    name="pcm-drift", doc="PCM conductance drift G(t)/G_p vs time since programming, and the exponent nu",
    circuit="pcm-trace", x_name="t - t_p", x_unit="s", y_name="G/G_p", y_unit="1",
    needs=("trace_t_s", "trace_g_s", "t_p_s", "g_after_pulses_s", "nu_fit"),
    reduce=_pcm_drift,
    default_sweep={"vary": {}, "params": {"mode": "drift", "n_pulses": 5, "t_stop_s": 100.0}},
    analytic=lambda c: (lambda x: drift_ratio(x, c.extra["nu_model"], c.extra["t0_s"])),
))


def _pcm_step(ds):
    """x = conductance before a SET pulse (S, binned); y = conductance step (S), pooled over samples."""
    g = np.asarray(ds["g_after_pulses_s"].values, dtype=float)
    g = g.reshape(-1, g.shape[-1])
    p = base_params(ds)
    g0 = float(p.get("g_reset_s", 1e-7))
    before = np.concatenate([np.full((len(g), 1), g0), g[:, :-1]], axis=1)
    steps = g - before
    ok = np.isfinite(before) & np.isfinite(steps)
    gmax = float(p.get("gmax_s", 12e-6))
    edges = np.linspace(0.0, gmax, 13)
    centres = 0.5 * (edges[1:] + edges[:-1])
    b, s = before[ok], steps[ok]
    which = np.clip(np.digitize(b, edges) - 1, 0, len(centres) - 1)
    width = max(int(np.bincount(which, minlength=len(centres)).max()), 1)
    samples = np.full((len(centres), width), np.nan)
    for k in range(len(centres)):
        vals = s[which == k]
        samples[k, :len(vals)] = vals
    return centres, samples, {"n_steps": int(ok.sum())}


recipe(Recipe(
    name="pcm-step", doc="PCM gradual-SET conductance step vs conductance before the pulse",
    circuit="pcm-trace", x_name="G before pulse", x_unit="S", y_name="step", y_unit="S",
    needs=("g_after_pulses_s",), reduce=_pcm_step,
    default_sweep={"vary": {}, "params": {"mode": "drift", "n_pulses": 20, "t_stop_s": 2.0,
                                          "t_read_period_s": 0.5}},
))
