"""Trace tables recorded from the software twins: what each block's circuit must measure, by its law.

* ``denram`` (rc delay element): each synapse's delay ``R*C*ln(1/(1 - f))``
  (:func:`pycircuits.twins.denram.rc_delay_law`), 10 %, and its EPSC charge
  ``t_pulse*VDD/r_weight``, 10 % (the soma starts near rest when the
  synapses' delayed spikes come one by one, as in the recorded inputs);
* ``pcm-trace`` (drift mode): the fitted drift exponent equals the model's
  ``nu_trace``, 3 %;
* ``memstack``: the programmed capacitance is ``C(y)`` with ``y`` the
  nucleation law of ``n_y`` pulses, 2 %, and the membrane time constant is
  ``C(y)/(g_leak + g_pristine)``, 3 %.

The tolerances are the model error of each law that the circuit tests
document; a perturbed parameter of the replay (``-p c_delay=...``) moves the
circuit off the recorded law and fails it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import UsageError
from ..files import jsonable
from .table import Column, TableTrace

# a DenRAM branch whose delayed spikes arrive one by one, each EPSC from a soma at rest
_DENRAM_DEFAULTS = {"n_syn": 3, "t_in": [0.1e-6, 5.1e-6, 10.1e-6], "r_delay": [100e3, 200e3, 400e3],
                    "r_weight": [500e3, 1.58e6, 5e6], "t_stop": 12e-6, "n_steps": 500}
_PCM_DEFAULTS = {"mode": "drift"}
_MEMSTACK_DEFAULTS = {"n_x": 0, "n_y": 4}


def _denram(p, pdk) -> list[Column]:
    from ..twins.denram import rc_delay_law
    if p.topology != "rc":
        raise UsageError("the denram record is of the rc delay element: give -p topology=rc")
    delays = rc_delay_law(np.asarray(p.r_delay), p.c_delay, p.vth_delay_frac)
    charge = p.t_pulse * pdk.vdd / np.asarray(p.r_weight)
    return [Column("meas:delays_s", np.asarray(delays, dtype=float), 0.0, 0.10),
            Column("meas:epsc_charge_c", np.asarray(charge, dtype=float), 0.0, 0.10)]


def _pcm(p, pdk) -> list[Column]:  # noqa: ARG001 - no supply in the law
    if p.mode != "drift":
        raise UsageError("the pcm-trace record is of the drift characterisation: give -p mode=drift")
    return [Column("meas:nu_fit", np.array([p.nu_trace]), 0.0, 0.03)]


def _memstack(p, pdk) -> list[Column]:  # noqa: ARG001 - no supply in the law
    from ..twins import memstack as twin
    y = float(twin.polarization(p.a_y, p.n_y, p.t_py))
    c = (twin.C_MIN_F + (twin.C_MAX_F - twin.C_MIN_F) * y) * p.c_scale
    return [Column("meas:c_f", np.array([c]), 0.0, 0.02),
            Column("meas:tau_s", np.array([c / (p.g_leak + twin.G_PRISTINE_S)]), 0.0, 0.03)]


RECORDS: dict[str, tuple[Callable[[Any, Any], list[Column]], dict[str, Any], str]] = {
    "denram": (_denram, _DENRAM_DEFAULTS, "pycircuits.twins.denram.rc_delay_law, EPSC charge t_pulse*VDD/R_w"),
    "pcm-trace": (_pcm, _PCM_DEFAULTS, "drift exponent nu_trace of pycircuits.twins.pcm.drift_ratio"),
    "memstack": (_memstack, _MEMSTACK_DEFAULTS, "pycircuits.twins.memstack.polarization and tau_s"),
}


def record(circuit: str, overrides: Mapping[str, Any] | None = None, pdk: str = "generic130") -> TableTrace:
    """The trace the software twin of ``circuit`` predicts at its record parameters (``overrides`` on top)."""
    from ..circuits import get
    from ..params import make_params
    from ..pdk import get_pdk
    if circuit not in RECORDS:
        raise UsageError(f"no software twin records a trace of {circuit}; records: "
                         f"{', '.join(sorted(RECORDS))} (and scgru's step traces)")
    law, defaults, model = RECORDS[circuit]
    values = {**defaults, **(overrides or {})}
    params = make_params(get(circuit).params, values)
    columns = law(params, get_pdk(pdk))
    stored = {k: jsonable(getattr(params, k)) for k in values}
    return TableTrace(circuit, stored, columns,
                      {"model": model, "recorded": time.strftime("%Y-%m-%dT%H:%M:%S"), "pdk": pdk})
