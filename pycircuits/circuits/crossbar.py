"""``crossbar``: an N x M array of RRAM cells (1R or 1T1R) with word- and bit-line wires, drivers and sense loads.

Schematic (row ``i``, column ``j``)::

    v_in[i] --[r_driver]-- w(i,0) --[r_wl]-- w(i,1) --[r_wl]-- ...      word line i
                             |                 |
                           cell(i,0)         cell(i,1)     1R: the RRAM; 1T1R: RRAM, then an NMOS
                             |                 |               whose gate is row i's select line
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
cell's band.

The input vector ``inputs`` gives each row's drive as a fraction of
``v_read`` (one value: every row).  A row whose input is 0 is driven at 0 V
(``unselected=ground``) or left floating (``unselected=float``: its driver is
off, and in a 1R array current finds its way from selected rows through that
row's cells into other columns -- the sneak paths).  ``access=1t1r`` puts an
NMOS of the PDK (``w_access``, minimum length) in series with every cell,
its gate on the row's select line (``v_select``, the PDK's VDD by default,
on for rows whose input is above 0, at 0 V otherwise): an unselected row's
cells are cut off from the bit lines but for the transistor's off current.
``analysis=op`` reads once at the operating point (a multiply-accumulate);
``analysis=tran`` applies a train of ``n_pulses`` trapezoidal read pulses
(100 time steps over the train) and reads at the end of the first pulse's
flat top, where the wire capacitance has settled.

Measures: each column's current, the ideal MAC ``G^T v``, their relative
error, the sneak current (what a column takes in through cells of rows
whose input is 0), and the smallest voltage any selected cell sees, scaled
to a full input (the worst cell's effective read voltage); ``tran`` adds each
column's charge over the train, with its ideal.
:mod:`pycircuits.twins.crossbar` solves the 1R network in NumPy.
"""


from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..params import Params, fmt, param, path_param
from ..pdk import Pdk, device_model, get_pdk
from .base import CircuitDef, register

MAX_SIDE = 256  # rows and columns; 256 x 256 is 65,536 cells, 131k+ unknowns


@dataclass(frozen=True)
class CrossbarParams(Params):
    """Parameters of the ``crossbar`` array."""

    rows: int = param(8, "", "word lines (inputs)", min=1, max=MAX_SIDE)
    cols: int = param(8, "", "bit lines (outputs)", min=1, max=MAX_SIDE)
    size: int = param(0, "", "a square array: rows = cols = size (overrides both; for sweeps of the array's "
                      "side); 0: rows and cols", min=0, max=MAX_SIDE)
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
    access: str = param("1r", "", "cell type: 1r (the RRAM alone) or 1t1r (an access NMOS in series, its gate "
                        "on the row's select line)", choices=("1r", "1t1r"))
    w_access: float = param(1e-6, "m", "1t1r: access transistor width (minimum length of the PDK)",
                            min=0.1e-6, max=100e-6)
    v_select: float = param(0.0, "V", "1t1r: select-line voltage of a selected row; 0 = the PDK's VDD",
                            min=0.0, max=5.0)
    inputs: tuple = param((1.0,), "", "input vector, one value per row in [0, 1] (fraction of v_read); one "
                          "value: every row", min=0.0, max=1.0)
    unselected: str = param("ground", "", "rows whose input is 0: ground (driven at 0 V) or float (driver "
                            "off: the sneak paths of a 1R array)", choices=("ground", "float"))
    analysis: str = param("op", "", "op: one read (.op); tran: a train of read pulses (.tran, 100 steps)",
                          choices=("op", "tran"))
    n_pulses: int = param(2, "", "tran: read pulses in the train", min=1, max=1000)
    t_pulse: float = param(10e-9, "s", "tran: flat top of each read pulse", min=1e-12, max=1.0)
    t_edge: float = param(1e-9, "s", "tran: rise and fall time of each pulse", min=1e-13, max=1.0)
    sigma_g: float = param(0.0, "", "Monte Carlo: log-normal sigma of each cell's conductance (device to device)",
                           min=0.0, max=2.0, variability=True)
    device_seed: int = param(0, "", "the draw of the cells' spread (set per Monte Carlo sample; 0 with "
                             "sigma_g = 0: none)", min=0, max=2**63 - 1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size:
            object.__setattr__(self, "rows", self.size)
            object.__setattr__(self, "cols", self.size)
        if self.r_lrs >= self.r_hrs:
            raise ParameterError(f"parameter r_lrs={self.r_lrs:g} must be below r_hrs={self.r_hrs:g}")
        if len(self.inputs) not in (1, self.rows):
            raise ParameterError(f"parameter inputs: {len(self.inputs)} values given, rows={self.rows} needs "
                                 f"{self.rows}")
        if self.access == "1t1r" and self.cell == "rram":
            raise ParameterError("access=1t1r takes cell=resistor (the rram.lib subcircuit is 1R only)")


def input_vector(p: CrossbarParams) -> np.ndarray:
    """Each row's input in [0, 1] (fraction of ``v_read``); one value given is every row's."""
    return np.broadcast_to(np.asarray(p.inputs, dtype=float), (p.rows,)).copy()


def row_voltages(p: CrossbarParams) -> np.ndarray:
    """The voltage each row's driver applies (V); rows with input 0 get 0 V (or float)."""
    return input_vector(p) * p.v_read


def driven_rows(p: CrossbarParams) -> np.ndarray:
    """Rows with a driver: all of them, unless rows whose input is 0 float."""
    return np.ones(p.rows, dtype=bool) if p.unselected == "ground" else input_vector(p) > 0


def period(p: CrossbarParams) -> float:
    """tran: one pulse slot (s): rise, flat top, fall, and as long again at rest."""
    return 2 * (p.t_pulse + 2 * p.t_edge)


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


def _node_names(p: CrossbarParams):
    r_seg, _ = _segment(p)

    def w(i: int, j: int) -> str:
        return f"w{i}_{j}" if r_seg > 0 else f"w{i}"

    def b(i: int, j: int) -> str:
        return f"b{i}_{j}" if r_seg > 0 else f"s{j}"
    return w, b


def _drive(p: CrossbarParams, x: float) -> str:
    """The value of a row driver at input ``x``: a DC level (op) or the read-pulse train (tran).

    The level is an expression of ``v_read``, so that ``alterparam v_read`` re-reads the array.
    """
    if x == 0.0:
        return "0"
    level = "{v_read}" if x == 1.0 else "{v_read*" + fmt(x) + "}"
    if p.analysis == "op":
        return level
    return f"pulse(0 {level} {fmt(p.t_edge)} {fmt(p.t_edge)} {fmt(p.t_edge)} {fmt(p.t_pulse)} {fmt(period(p))})"


def build(p: CrossbarParams, pdk: Pdk | None = None, corner: str = "tt") -> str:
    """The array netlist as text (a 128 x 128 deck is 50k lines: written directly, not through PySpice)."""
    g = conductances(p)
    r_seg, c_seg = _segment(p)
    states = np.log(g * p.r_hrs) / math.log(p.r_hrs / p.r_lrs)  # x giving each conductance
    n, m = p.rows, p.cols
    w, b = _node_names(p)
    x_in, v_rows, driven = input_vector(p), row_voltages(p), driven_rows(p)
    t1r = p.access == "1t1r"
    out = [f".title crossbar {n}x{m} of {p.access.upper()} rram cells"]
    if t1r:
        pdk = pdk or get_pdk()
        out.append(pdk.lib_card(corner))
        v_sel = p.v_select or pdk.vdd
    if p.cell == "rram":
        out.append(f'.include "{device_model("rram.lib")}"')
    out.append(f".param v_read={fmt(p.v_read)}")
    for i in range(n):
        if driven[i]:
            drive = _drive(p, float(x_in[i]))
            if p.r_driver > 0:
                out.append(f"Vin{i} d{i} 0 {drive}")
                out.append(f"Rdrv{i} d{i} {w(i, 0)} {fmt(p.r_driver)}")
            else:
                out.append(f"Vin{i} {w(i, 0)} 0 {drive}")
        if t1r:
            out.append(f"Vsel{i} sel{i} 0 {fmt(v_sel if v_rows[i] > 0 else 0.0)}")
        if r_seg > 0:
            for j in range(m - 1):
                out.append(f"Rw{i}_{j} {w(i, j)} {w(i, j + 1)} {fmt(r_seg)}")
    for i in range(n):
        for j in range(m):
            bottom = f"c{i}_{j}" if t1r else b(i, j)
            if p.cell == "rram":
                out.append(f"X{i}_{j} {w(i, j)} {bottom} x{i}_{j} rram r_lrs={fmt(p.r_lrs)} r_hrs={fmt(p.r_hrs)} "
                           f"x0={fmt(float(states[i, j]))}")
            else:  # what rram.lib's I = V / R(x) is at a read below threshold, where x holds still
                out.append(f"Rc{i}_{j} {w(i, j)} {bottom} {fmt(float(1.0 / g[i, j]))}")
            if t1r:
                out.append(pdk.mos_card("n", f"a{i}_{j}", bottom, f"sel{i}", b(i, j), "0", p.w_access))
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
    if p.analysis == "op":
        out.append(".op")
    else:
        t_stop = p.n_pulses * period(p)
        out.append(f".tran {fmt(t_stop / 100)} {fmt(t_stop)} 0 {fmt(t_stop / 100)}")
    out.append(".end")
    return "\n".join(out) + "\n"


_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy 2 renamed it


def read_times(p: CrossbarParams) -> np.ndarray:
    """tran: the end of each pulse's flat top (s), where the read is taken."""
    return p.t_edge * 2 + p.t_pulse + np.arange(p.n_pulses) * period(p)


def measure(wv, p: CrossbarParams) -> dict[str, np.ndarray | float]:
    """Column currents, the ideal MAC, their error, the sneak currents and the smallest cell voltage.

    ``op``: at the operating point; ``tran``: at the end of the first pulse's flat top
    (every pulse reads the same vector), plus each column's charge over the train.
    """
    g = conductances(p)
    n, m = p.rows, p.cols
    w, b = _node_names(p)
    t = np.real(wv["time"]) if p.analysis == "tran" else None
    t_read = float(read_times(p)[0]) if t is not None else 0.0

    def at(vec: str) -> float:
        y = np.real(wv[vec])
        return float(np.interp(t_read, t, y)) if t is not None else float(y[-1])

    def v(name: str) -> float:
        return 0.0 if name == "0" else at(f"v({name})")
    if p.sense == "vground":
        i_col = np.array([at(f"i(vsense{j})") for j in range(m)])
    else:
        i_col = np.array([v(f"s{j}") / p.r_sense for j in range(m)])
    ideal = g.T @ row_voltages(p)
    bottom = (lambda i, j: f"c{i}_{j}") if p.access == "1t1r" else b
    top = np.array([[v(w(i, j)) for j in range(m)] for i in range(n)])
    v_cell = top - np.array([[v(bottom(i, j)) for j in range(m)] for i in range(n)])
    i_cell = g * v_cell  # into each cell from its row: what a read-voltage cell carries
    unsel = row_voltages(p) == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(ideal != 0, i_col / np.where(ideal != 0, ideal, 1.0) - 1.0, np.nan)
    x = input_vector(p) > 0
    out: dict[str, np.ndarray | float] = {
        "col_current_a": i_col, "ideal_mac_a": ideal, "rel_error": rel,
        "sneak_current_a": i_cell[unsel].sum(axis=0) if unsel.any() else np.zeros(m),
        "v_cell_min_v": float((v_cell[x] / input_vector(p)[x, None]).min()) if x.any() else 0.0}
    if t is not None:
        i_t = (np.real(np.vstack([wv[f"i(vsense{j})"] for j in range(m)])) if p.sense == "vground"
               else np.real(np.vstack([wv[f"v(s{j})"] for j in range(m)])) / p.r_sense)
        out["col_charge_c"] = _trapezoid(i_t, t, axis=1)
        out["ideal_charge_c"] = ideal * p.n_pulses * (p.t_pulse + p.t_edge)
    return out


register(CircuitDef(
    name="crossbar", doc="N x M array of 1R or 1T1R RRAM cells with wire, driver and sense resistance (a MAC read)",
    params=CrossbarParams, build=build, measure=measure, monte_carlo=monte_carlo,
    measures={"col_current_a": "A: per column, current into its sense node (tran: at the first read)",
              "ideal_mac_a": "A: per column, G^T v with ideal wires, drivers and sense",
              "rel_error": ": per column, col_current / ideal_mac - 1 (IR drop, sneak currents)",
              "sneak_current_a": "A: per column, current that reaches it through cells of rows whose input is 0",
              "v_cell_min_v": "V: the smallest read voltage of any selected cell, scaled to a full input "
                              "(the worst cell's effective read voltage)",
              "col_charge_c": "C: tran only: per column, charge over the pulse train",
              "ideal_charge_c": "C: tran only: per column, G^T v times the pulses' area (ideal wires)"},
))
