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


class _System:
    """The array's nodal equations with the driven rows' voltages as inputs.

    ``a_kk x_k = b_k v_d`` gives the free node voltages ``x_k`` from the driven
    rows' source voltages ``v_d``; with ideal drivers the first node of a driven
    row is fixed at its source voltage and eliminated.
    """

    def __init__(self, g: np.ndarray, r_wl: float, r_bl: float, r_driver: float, r_sense: float,
                 driven: np.ndarray | None) -> None:
        import scipy.sparse as sp
        g = np.asarray(g, dtype=float)
        n, m = g.shape
        self.n, self.m = n, m
        self.driven = np.ones(n, dtype=bool) if driven is None else np.asarray(driven, dtype=bool)
        if r_wl <= 0 or r_bl <= 0:
            raise ValueError("the nodal twin needs r_wl > 0 and r_bl > 0 (zero wires: use ideal_mac)")
        self.wl = np.arange(n * m).reshape(n, m)  # unknowns: word-line nodes, bit-line nodes, sense nodes
        self.bl = n * m + self.wl
        self.sense = 2 * n * m + np.arange(m) if r_sense > 0 else None
        self.size = size = 2 * n * m + (m if self.sense is not None else 0)
        self.g_bl, self.r_sense = 1.0 / r_bl, r_sense
        g_wl = 1.0 / r_wl
        wl, bl = self.wl, self.bl
        # every two-terminal conductance as (node a, node b or -1 for a fixed/ground node, value)
        pa, pb, pv = [], [], []

        def add(a, b, cond) -> None:
            a, b = np.broadcast_arrays(np.asarray(a).ravel(), np.asarray(b).ravel())
            pa.append(a)
            pb.append(b)
            pv.append(np.broadcast_to(np.asarray(cond, dtype=float).ravel(), a.shape))
        add(wl[:, :-1], wl[:, 1:], g_wl)
        add(wl, bl, g)
        add(bl[:-1], bl[1:], self.g_bl)
        d_rows = np.flatnonzero(self.driven)
        if r_driver > 0:
            add(wl[d_rows, 0], -1, 1.0 / r_driver)
        if self.sense is None:  # last segment to the virtual ground
            add(bl[-1], -1, self.g_bl)
        else:
            add(bl[-1], self.sense, self.g_bl)
            add(self.sense, -1, 1.0 / r_sense)
        a_, b_, v_ = (np.concatenate(x) for x in (pa, pb, pv))
        two = b_ >= 0
        rows = np.concatenate([a_, b_[two], a_[two], b_[two]])
        cols = np.concatenate([a_, b_[two], b_[two], a_[two]])
        vals = np.concatenate([v_, v_[two], -v_[two], -v_[two]])
        a = sp.csr_matrix((vals, (rows, cols)), shape=(size, size))
        if r_driver > 0:  # each driven row injects v / r_driver at its first node
            self.keep = np.arange(size)
            self.b_k = sp.csr_matrix((np.full(len(d_rows), 1.0 / r_driver), (wl[d_rows, 0], np.arange(len(d_rows)))),
                                     shape=(size, len(d_rows)))
            self.a_kk = a.tocsc()
        else:
            fixed = wl[d_rows, 0]
            self.fixed = fixed
            self.keep = np.setdiff1d(np.arange(size), fixed)
            self.a_kk = a[self.keep][:, self.keep].tocsc()
            self.b_k = -a[self.keep][:, fixed]
        self.r_driver = r_driver

    def nodes(self, x_k: np.ndarray, v_d: np.ndarray) -> np.ndarray:
        """Every node's voltage (first axis) from the free ones and the driven rows' voltages."""
        x = np.zeros((self.size,) + x_k.shape[1:])
        x[self.keep] = x_k
        if self.r_driver <= 0:
            x[self.fixed] = v_d
        return x

    def column_currents(self, x: np.ndarray) -> np.ndarray:
        """Current into each column's sense node (first axis: columns)."""
        if self.sense is None:
            return x[self.bl[-1]] * self.g_bl
        return x[self.sense] / self.r_sense


def solve(g: np.ndarray, v_in: np.ndarray, r_wl: float, r_bl: float, r_driver: float = 0.0,
          r_sense: float = 0.0, driven: np.ndarray | None = None) -> ArraySolution:
    """Solve the array (``r_sense = 0``: virtual-ground sensing); resistances in Ohm, per segment.

    ``driven`` (bool per row, default all): rows without a driver float, joined to the
    rest only through their cells -- the sneak paths of a 1R array.
    """
    from scipy.sparse.linalg import spsolve
    sys_ = _System(g, r_wl, r_bl, r_driver, r_sense, driven)
    v_d = np.asarray(v_in, dtype=float)[sys_.driven]
    x_k = spsolve(sys_.a_kk, sys_.b_k @ v_d) if v_d.size else np.zeros(len(sys_.keep))
    x = sys_.nodes(np.atleast_1d(x_k), v_d)
    return ArraySolution(x[sys_.wl], x[sys_.bl], np.asarray(sys_.column_currents(x)))


def transfer(g: np.ndarray, r_wl: float, r_bl: float, r_driver: float = 0.0, r_sense: float = 0.0) -> np.ndarray:
    """The array's effective conductance matrix ``T`` (rows, cols): column currents are ``T^T v``.

    The array is linear, so one factorisation and one solve per row (a unit
    voltage on that row, the others at 0 V) give the column currents for any
    input vector exactly; with ideal wires ``T`` is ``g``.
    """
    from scipy.sparse.linalg import splu
    sys_ = _System(g, r_wl, r_bl, r_driver, r_sense, None)
    x_k = splu(sys_.a_kk).solve(np.asarray(sys_.b_k.todense()))
    x = sys_.nodes(x_k, np.eye(sys_.n))
    return np.asarray(sys_.column_currents(x)).T
