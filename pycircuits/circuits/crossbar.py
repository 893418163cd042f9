"""``crossbar``: an N x M array of RRAM cells (1R) with word- and bit-line wires, drivers and sense loads.

Schematic (row ``i``, column ``j``)::

    v_in[i] --[r_driver]-- w(i,0) --[r_wl]-- w(i,1) --[r_wl]-- ...      word line i
                             |                 |
                           X(i,0)            X(i,1)        RRAM cells (devicemodels/rram.lib)
                             |                 |
                           b(i,0)            b(i,1)
                             |[r_bl]           |[r_bl]
                           b(i+1,0) ...      b(i+1,1) ...                bit lines, down to
                             |[r_bl]           |[r_bl]
                           s(0)              s(1)                        the sense nodes

Each segment is one cell pitch: ``r_wl = r_bl = r_wire_per_m * pitch`` and
a capacitance ``c_wire_per_m * pitch`` to ground at each wire node.  The
sense node of a column is a virtual ground (a 0 V source whose current is
the column current) or a load ``r_sense`` to ground.  With zero wire,
driver and sense resistance the nodes of a line are one node, and the
column currents are exactly ``G^T v``.

The cells are the behavioural RRAM read below its thresholds, so its state
holds still and each cell is the conductance its state gives:
``G = 1/r_hrs * (r_hrs/r_lrs)^x``.  ``cell=resistor`` (the default) writes
that conductance as a resistor; ``cell=rram`` writes the ``rram.lib``
subcircuit at that state, which gives the same read (tested) but whose
operating point slows steeply with the array (0.24 s at 16x16, 211 s at
32x32: a state node per cell tied by 1e-12 S).  The conductance matrix comes from a file
(``g_file``: ``.npy``, or ``.csv`` of rows x cols, in S, within the cell's
``[1/r_hrs, 1/r_lrs]``) or from a draw of the states, uniform in ``[0, 1]``,
seeded by ``seed``.  Monte Carlo multiplies each cell's conductance by a
log-normal factor of ``sigma_g`` (the RRAM's device-to-device spread, drawn
from ``device_seed``, which the sampler draws per sample), clipped to the
cell's band.  Every row is read at ``v_read`` (a ``.op``: one
multiply-accumulate of an all-ones input vector).

Measures: each column's current, the ideal MAC ``G^T v``, their relative
error, and the smallest voltage any cell sees (the worst cell's effective
read voltage).  :mod:`pycircuits.twins.crossbar` solves the same network in
NumPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..params import Params, fmt, param, path_param
from ..pdk import Pdk, device_model
from .base import CircuitDef, register

MAX_SIDE = 256  # rows and columns; 256 x 256 is 65,536 cells, 131k+ unknowns


@dataclass(frozen=True)
class CrossbarParams(Params):
    """Parameters of the ``crossbar`` array."""

    rows: int = param(8, "", "word lines (inputs)", min=1, max=MAX_SIDE)
    cols: int = param(8, "", "bit lines (outputs)", min=1, max=MAX_SIDE)
    g_file: str = path_param("conductance matrix, rows x cols in S (.npy or .csv); empty: a seeded draw")
    seed: int = param(1, "", "seed of the drawn cell states (without g_file)", min=0, max=2**32 - 1)
    r_lrs: float = param(10e3, "Ohm", "cell low-resistance state (rram.lib)", min=1.0, max=1e12)
    r_hrs: float = param(1e6, "Ohm", "cell high-resistance state (rram.lib)", min=1.0, max=1e13)
    v_read: float = param(0.2, "V", "read voltage on every word line (below the 0.9 V thresholds)",
                          min=0.0, min_exclusive=True, max=0.85)
    pitch: float = param(100e-9, "m", "cell pitch along both lines", min=1e-9, max=1e-3)
    r_wire_per_m: float = param(2e6, "Ohm/m", "wire resistance per length (2 Ohm/um); 0: ideal wires",
                                min=0.0, max=1e12)
    c_wire_per_m: float = param(2e-10, "F/m", "wire capacitance per length (0.2 fF/um)", min=0.0, max=1e-6)
    r_driver: float = param(0.0, "Ohm", "word-line driver output resistance; 0: ideal drivers", min=0.0, max=1e9)
    sense: str = param("vground", "", "bit-line sense: vground (ideal virtual ground) or resistive (r_sense)",
                       choices=("vground", "resistive"))
    r_sense: float = param(100.0, "Ohm", "sense load to ground (sense=resistive)", min=0.0, min_exclusive=True,
                           max=1e9)
    cell: str = param("resistor", "", "cell model: resistor (R of the cell's state: exact at a read, fast) or "
                      "rram (the rram.lib subcircuit; its .op slows steeply with size: 5 ms at 8x8, 211 s at 32x32)",
                      choices=("resistor", "rram"))
    sigma_g: float = param(0.0, "", "Monte Carlo: log-normal sigma of each cell's conductance (device to device)",
                           min=0.0, max=2.0, variability=True)
    device_seed: int = param(0, "", "the draw of the cells' spread (set per Monte Carlo sample; 0 with "
                             "sigma_g = 0: none)", min=0, max=2**63 - 1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.r_lrs >= self.r_hrs:
            raise ParameterError(f"parameter r_lrs={self.r_lrs:g} must be below r_hrs={self.r_hrs:g}")


def conductances(p: CrossbarParams) -> np.ndarray:
    """The (rows, cols) cell conductances, S: from ``g_file`` or drawn from ``seed``."""
    g = _nominal(p)
    if p.sigma_g > 0:  # each cell's device-to-device factor, clipped to what the cell can hold
        factor = np.exp(p.sigma_g * np.random.default_rng(p.device_seed).standard_normal(g.shape))
        g = np.clip(g * factor, 1.0 / p.r_hrs, 1.0 / p.r_lrs)
    return g


def _nominal(p: CrossbarParams) -> np.ndarray:
    g_min, g_max = 1.0 / p.r_hrs, 1.0 / p.r_lrs
    if not p.g_file:
        x = np.random.default_rng(p.seed).random((p.rows, p.cols))
        return g_min * (g_max / g_min) ** x
    path = Path(p.g_file)
    if path.suffix.lower() == ".npy":
        from ..errors import FileFormatError
        from ..files import load_arrays
        try:
            g = load_arrays(path, "conductance file")[""]
        except FileFormatError as exc:
            raise ParameterError(str(exc)) from None
    else:
        try:
            g = np.loadtxt(path, delimiter="," if path.suffix.lower() == ".csv" else None, ndmin=2)
        except (OSError, ValueError) as exc:
            raise ParameterError(f"conductance file {path}: not a table of numbers ({str(exc)[:80]})") from None
    g = np.asarray(g, dtype=float)
    if g.shape != (p.rows, p.cols):
        raise ParameterError(f"conductance file {path}: shape {g.shape}, the array is rows x cols = "
                             f"({p.rows}, {p.cols})")
    if not np.all(np.isfinite(g)):
        raise ParameterError(f"conductance file {path}: holds non-finite values")
    lo, hi = g_min * (1 - 1e-9), g_max * (1 + 1e-9)
    if np.any(g < lo) or np.any(g > hi):
        raise ParameterError(f"conductance file {path}: values {g.min():g}..{g.max():g} S lie outside the cell's "
                             f"[1/r_hrs, 1/r_lrs] = [{g_min:g}, {g_max:g}] S")
    return np.clip(g, g_min, g_max)


def monte_carlo(p: CrossbarParams, rng) -> dict[str, int]:
    """One sample of the array: the seed of its cells' log-normal spread, drawn from the point's generator."""
    return {"device_seed": int(rng.integers(1, 2**52))}  # exact in the dataset's float variables


def _segment(p: CrossbarParams) -> tuple[float, float]:
    return p.r_wire_per_m * p.pitch, p.c_wire_per_m * p.pitch


def build(p: CrossbarParams, pdk: Pdk | None = None, corner: str = "tt") -> str:  # noqa: ARG001 - no MOS
    """The array netlist as text (a 128 x 128 deck is 50k lines: written directly, not through PySpice)."""
    g = conductances(p)
    r_seg, c_seg = _segment(p)
    states = np.log(g * p.r_hrs) / math.log(p.r_hrs / p.r_lrs)  # x giving each conductance
    n, m = p.rows, p.cols

    def w(i: int, j: int) -> str:
        return f"w{i}_{j}" if r_seg > 0 else f"w{i}"

    def b(i: int, j: int) -> str:
        return f"b{i}_{j}" if r_seg > 0 else f"s{j}"

    out = [f".title crossbar {n}x{m} of 1R rram cells"]
    if p.cell == "rram":
        out.append(f'.include "{device_model("rram.lib")}"')
    out.append(f".param v_read={fmt(p.v_read)}")
    for i in range(n):
        if p.r_driver > 0:
            out.append(f"Vin{i} d{i} 0 {{v_read}}")
            out.append(f"Rdrv{i} d{i} {w(i, 0)} {fmt(p.r_driver)}")
        else:
            out.append(f"Vin{i} {w(i, 0)} 0 {{v_read}}")
        if r_seg > 0:
            for j in range(m - 1):
                out.append(f"Rw{i}_{j} {w(i, j)} {w(i, j + 1)} {fmt(r_seg)}")
    for i in range(n):
        for j in range(m):
            if p.cell == "rram":
                out.append(f"X{i}_{j} {w(i, j)} {b(i, j)} x{i}_{j} rram r_lrs={fmt(p.r_lrs)} r_hrs={fmt(p.r_hrs)} "
                           f"x0={fmt(float(states[i, j]))}")
            else:  # what rram.lib's I = V / R(x) is at a read below threshold, where x holds still
                out.append(f"Rc{i}_{j} {w(i, j)} {b(i, j)} {fmt(float(1.0 / g[i, j]))}")
    for j in range(m):
        if r_seg > 0:
            for i in range(n - 1):
                out.append(f"Rb{i}_{j} {b(i, j)} {b(i + 1, j)} {fmt(r_seg)}")
            out.append(f"Rb{n - 1}_{j} {b(n - 1, j)} s{j} {fmt(r_seg)}")
        if p.sense == "vground":
            out.append(f"Vsense{j} s{j} 0 0")
        else:
            out.append(f"Rsense{j} s{j} 0 {fmt(p.r_sense)}")
    if c_seg > 0 and r_seg > 0:
        out += [f"Cw{i}_{j} {w(i, j)} 0 {fmt(c_seg)}" for i in range(n) for j in range(m)]
        out += [f"Cb{i}_{j} {b(i, j)} 0 {fmt(c_seg)}" for i in range(n) for j in range(m)]
    out += [".op", ".end"]
    return "\n".join(out) + "\n"


def measure(wv, p: CrossbarParams) -> dict[str, np.ndarray | float]:
    """Column currents, the ideal MAC, their relative error and the smallest cell voltage."""
    g = conductances(p)
    r_seg, _ = _segment(p)
    n, m = p.rows, p.cols

    def v(name: str) -> float:
        return float(np.real(wv[f"v({name})"])[-1])
    if p.sense == "vground":
        i_col = np.array([float(np.real(wv[f"i(vsense{j})"])[-1]) for j in range(m)])
    else:
        i_col = np.array([v(f"s{j}") / p.r_sense for j in range(m)])
    ideal = g.T @ np.full(n, p.v_read)
    if r_seg > 0:
        v_cell = np.array([[v(f"w{i}_{j}") - v(f"b{i}_{j}") for j in range(m)] for i in range(n)])
    else:
        v_cell = np.array([[v(f"w{i}") - (v(f"s{j}") if p.sense == "resistive" else 0.0) for j in range(m)]
                           for i in range(n)])
    return {"col_current_a": i_col, "ideal_mac_a": ideal, "rel_error": i_col / ideal - 1.0,
            "v_cell_min_v": float(v_cell.min())}


register(CircuitDef(
    name="crossbar", doc="N x M array of 1R RRAM cells with wire, driver and sense resistance (a MAC read)",
    params=CrossbarParams, build=build, measure=measure, monte_carlo=monte_carlo,
    measures={"col_current_a": "A: per column, current into its sense node",
              "ideal_mac_a": "A: per column, G^T v with ideal wires, drivers and sense",
              "rel_error": ": per column, col_current / ideal_mac - 1 (IR drop, sneak currents)",
              "v_cell_min_v": "V: the smallest voltage across any cell (the worst cell's read voltage)"},
))
