"""DenRAM's software twin: the RRAM state band and the RC delay law of the ``rc`` delay element."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def state_of(r: float, r_lrs: float, r_hrs: float) -> float:
    """RRAM state x in [0, 1] giving resistance ``r`` (Ohm) on the log-interpolated band."""
    return math.log(r_hrs / r) / math.log(r_hrs / r_lrs)


def rc_delay_law(r: Any, c: float, vth_frac: float) -> Any:
    """Analytic ``rc`` delay (s): R*C*ln(VDD/(VDD - Vth)) with Vth = vth_frac*VDD (``r`` in Ohm, scalar or array)."""
    return np.asarray(r, dtype=float) * c * np.log(1.0 / (1.0 - vth_frac))
