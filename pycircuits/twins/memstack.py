"""The memstack cell's software twin: device ranges of ``devicemodels/memstack.lib`` and its laws.

The cell stacks a resistive synapse (state x: G = g_min (g_max/g_min)^x) and
a capacitive membrane (state y: C = c_min + (c_max - c_min) y); the membrane
time constant is tau = C(y) / g_leak and the charge an input spike delivers
is q = G(x) v_read t_read.  The constants are the .lib defaults; keep them in
step with its header.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# device ranges (memstack.lib)
C_MIN_F, C_MAX_F = 50e-15, 500e-15  # capacitance range
G_MIN_S, G_MAX_S = 1e-6, 100e-6  # conductance range
G_PRISTINE_S = 1e-12  # S, leakage of the unformed membrane stack
V_SET_V = 2.0  # x switches only beyond +-V_SET_V
V_POL_FULL_V = 1.5  # v_c + v_cw: every domain switches beyond this
V_OPERATE_MAX_V = 0.3  # reads and operation stay below this
K_SET = 2e6  # 1/(V s), SET rate per volt of overdrive
V_SMOOTH_V = 0.05  # V, smooth onset of SET
V_C_V, V_CW_V = 1.0, 0.5  # V, median and half-spread of the coercive voltages
K_POL = 3e6  # 1/s, polarization switching rate

# the cell's default operating point (the memstack circuit's parameter defaults)
A_X_V = 2.5  # V, amplitude of the x SET pulses
T_PX_S = 100e-9  # s, width of each x pulse
T_PY_S = 100e-9  # s, width of each y pulse
G_LEAK_S = 10e-9  # S, membrane leak conductance
V_READ_V = 0.2  # V, read pulse amplitude across the synapse stack
T_READ_S = 10e-9  # s, conveyor window per input spike


def polarization(a_y: Any, n_y: float, t_py: float = T_PY_S) -> np.ndarray:
    """State y after ``n_y`` pulses of ``a_y`` V: the Preisach fraction F(a_y) that switches, saturating."""
    u = np.clip((np.asarray(a_y, dtype=float) - V_C_V + V_CW_V) / (2 * V_CW_V), 0.0, 1.0)
    frac = u * u * (3 - 2 * u)  # F(a_y): fraction of domains that switch below a_y
    return frac * (1 - np.exp(-n_y * K_POL * t_py))


def tau_s(y: Any, g_leak: float = G_LEAK_S) -> np.ndarray:
    """Membrane time constant (s) at capacitive state ``y``: C(y) / (g_leak + g_pristine)."""
    return (C_MIN_F + (C_MAX_F - C_MIN_F) * y) / (g_leak + G_PRISTINE_S)


def set_rate(a_x: float = A_X_V, t_px: float = T_PX_S) -> float:
    """State x gained per SET pulse at x = 0 (pulses of ``a_x`` V, ``t_px`` s)."""
    over = a_x - V_SET_V
    return K_SET * over * over / (over + V_SMOOTH_V) * t_px


def set_state(n: float, rate: float) -> float:
    """x after n SET pulses from x = 0: the root of (atanh x + atan x) / (2 rate) = n (dx/dn = rate (1 - x^4))."""
    if n <= 0:
        return 0.0
    from scipy.optimize import brentq  # imported here: scipy.optimize costs 0.3 s to import
    return brentq(lambda x: (np.arctanh(x) + np.arctan(x)) / (2 * rate) - n, 0.0, 1.0 - 1e-15, xtol=1e-14)


def charge_per_spike(x: Any, v_read: float = V_READ_V, t_read: float = T_READ_S) -> np.ndarray:
    """Charge (C) one input spike delivers at resistive state ``x``: G(x) v_read t_read."""
    return G_MIN_S * (G_MAX_S / G_MIN_S) ** x * v_read * t_read
