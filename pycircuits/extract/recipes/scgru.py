"""Recipes of ``scgru``: the MAC transfer, the state-update error and the energy per step."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Recipe, along, base_params, recipe


def _flat(ds, name: str) -> np.ndarray:
    return np.asarray(ds[name].values, dtype=float).reshape(-1)


def _scgru_mac(ds):
    """x = ideal MAC (software units, binned to the 2-bit grid); y = MAC bus voltage (V)."""
    from ...circuits.scgru import ScgruParams, inputs_of, quantization_of, weights_of
    from ...params import make_params
    from ...twins.mingru import mac
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
    from ...circuits.scgru import ScgruParams, quantization_of, reference
    from ...params import make_params
    p = make_params(ScgruParams, {k: v for k, v in base_params(ds).items() if k in ScgruParams.__dataclass_fields__})
    h_ref, _, z = reference(p)
    h = _flat(ds, "h")[: h_ref.size].reshape(h_ref.shape)
    q = quantization_of(p)
    # the update the circuit should have made from its own previous state and the software's candidate
    from ...circuits.scgru import inputs_of, weights_of
    from ...twins.mingru import mac
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
