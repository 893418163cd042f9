"""The recipes of each block: which sweep, which measure, which law.

Most recipes are "measure against a swept parameter, spread over Monte Carlo"
(:func:`along`); the PCM ones reshape time series instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .curve import TransferCurve
from .measures import fit_power_law
from .recipes import Recipe, base_params, recipe, samples_along


def along(x_param: str, measure: str, element: int | None = None,
          transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Callable[[Any], tuple]:
    """Reducer: ``measure`` against swept ``x_param``, Monte Carlo pooled as samples.

    ``element`` picks one entry of an array measure (e.g. synapse 0's delay);
    ``transform`` maps the swept values (e.g. resistance -> conductance).
    """
    def reduce(ds):
        da = ds[measure]
        index_dim = f"{measure}_index"
        if index_dim in da.dims:
            da = da.isel({index_dim: element or 0})
        x, y = samples_along(ds.assign({"_y": da}), "_y", x_param)
        if transform is not None:
            x = transform(x)
            order = np.argsort(x)
            x, y = x[order], y[order]
        return x, y, {}
    return reduce


def _params(ds) -> dict[str, Any]:
    return base_params(ds)


# ------------------------------------------------------------------------ rc

recipe(Recipe(
    name="rc-tau", doc="RC time constant vs R (the reference law tau = R*C)", circuit="rc",
    x_name="R", x_unit="Ohm", y_name="tau", y_unit="s", needs=("tau_s",),
    reduce=along("r", "tau_s"),
    default_sweep={"vary": {"r": "log:1k:1meg:7"},
                   "params": {"sigma_r": 0.05, "sigma_c": 0.02, "t_stop": 0.01, "n_steps": 20000}},
    analytic=lambda c: (lambda r: r * float(c.params.get("c", 1e-9))),
))


# ----------------------------------------------------------------------- PCM

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
    p = _params(ds)
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
    analytic=lambda c: (lambda x: ((x + c.extra["t0_s"]) / c.extra["t0_s"]) ** (-c.extra["nu_model"])),
))


def _pcm_step(ds):
    """x = conductance before a SET pulse (S, binned); y = conductance step (S), pooled over samples."""
    g = np.asarray(ds["g_after_pulses_s"].values, dtype=float)
    g = g.reshape(-1, g.shape[-1])
    p = _params(ds)
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


# ------------------------------------------------------------------ memstack

recipe(Recipe(
    name="memstack-tau", doc="membrane time constant vs polarization-programming amplitude (capacitive state)",
    circuit="memstack", x_name="a_y", x_unit="V", y_name="tau", y_unit="s", needs=("tau_s",),
    reduce=along("a_y", "tau_s"),
    default_sweep={"vary": {"a_y": "lin:0.6:1.5:7"}, "params": {"n_y": 30}},
))

recipe(Recipe(
    name="memstack-weight", doc="synaptic charge per input spike vs SET pulses on the resistive state",
    circuit="memstack", x_name="n_x", x_unit="pulses", y_name="charge per spike", y_unit="C",
    needs=("charge_per_spike_c",), reduce=along("n_x", "charge_per_spike_c"),
    default_sweep={"vary": {"n_x": "list:0,1,2,3,4,6,8,12"}},
))


# -------------------------------------------------------------------- DenRAM

_DENRAM_ONE = {"n_syn": 1, "t_in": "1e-6", "r_weight": "500k", "rram_r_hrs": "1e9", "t_stop": 60e-6,
               "n_steps": 3000}


def _rc_delay_law(c: TransferCurve) -> Callable[[np.ndarray], np.ndarray]:
    p = c.params
    frac = float(p.get("vth_delay_frac", 0.5))
    c_delay = float(p.get("c_delay", 1e-12))
    return lambda r: r * c_delay * np.log(1.0 / (1.0 - frac))  # R*C*ln(VDD/(VDD - Vth))


recipe(Recipe(
    name="denram-delay", doc="DenRAM synaptic delay vs delay-RRAM resistance (rc topology: R*C*ln(VDD/(VDD-Vth)))",
    circuit="denram", x_name="R_delay", x_unit="Ohm", y_name="delay", y_unit="s", needs=("delays_s",),
    reduce=along("r_delay", "delays_s"),
    default_sweep={"vary": {"r_delay": "log:100k:10meg:9"}, "params": dict(_DENRAM_ONE)},
    analytic=lambda c: _rc_delay_law(c) if c.params.get("topology", "rc") == "rc" else None,
))

recipe(Recipe(
    name="denram-weight", doc="DenRAM EPSC charge vs weight-RRAM conductance",
    circuit="denram", x_name="G_weight", x_unit="S", y_name="EPSC charge", y_unit="C", needs=("epsc_charge_c",),
    reduce=along("r_weight", "epsc_charge_c", transform=lambda r: 1.0 / r),
    default_sweep={"vary": {"r_weight": "log:100k:10meg:7"}, "params": dict(_DENRAM_ONE)},
))

recipe(Recipe(
    name="denram-energy", doc="DenRAM supply energy per input spike (one synapse, delay + weight read) vs R_delay",
    circuit="denram", x_name="R_delay", x_unit="Ohm", y_name="energy per input spike", y_unit="J",
    needs=("energy_j",), reduce=along("r_delay", "energy_j"),
    default_sweep={"vary": {"r_delay": "log:100k:10meg:5"}, "params": dict(_DENRAM_ONE)},
))


# --------------------------------------------------------------------- scgru

def _flat(ds, name: str) -> np.ndarray:
    return np.asarray(ds[name].values, dtype=float).reshape(-1)


def _scgru_mac(ds):
    """x = ideal MAC (software units, binned to the 2-bit grid); y = MAC bus voltage (V)."""
    from ..circuits.scgru import ScgruParams, inputs_of, quantization_of, weights_of
    from ..mingru import mac
    from ..params import make_params
    p = make_params(ScgruParams, {k: v for k, v in base_params(ds).items() if k in ScgruParams.__dataclass_fields__})
    w, x, q = weights_of(p), inputs_of(p), quantization_of(p)
    ideal = mac(w.w_h, w.b_h, x.astype(float), q).reshape(-1)
    volts = _flat(ds, "mac_v")[: ideal.size]
    return _binned(ideal, volts, 16)


def _binned(x: np.ndarray, y: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    levels = np.unique(np.round(x, 9))
    if len(levels) > n_bins:
        edges = np.linspace(x.min(), x.max(), n_bins + 1)
        which = np.clip(np.digitize(x, edges) - 1, 0, n_bins - 1)
        centres = np.array([x[which == k].mean() if np.any(which == k) else np.nan for k in range(n_bins)])
    else:
        which = np.searchsorted(levels, np.round(x, 9))
        centres = levels
    width = max(int(np.bincount(which).max()), 1)
    samples = np.full((len(centres), width), np.nan)
    for k in range(len(centres)):
        vals = y[which == k]
        samples[k, :len(vals)] = vals
    keep = np.isfinite(centres)
    med = np.nanmedian(samples[keep], axis=1)
    line = np.polyfit(centres[keep], med, 1)
    inl = med - np.polyval(line, centres[keep])
    return centres[keep], samples[keep], {"gain_v_per_unit": float(line[0]), "offset_v": float(line[1]),
                                          "inl_max_v": float(np.max(np.abs(inl)))}


recipe(Recipe(
    name="scgru-mac", doc="switched-capacitor MAC bus voltage vs the ideal MAC value (transfer and INL)",
    circuit="scgru", x_name="ideal MAC", x_unit="1", y_name="MAC bus", y_unit="V", needs=("mac_v",),
    reduce=_scgru_mac, default_sweep={"vary": {}, "params": {"n_steps": 40, "n_hidden": 2}, "mc": False},
))


def _scgru_update(ds):
    """x = gate z (0..1); y = state-update error (software units): h_t - [(1 - z) h_{t-1} + z h~_t] of the circuit."""
    from ..circuits.scgru import ScgruParams, quantization_of, reference
    from ..params import make_params
    p = make_params(ScgruParams, {k: v for k, v in base_params(ds).items() if k in ScgruParams.__dataclass_fields__})
    h_ref, _, z = reference(p)
    h = _flat(ds, "h")[: h_ref.size].reshape(h_ref.shape)
    q = quantization_of(p)
    # the update the circuit should have made from its own previous state and the software's candidate
    from ..circuits.scgru import inputs_of, weights_of
    from ..mingru import mac
    w = weights_of(p)
    h_tilde = mac(w.w_h, w.b_h, inputs_of(p).astype(float), q)
    prev = np.vstack([np.full((1, h.shape[1]), p.h0), h[:-1]])
    expected = (1 - z) * prev + z * h_tilde
    x, y, extra = _binned(z.reshape(-1), (h - expected).reshape(-1), 16)
    extra["rms_update_error_lsb"] = float(np.sqrt(np.nanmean((h - expected) ** 2)) / q.lsb)
    return x, y, extra


recipe(Recipe(
    name="scgru-update", doc="switched-capacitor state-update error vs gate value z",
    circuit="scgru", x_name="z", x_unit="1", y_name="update error", y_unit="1", needs=("h",),
    reduce=_scgru_update, default_sweep={"vary": {}, "params": {"n_steps": 40, "n_hidden": 2}, "mc": False},
))

recipe(Recipe(
    name="scgru-energy", doc="switched-capacitor minGRU energy per time step vs number of inputs",
    circuit="scgru", x_name="n_in", x_unit="inputs", y_name="energy per step", y_unit="J",
    needs=("energy_per_step_j",), reduce=along("n_in", "energy_per_step_j"),
    default_sweep={"vary": {"n_in": "list:2,4,8,16"}, "params": {"n_steps": 6, "n_hidden": 1}, "mc": False},
))
