"""PCM's software twin: the conductance drift law of ``devicemodels/pcm.lib``.

After programming at ``t_p`` a cell drifts as

    G(t) = G_p * ((t - t_p + t0) / t0) ** (-nu)

(Nandakumar et al. 2018's model with the offset ``t0`` that keeps G finite
at ``t = t_p``).  The ``pcm-trace`` circuit, the ``pcm-drift`` recipe's law
and the ``pcm-trace`` study all use these two functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

T0_S = 38.6  # s, drift reference time t0 (pcm.lib default)


def drift_ratio(dt_s: Any, nu: Any, t0_s: float = T0_S) -> np.ndarray:
    """G(t)/G_p a time ``dt_s = t - t_p`` (s) after programming, for exponent(s) ``nu``."""
    return ((np.asarray(dt_s, dtype=float) + t0_s) / t0_s) ** (-np.asarray(nu))


def fit_drift_exponent(dt_s: np.ndarray, ratio: np.ndarray, t0_s: float = T0_S) -> np.ndarray:
    """nu of ``ratio = ((dt + t0)/t0)^-nu``: least squares through the origin in log-log.

    ``ratio`` may be 2-D ``(n_t, n_devices)``: one exponent per column.
    """
    a = np.log((np.asarray(dt_s, dtype=float) + t0_s) / t0_s)
    b = np.log(np.asarray(ratio, dtype=float))
    return -(a @ b) / (a @ a)
