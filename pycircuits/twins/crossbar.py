"""The crossbar's software twin: a nodal solve of the resistive array in NumPy/SciPy.

The network is the one ``pycircuits.circuits.crossbar`` writes for ngspice:
row ``i`` is driven by ``v_in[i]`` through ``r_driver`` at its left end,
then runs through one word-line segment ``r_wl`` per cell pitch; column
``j`` runs down through one bit-line segment ``r_bl`` per pitch and one
more to its sense node at the bottom, which is a virtual ground (0 V, its
current is the column current) or a load ``r_sense`` to ground.  Cell
``(i, j)`` (a conductance ``g[i, j]``) joins word-line node ``(i, j)`` to
bit-line node ``(i, j)``.  For linear cells at a read voltage the solve is
exact: the same Kirchhoff equations ngspice solves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArraySolution:
    """Node voltages and column currents of a crossbar read."""

    v_wl: np.ndarray  # (rows, cols) word-line node voltages
    v_bl: np.ndarray  # (rows, cols) bit-line node voltages
    i_col: np.ndarray  # (cols,) current into each column's sense node (A)

    @property
    def v_cell(self) -> np.ndarray:
        """(rows, cols) voltage across each cell."""
        return self.v_wl - self.v_bl


def sneak_current(g: np.ndarray, sol: ArraySolution, rows: np.ndarray) -> np.ndarray:
    """Per column, the current its bit line takes in through the cells of ``rows`` (bool per row)."""
    rows = np.asarray(rows, dtype=bool)
    return (np.asarray(g)[rows] * sol.v_cell[rows]).sum(axis=0)


def ideal_mac(g: np.ndarray, v_in: np.ndarray) -> np.ndarray:
    """Column currents with zero wire, driver and sense resistance: ``G^T v``."""
    return np.asarray(g, dtype=float).T @ np.asarray(v_in, dtype=float)


def solve(g: np.ndarray, v_in: np.ndarray, r_wl: float, r_bl: float, r_driver: float = 0.0,
          r_sense: float = 0.0, driven: np.ndarray | None = None) -> ArraySolution:
    """Solve the array (``r_sense = 0``: virtual-ground sensing); resistances in Ohm, per segment.

    ``driven`` (bool per row, default all): rows without a driver float, joined to the
    rest only through their cells -- the sneak paths of a 1R array.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve
    g = np.asarray(g, dtype=float)
    v_in = np.asarray(v_in, dtype=float)
    n, m = g.shape
    driven = np.ones(n, dtype=bool) if driven is None else np.asarray(driven, dtype=bool)
    if r_wl <= 0 or r_bl <= 0:
        raise ValueError("the nodal twin needs r_wl > 0 and r_bl > 0 (zero wires: use ideal_mac)")
    wl = np.arange(n * m).reshape(n, m)  # unknowns: word-line nodes, then bit-line nodes, then sense nodes
    bl = n * m + wl
    sense = 2 * n * m + np.arange(m) if r_sense > 0 else None
    size = 2 * n * m + (m if sense is not None else 0)
    rows, cols, vals = [], [], []
    rhs = np.zeros(size)

    def stamp(a: int, b: int | None, cond: float) -> None:  # b None: to a fixed-voltage node (handled by caller)
        rows.append(a)
        cols.append(a)
        vals.append(cond)
        if b is not None:
            rows.extend((b, a, b))
            cols.extend((b, b, a))
            vals.extend((cond, -cond, -cond))

    g_wl, g_bl = 1.0 / r_wl, 1.0 / r_bl
    for i in range(n):
        if r_driver > 0 and driven[i]:  # source -- r_driver -- node (i, 0)
            stamp(wl[i, 0], None, 1.0 / r_driver)
            rhs[wl[i, 0]] += v_in[i] / r_driver
        for j in range(m - 1):
            stamp(wl[i, j], wl[i, j + 1], g_wl)
        for j in range(m):
            stamp(wl[i, j], bl[i, j], g[i, j])
    for j in range(m):
        for i in range(n - 1):
            stamp(bl[i, j], bl[i + 1, j], g_bl)
        if sense is None:  # last segment to the virtual ground
            stamp(bl[n - 1, j], None, g_bl)
        else:
            stamp(bl[n - 1, j], sense[j], g_bl)
            stamp(sense[j], None, 1.0 / r_sense)
    a = sp.csr_matrix((vals, (rows, cols)), shape=(size, size))
    if r_driver <= 0 and driven.any():  # ideal drivers: node (i, 0) of a driven row is fixed at v_in[i]
        fixed = wl[driven, 0]
        keep = np.setdiff1d(np.arange(size), fixed)
        x = np.zeros(size)
        x[fixed] = v_in[driven]
        rhs_k = rhs[keep] - a[keep][:, fixed] @ v_in[driven]
        x[keep] = spsolve(a[keep][:, keep].tocsc(), rhs_k)
    else:
        x = spsolve(a.tocsc(), rhs)
    v_wl, v_bl = x[wl], x[bl]
    i_col = v_bl[n - 1] * g_bl if sense is None else x[sense] / r_sense
    return ArraySolution(v_wl, v_bl, np.asarray(i_col))
