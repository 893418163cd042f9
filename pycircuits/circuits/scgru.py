"""``scgru``: switched-capacitor minGRU core (arXiv 2505.08599), one column per hidden unit.

Software twin: :mod:`pycircuits.twins.mingru` with the same quantization
(:func:`quantization_of`; :func:`reference` runs it on the same weights and
inputs).  Values are voltages ``V = V_mid + v_swing * value`` with
``V_mid = VDD/2`` and ``v_swing = v_swing_frac * VDD`` (0.6 V and 0.45 V on
generic130); weights -1, -1/3, 1/3, 1 map to the four row-line levels, and an
input x_i = 0 puts every line of row i at the neutral V_mid (contribution 0).

One hidden unit j; every switch ``-/-`` is a transmission gate of
``pdk.nmos``/``pdk.pmos``; ``C_u = c_unit``, ``C_l = c_unit * c_lsb_ratio``::

    row lines r{i}_{c}, c = 0..3: V_mid + v_swing*w_c while x_i = 1, else V_mid
      |-/- phi1 -- zi{j}_{i} [C_u] -/- phi2 --+-- zb{j} [63 C_l] ---> 6-bit quantizer
      |                                       +-/- phi1 -- bz{j} (z bias line)
      |-/- phi1 -- hi{j}_{i} [C_u] -/- phi2 --+-- hb{j}            (h MAC bus)
                                              +-/- phi1 -- bh{j} (h bias line)
                                              |
                  hb{j} -/- phi12*cand -- ka{j}_{k} [2^k C_l] -/- phi3*sel -- ub{j}
                  hb{j} -/- phi12*cand -- kb{j}_{k} [2^k C_l] -/- phi3*sel -- ub{j}
                                                             (k = 0..5)        |
                                            h0{j} -/- init --------------------+--> StrongARM (+)
         thl{j} (theta line) -- R_th -- thc{j} [63 C_l] -/- phi3 (6x wide) -- tb{j} --> (-)

Each sampling switch is wired to the row line its 2-bit weight code selects
(the SRAM choice).  Bit k of the state array has two equal caps: one holds
h_{t-1} (the state), the other is the candidate; the flag p_k says which
(p_k = 0: ka is the state).  The update bus ub is never reset, so the channel
charge its switches leave on it when they open comes back at the next
update: the state loses no charge from step to step, even with the gate shut.

Clock phases, fractions of t_clk (edges of t_edge <= t_clk/500 start at the
given times; each non-overlap gap is one edge)::

    0.000-0.240 phi1   input caps -> row lines; zb -> bz; hb -> bh, with the
                       candidate caps on hb (phi12 = 0.000-0.490)
    0.242-0.490 phi2   input caps -> zb / hb: charge sharing = MAC
    0.492-0.998 phq    the quantizer tracks the now isolated zb until phi3, and
                       m_k <- p_k XOR z_k; row lines take x_{t+1}
    0.560-0.998 phi3   bit k: candidate cap if z_k = 1, state cap if z_k = 0 -> ub
    0.580-0.998 clk    StrongARM compares ub with theta (y read at 0.99); p_k <- m_k;
                       clk has its own 0.2 ns edges (min(t_edge, 0.2 ns))

An extra first period (init) puts the state caps and ub at h0, the candidates
and hb at the h bias; step t runs in period t + 1.

Charge equations (``k_b = 63 C_l / C_u`` is the bias weight; 7.875 for defaults):

* MAC, z and h alike: after phi1 the bias capacitance ``63 C_l`` holds
  ``V_b = V_mid + v_swing b`` (6-bit b) and input cap i holds
  ``V_i = V_mid + v_swing w_i x_i``; shorted in phi2, charge conservation gives
  ``V_mac = (63 C_l V_b + C_u sum_i V_i) / (63 C_l + n_in C_u)``, i.e.
  ``a = (sum_i w_i x_i + k_b b) / (n_in + k_b)``.  In the h column the bias
  capacitance *is* the six candidate caps, so after phi2 each holds h~_t = a_h.
* gate: the quantizer (behavioural) holds ``code = round(63 clip(s a_z + 1/2, 0, 1))``
  of ``V(zb)`` after phi2 opens; ``z = code/63 = sum_k z_k 2^k / 63``.
* update: in phi3, ub joins per bit the candidate cap (``2^k C_l`` at h~_t) if
  ``z_k = 1`` and the state cap (``2^k C_l`` at h_{t-1}) if ``z_k = 0``:
  ``V_ub = sum_k 2^k C_l (z_k h~ + (1 - z_k) h_{t-1}) / (63 C_l) = z h~ + (1 - z) h_{t-1}``,
  a charge redistribution between the state portion ``C_h (1 - z)`` and the
  candidate portion ``C_h z`` (``C_h = 63 C_l``).  The caps that joined hold h_t
  and are the state from now on (p_k <- p_k XOR z_k); the left-out ones
  become candidates.  The bus itself (parasitics only, ``C_par`` << ``C_h``) carries
  its charge over from the last update.
* output: a StrongARM latch (clocked tail, NMOS input pair, cross-coupled
  inverters, four PMOS resets), ``y = [V(outp) > V(outn)] = [V_ub > V_tb]``.  It is
  clocked while phi3 holds ub on the state caps, so its kickback lands on 63 C_l,
  not on a bare bus.  Its other input tb sees theta the same way: a replica
  capacitance ``C_h`` held at ``V_theta = V_mid + v_swing theta`` by R_th (R_th C_h =
  10 t_clk) joins tb in phi3 through a switch six update switches wide, so channel
  charge and kickback are common-mode near the threshold.

Charge injection and clock feed-through of every switch (and the comparator
kickback) are in the result: they are what separates the circuit from the
software twin, growing as ``c_unit`` shrinks.

Ideal parts: the row drivers (PWL sources computed from the inputs), bias /
theta / h0 lines (6-bit DACs), clocks and switch logic (PWL and B-sources),
and the gate quantizer (a behavioural track-and-hold).  Every reference
line is an ideal linear regulator on ``vdd`` (a B-source draws from vdd the
current the line sources), so ``energy_j`` -- the energy from the one ``vdd``
source -- is comparators + all charge taken from the reference lines; clock
and gate drivers are not counted.

Weights: ``weights_file`` (``.npz`` from :func:`pycircuits.twins.mingru.save_weights`),
else ``weights=inline`` (tuples ``w_z``, ``w_h`` row-major ``(n_hidden, n_in)``,
``b_z``, ``b_h``, ``theta``), else ``random_weights`` of ``weight_seed``.
Inputs: ``inputs_file`` (``.npy``, ``.npz`` with key ``x``, or text / csv of
0/1 rows, one row per step; its first ``n_steps`` rows), else ``n_steps``
random rows of ``seed``.  Files are read in Python; no text reaches the netlist.

Runtime: n_in = 8, n_hidden = 2 (262 MOS) costs ~155 accepted time points
and ~640 Newton iterations per step: 100 steps in ~15 s of one core (with
OMP_WAIT_POLICY=passive; ngspice's spinning OpenMP threads can cost 3-5x on a
loaded machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..extract.measures import energy
from ..params import Params, fmt, param, path_param
from ..pdk import Pdk
from ..twins.mingru import MinGRUWeights, Quantization, check_inputs, load_weights, mingru_reference, random_weights
from .base import CircuitDef, Netlist, pwl, register

N_BITS = 6  # gate resolution = bits of the capacitor array
N_LSB = (1 << N_BITS) - 1  # 63 LSB capacitors in the array
_G_SH = 2.5e8  # S: track-and-hold conductance on a 1 F logic node: tau 4 ns, 16 tau per window
_R_DC = 1e12  # Ohm: DC path of the behavioural state nodes (tau 1e12 s, negligible)

# Phase windows within one clock period (fractions; every edge lasts t_edge).  Each edge
# costs the simulator ~15 small time steps, so there are few of them and a phase starts
# where the previous one's edge ends (one breakpoint less, and a one-edge non-overlap gap).
PH1 = (0.000, 0.240)  # input caps -> row lines, zb -> bz, hb -> bh
PH12 = (0.000, 0.490)  # candidate caps on hb (phi1 + phi2)
PH2 = (0.242, 0.490)  # input caps -> zb / hb: MAC by charge sharing
PHQ = (0.492, 0.998)  # quantizer tracks the isolated zb until phi3; row lines take the next x
PH3 = (0.560, 0.998)  # update: selected caps on ub
CLK = (0.580, 0.998)  # StrongARM evaluates; p_k <- m_k in the same window
INIT = (0.0, 0.800)  # extra first period: state caps and ub -> h0 (phi1, phi12 on as well)
# Read times of the measures; h_v is read early in the next period, when the state
# caps are isolated and the phi3 edge (feed-through included) is over.
T_MAC, T_Q, T_U, T_Y, T_H = 0.485, 0.559, 0.578, 0.99, 1.01
_EDGE_MAX = 0.002  # edges fit the 0.002-period gaps between phases
_SQ_ON = 0.9  # the quantizer tracks while phq > 0.9 VDD and phi3 < 0.1 VDD
_ONE = 1.0  # V: logic nodes hold 1 + value (at 0 V a 1 F node's LTE tolerance is chgtol volts)

# StrongARM sizes (m), chosen once: a 1 um input pair decides fast around VDD/2.
_W_TAIL, _W_IN, _W_LN, _W_LP, _W_RST = 2e-6, 1e-6, 0.5e-6, 1e-6, 0.5e-6
_C_OUT = 10e-15  # F, load of each comparator output
# The latch clock has an edge of its own, sharp and fixed (capped by t_edge): with the
# shared 2 ns edge the tail turned on slowly enough that the integrator stepped through
# the regeneration in 0.1-0.3 ns steps (time constant ~0.1 ns) and decisions up to
# 1.9 LSB from theta came out wrong, depending on t_max_step and t_edge.  A 0.2 ns
# edge starts the regeneration at a breakpoint, where the step is small: decisions
# are then right beyond COMPARATOR_RESOLUTION_LSB at every step setting tested.
_CLK_EDGE = 0.2e-9
COMPARATOR_RESOLUTION_LSB = 0.2
"""Largest distance of the read state from theta (LSB of the state) at which the latch may still
decide the other way: 0.141 LSB measured (the worst of 2 near-theta cases x 4 step settings;
kickback and the phi3 edge separate the state read at T_H from the latch's input)."""
_TAU_TH = 10.0  # R_th*C_h of the theta replica, in clock periods
# chgtol: the default 1e-14 C exceeds every charge in this circuit, so the time step would
# never see the latch regenerate (implicit integration with steps >> the regeneration time
# constant settles on the metastable point); 1e-15 C resolves it (y_undecided counts misses).
# bypass: the many idle switches skip their model evaluation (-17 % CPU, < 0.1 mV change).
_OPTIONS = {"method": "gear", "gmin": 1e-15, "chgtol": 1e-15, "bypass": 1}

_DEFAULT_WZ = (0, 3, 1, 2, 2, 1, 3, 0, 1, 1, 2, 3, 0, 2, 3, 1)
_DEFAULT_WH = (3, 0, 2, 1, 0, 3, 1, 2, 2, 3, 0, 1, 3, 1, 2, 0)


@dataclass(frozen=True)
class ScgruParams(Params):
    """Parameters of the ``scgru`` switched-capacitor minGRU core."""

    n_in: int = param(8, "", "number of binary inputs", min=1, max=64)
    n_hidden: int = param(2, "", "number of hidden units (circuit columns)", min=1, max=16)
    n_steps: int = param(20, "", "number of time steps (clock periods) simulated", min=1, max=100_000)
    seed: int = param(1, "", "seed of the random binary inputs (when no inputs_file)", min=0, max=2**32 - 1)
    p_one: float = param(0.5, "", "probability of a 1 in the random inputs", min=0.0, max=1.0)
    inputs_file: str = path_param("binary inputs, one row per step (.npy, .npz key x, or text)")
    weights: str = param("seed", "", "weight source when no weights_file: random of weight_seed, or "
                         "the inline tuples", choices=("seed", "inline"))
    weights_file: str = path_param(".npz weights from pycircuits.twins.mingru.save_weights")
    weight_seed: int = param(1, "", "seed of random_weights (weights=seed)", min=0, max=2**32 - 1)
    w_z: tuple = param(_DEFAULT_WZ, "", "inline z weight codes 0..3, row-major (n_hidden, n_in)",
                       min=0, max=3)
    w_h: tuple = param(_DEFAULT_WH, "", "inline h weight codes 0..3, row-major (n_hidden, n_in)",
                       min=0, max=3)
    b_z: tuple = param((40, 28), "", "inline 6-bit z bias codes, one per hidden unit", min=0, max=63)
    b_h: tuple = param((20, 45), "", "inline 6-bit h bias codes, one per hidden unit", min=0, max=63)
    theta: tuple = param((0.0, 0.1), "", "inline output thresholds (state units), one per unit",
                         min=-0.9, max=0.9)
    h0: float = param(0.0, "", "initial state of every unit (state units)", min=-1.0, max=1.0)
    gate_slope: float = param(1.0, "", "hard-sigmoid slope: z = clip(slope*a + 1/2, 0, 1)",
                              min=0.0, min_exclusive=True, max=64.0)
    c_unit: float = param(50e-15, "F", "input sampling capacitance C_u", min=0.0, min_exclusive=True,
                          max=1e-9)
    c_lsb_ratio: float = param(0.125, "", "array LSB capacitance / c_unit (bias weight = 63*ratio)",
                               min=0.0, min_exclusive=True, max=8.0)
    vdd: float = param(0.0, "V", "supply; 0 = the PDK's nominal VDD", min=0.0, max=5.0)
    v_swing_frac: float = param(0.375, "", "value 1 is V_mid + v_swing_frac*VDD", min=0.0,
                                min_exclusive=True, max=0.5)
    t_clk: float = param(1e-6, "s", "clock period (one minGRU step)", min=1e-9, max=1e-2)
    t_edge: float = param(2e-9, "s", "rise/fall time of clocks and row lines", min=0.0,
                          min_exclusive=True, max=1e-3)
    t_max_step: float = param(100e-9, "s", "maximum simulator time step", min=0.0, min_exclusive=True,
                              max=1e-3)
    w_sw_n: float = param(0.3e-6, "m", "NMOS width of every transmission gate", min=0.1e-6, max=100e-6)
    w_sw_p: float = param(0.3e-6, "m", "PMOS width of every transmission gate (= w_sw_n: the "
                          "gate-overlap feed-through of the pair cancels)", min=0.1e-6, max=100e-6)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weights_file and self.weights == "inline":
            raise ParameterError("give either weights_file or weights=inline, not both")
        if self.t_edge > _EDGE_MAX * self.t_clk * (1 + 1e-9):
            raise ParameterError(f"t_edge={self.t_edge:g} s must be at most t_clk/{1 / _EDGE_MAX:g} "
                                 "(the non-overlap gaps are one edge long)")
        if self.t_max_step * 5 > self.t_clk:
            raise ParameterError(f"t_max_step={self.t_max_step:g} s must be at most t_clk/5")
        weights_of(self)
        inputs_of(self)


def quantization_of(p: ScgruParams) -> Quantization:
    """The software quantization this circuit implements (bias weight = 63 C_l / C_u)."""
    return Quantization(bias_weight=N_LSB * p.c_lsb_ratio, gate_slope=p.gate_slope)


def weights_of(p: ScgruParams) -> MinGRUWeights:
    """The weights the parameters select (file, inline tuples or seeded random)."""
    if p.weights_file:
        w = load_weights(p.weights_file)
    elif p.weights == "inline":
        n = p.n_hidden * p.n_in
        for name in ("w_z", "w_h"):
            if len(getattr(p, name)) != n:
                raise ParameterError(f"parameter {name}: {len(getattr(p, name))} codes given, "
                                     f"n_hidden*n_in = {n} needed")
        for name in ("b_z", "b_h", "theta"):
            if len(getattr(p, name)) != p.n_hidden:
                raise ParameterError(f"parameter {name}: {len(getattr(p, name))} values given, "
                                     f"n_hidden={p.n_hidden} needs {p.n_hidden}")
        shape = (p.n_hidden, p.n_in)
        w = MinGRUWeights(w_z=np.reshape(p.w_z, shape), w_h=np.reshape(p.w_h, shape),
                          b_z=np.array(p.b_z), b_h=np.array(p.b_h), theta=np.array(p.theta))
    else:
        w = random_weights(p.n_in, p.n_hidden, np.random.default_rng(p.weight_seed))
    if (w.n_hidden, w.n_in) != (p.n_hidden, p.n_in):
        raise ParameterError(f"weights have shape (n_hidden, n_in) = ({w.n_hidden}, {w.n_in}), "
                             f"parameters say ({p.n_hidden}, {p.n_in})")
    w.check_biases(quantization_of(p))
    if np.any(np.abs(w.theta) > 0.9):
        raise ParameterError("theta must lie within [-0.9, 0.9] (the comparator's input range)")
    return w


def _read_inputs(path: str) -> np.ndarray:
    suffix = Path(path).suffix.lower()
    from ..errors import FileFormatError
    from ..files import load_arrays
    try:
        if suffix in (".npy", ".npz"):
            data = load_arrays(path, "inputs file")
            key = "" if suffix == ".npy" else "x" if "x" in data else (next(iter(data)) if len(data) == 1 else None)
            if key is None:
                raise ParameterError(f"inputs file {path}: no array named x")
            return data[key]
        return np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=2)
    except FileFormatError as exc:
        raise ParameterError(str(exc)) from None
    except (OSError, ValueError, EOFError) as exc:
        raise ParameterError(f"inputs file {path} is not readable as numbers: {exc}") from None


def inputs_of(p: ScgruParams) -> np.ndarray:
    """The binary input sequence, shape ``(n_steps, n_in)`` (file rows or seeded random)."""
    if p.inputs_file:
        x = _read_inputs(p.inputs_file)
        if x.ndim != 2:
            raise ParameterError(f"inputs file {p.inputs_file}: expected rows x n_in, got shape {x.shape}")
        x = check_inputs(x, p.n_in)
        if x.shape[0] < p.n_steps:
            raise ParameterError(f"inputs file {p.inputs_file} has {x.shape[0]} rows, n_steps={p.n_steps}")
        return x[: p.n_steps]
    rng = np.random.default_rng(p.seed)
    return (rng.random((p.n_steps, p.n_in)) < p.p_one).astype(np.int64)


def reference(p: ScgruParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The software twin's ``(h, y, z)`` for exactly these parameters."""
    return mingru_reference(weights_of(p), inputs_of(p), quantization_of(p), h0=p.h0)


# ------------------------------------------------------------------ netlist


@dataclass(frozen=True)
class _Levels:
    vdd: float
    v_mid: float
    v_swing: float

    def volts(self, value) -> float:
        return self.v_mid + self.v_swing * float(value)


def _levels(p: ScgruParams, pdk: Pdk) -> _Levels:
    vdd = p.vdd or pdk.vdd
    return _Levels(vdd=vdd, v_mid=vdd / 2, v_swing=p.v_swing_frac * vdd)


def _windows(p: ScgruParams, window: tuple[float, float], init: bool = False,
             steps: bool = True) -> list[tuple[float, float]]:
    """Absolute (on, off) times (s): ``window`` of every step, optionally INIT of period 0."""
    T = p.t_clk
    out = [(INIT[0] * T, INIT[1] * T)] if init else []
    if steps:
        out += [((k + 1 + window[0]) * T, (k + 1 + window[1]) * T) for k in range(p.n_steps)]
    return out


def _pulses(windows: list[tuple[float, float]], high: float, edge: float, invert: bool = False) -> str:
    """PWL high (low if ``invert``) during each window; edges of ``edge`` start at on/off."""
    lo, hi = (high, 0.0) if invert else (0.0, high)
    pts = [(0.0, hi if windows and windows[0][0] == 0.0 else lo)]
    for on, off in windows:
        if on > 0.0:
            pts += [(on, lo), (on + edge, hi)]
        pts += [(off, hi), (off + edge, lo)]
    return pwl(pts)


def _row_line(p: ScgruParams, col: np.ndarray, level: float, lv: _Levels) -> str:
    """PWL of one row line: ``level`` while x_i = 1, V_mid while 0.

    The line takes x_t after phi2 of step t-1 (when no sampling switch is on).
    """
    e, T = p.t_edge, p.t_clk
    v_prev = lv.v_mid
    pts = [(0.0, v_prev)]
    for t, x in enumerate(col):
        v = level if x else lv.v_mid
        if v != v_prev:
            t0 = (t + PHQ[0]) * T if t > 0 else INIT[1] * T + 2 * e
            pts += [(t0, v_prev), (t0 + e, v)]
            v_prev = v
    return pwl(pts)


def _tg(net: Netlist, pdk: Pdk, p: ScgruParams, name: str, a: str, b: str, g: str, gb: str) -> None:
    """Transmission gate between a and b, on when g is high (gb its complement)."""
    pdk.nmos(net, f"{name}n", a, g, b, net.gnd, p.w_sw_n)
    pdk.pmos(net, f"{name}p", a, gb, b, "vdd", p.w_sw_p)


def _strongarm(net: Netlist, pdk: Pdk, j: int) -> None:
    """StrongARM latch of unit j: outp{j} high after clk rises iff v(ub{j}) > v(tb{j})."""
    tail, dn, dp, on, op = f"ta{j}", f"dn{j}", f"dp{j}", f"outn{j}", f"outp{j}"
    pdk.nmos(net, f"c{j}tail", tail, "clk", net.gnd, net.gnd, _W_TAIL)
    pdk.nmos(net, f"c{j}inp", dn, f"ub{j}", tail, net.gnd, _W_IN)
    pdk.nmos(net, f"c{j}inn", dp, f"tb{j}", tail, net.gnd, _W_IN)
    pdk.nmos(net, f"c{j}ln", on, op, dn, net.gnd, _W_LN)
    pdk.nmos(net, f"c{j}lp", op, on, dp, net.gnd, _W_LN)
    pdk.pmos(net, f"c{j}pn", on, op, "vdd", "vdd", _W_LP)
    pdk.pmos(net, f"c{j}pp", op, on, "vdd", "vdd", _W_LP)
    for node in (on, op, dn, dp):
        pdk.pmos(net, f"c{j}r{node}", node, "clk", "vdd", "vdd", _W_RST)
    net.C(f"o{j}n", on, net.gnd, fmt(_C_OUT))
    net.C(f"o{j}p", op, net.gnd, fmt(_C_OUT))


def _logic(node: str) -> str:
    """Expression of the logic value (0..1) held on ``node`` (stored as 1 + value)."""
    return f"(v({node})-{fmt(_ONE)})"


def _sample_hold(net: Netlist, node: str, target: str, strobe: str) -> None:
    """Behavioural track-and-hold: logic ``node`` follows ``target`` while ``strobe`` (0..1) is 1."""
    net.C(f"s{node}", node, net.gnd, "1")
    net.R(f"s{node}", node, "one", fmt(_R_DC))
    net.B(f"s{node}", net.gnd, node, i=f"{fmt(_G_SH)}*(({target})-{_logic(node)})*{strobe}")


def _unit(net: Netlist, pdk: Pdk, p: ScgruParams, j: int, w: MinGRUWeights, q: Quantization,
          lv: _Levels) -> None:
    """One hidden unit: z MAC + quantizer, h MAC (hb), state array (hb <-> ub), comparator."""
    gnd = net.gnd
    vdd = fmt(lv.vdd)
    net.V(f"bz{j}", f"bz{j}", gnd, fmt(lv.volts(q.bias_values(w.b_z[j]))))
    net.V(f"bh{j}", f"bh{j}", gnd, fmt(lv.volts(q.bias_values(w.b_h[j]))))
    # theta reaches the comparator like the state does: R_th charges a replica of the state
    # capacitance (C_h) to V_theta, and a switch as wide as the six update switches joins it
    # to the comparator input tb during phi3.  Channel charge and latch kickback then hit
    # both inputs alike and mostly cancel near the threshold (without the replica they
    # offset the decision by ~3 mV).  R_th*C_h = 10 t_clk: the disturbances are returned
    # when the switches open and average out; the DC stays V_theta.
    c_h = f"(c_unit*c_lsb_ratio*{N_LSB})"
    net.V(f"thl{j}", f"thl{j}", gnd, fmt(lv.volts(w.theta[j])))
    net.R(f"th{j}", f"thl{j}", f"thc{j}", f"{{{fmt(_TAU_TH * p.t_clk)}/{c_h}}}")
    net.C(f"th{j}", f"thc{j}", gnd, f"{{{c_h}}}")
    pdk.nmos(net, f"th{j}n", f"thc{j}", "phi3", f"tb{j}", gnd, N_BITS * p.w_sw_n)
    pdk.pmos(net, f"th{j}p", f"thc{j}", "phi3b", f"tb{j}", "vdd", N_BITS * p.w_sw_p)
    net.R(f"tb{j}", f"tb{j}", f"thc{j}", fmt(_R_DC))  # DC path while the switch is off
    net.V(f"h0{j}", f"h0{j}", gnd, fmt(lv.volts(p.h0)))
    # MACs: sampling capacitors, each wired to the row line its 2-bit weight selects.
    for col, codes, bus in (("z", w.w_z[j], f"zb{j}"), ("h", w.w_h[j], f"hb{j}")):
        for i, c in enumerate(codes):
            cap = f"{col}i{j}_{i}"
            net.C(cap, cap, gnd, "{c_unit}")
            _tg(net, pdk, p, f"s{cap}", f"r{i}_{c}", cap, "phi1", "phi1b")
            _tg(net, pdk, p, f"t{cap}", cap, bus, "phi2", "phi2b")
    _tg(net, pdk, p, f"rstz{j}", f"bz{j}", f"zb{j}", "phi1", "phi1b")
    _tg(net, pdk, p, f"rsth{j}", f"bh{j}", f"hb{j}", "phi1", "phi1b")
    _tg(net, pdk, p, f"init{j}", f"h0{j}", f"ub{j}", "init", "initb")
    net.C(f"bz{j}", f"zb{j}", gnd, f"{{c_unit*c_lsb_ratio*{N_LSB}}}")
    # Gate quantizer (behavioural): 6-bit hard sigmoid of the z MAC, held in zc (= 1 + z).
    a_z = f"(v(zb{j})-{fmt(lv.v_mid)})/{fmt(lv.v_swing)}"
    code = f"floor(min(max({fmt(q.gate_slope)}*{a_z}+0.5,0),1)*{N_LSB}+0.5)"
    sq = (f"max(v(phq)/{vdd}-{fmt(_SQ_ON)},0)*max({fmt(1 - _SQ_ON)}-v(phi3)/{vdd},0)"
          f"/{fmt((1 - _SQ_ON) ** 2)}")
    _sample_hold(net, f"zc{j}", f"{code}/{N_LSB}", sq)
    # State array: per bit two caps ka/kb; p=0 -> ka holds the state, kb is the candidate.
    for k in range(N_BITS):
        pk, mk = f"p{j}_{k}", f"m{j}_{k}"
        held = f"({_logic(f'zc{j}')}*{N_LSB}+0.5)"  # the held code (+1/2): its bits, once settled
        bit = f"(floor({held}/{1 << k})-2*floor({held}/{1 << (k + 1)}))"
        _sample_hold(net, mk, f"{_logic(pk)}+{bit}-2*{_logic(pk)}*{bit}", sq)
        _sample_hold(net, pk, _logic(mk), f"v(clk)/{vdd}")
        for cap, cand, sel in ((f"ka{j}_{k}", _logic(pk), f"(1-{_logic(mk)})"),
                               (f"kb{j}_{k}", f"(1-{_logic(pk)})", _logic(mk))):
            net.C(cap, cap, gnd, f"{{c_unit*c_lsb_ratio*{1 << k}}}")
            for bus, on in ((f"hb{j}", f"v(phi12)*{cand}"),  # candidate: MAC bus in phi1, phi2
                            (f"ub{j}", f"v(phi3)*{sel}+v(init)*(1-{cand})")):  # update bus in phi3
                g = f"g{bus[0]}{cap}"
                net.B(g, g, gnd, v=on)
                net.VCVS(f"{g}b", f"{g}b", gnd, "vdd", g, voltage_gain=1)  # VDD - g: linear, cheap
                _tg(net, pdk, p, f"s{bus[0]}{cap}", cap, bus, g, f"{g}b")
    _strongarm(net, pdk, j)


def build(p: ScgruParams, pdk: Pdk, corner: str = "tt") -> Netlist:
    """The scgru netlist: n_hidden columns over shared row lines, clocks and supply."""
    pdk.check_width(p.w_sw_n, "w_sw_n")
    pdk.check_width(p.w_sw_p, "w_sw_p")
    w, x, q, lv = weights_of(p), inputs_of(p), quantization_of(p), _levels(p, pdk)
    t_stop = (p.n_steps + 1 + 2 * (T_H - 1)) * p.t_clk
    net = Netlist(f"scgru: switched-capacitor minGRU, {p.n_in} inputs, {p.n_hidden} units, "
                  f"{p.n_steps} steps",
                  analysis=f".tran {fmt(p.t_max_step)} {fmt(t_stop)} 0 {fmt(p.t_max_step)}",
                  options=_OPTIONS)
    pdk.add_models(net, corner)
    net.param("c_unit", p.c_unit)
    net.param("c_lsb_ratio", p.c_lsb_ratio)
    gnd, e, hi = net.gnd, p.t_edge, lv.vdd
    net.V("dd", "vdd", gnd, fmt(lv.vdd))
    net.V("one", "one", gnd, fmt(_ONE))
    clocks = {"phi1": _windows(p, PH1, init=True), "phi2": _windows(p, PH2),
              "init": _windows(p, PH1, init=True, steps=False)}
    for name, win in clocks.items():
        net.V(name, name, gnd, _pulses(win, hi, e))
        net.V(f"{name}b", f"{name}b", gnd, _pulses(win, hi, e, invert=True))
    net.V("phi12", "phi12", gnd, _pulses(_windows(p, PH12, init=True), hi, e))
    for name, window in (("phq", PHQ), ("phi3", PH3)):
        net.V(name, name, gnd, _pulses(_windows(p, window), hi, e))
    net.V("clk", "clk", gnd, _pulses(_windows(p, CLK), hi, min(e, _CLK_EDGE)))
    net.V("phi3b", "phi3b", gnd, _pulses(_windows(p, PH3), hi, e, invert=True))
    lines = []
    for i in range(p.n_in):
        for c, level in enumerate(q.weight_levels):
            net.V(f"r{i}_{c}", f"r{i}_{c}", gnd, _row_line(p, x[:, i], lv.volts(level), lv))
            lines.append(f"vr{i}_{c}")
    for j in range(p.n_hidden):
        _unit(net, pdk, p, j, w, q, lv)
        lines += [f"vbz{j}", f"vbh{j}", f"vh0{j}", f"vthl{j}"]
    # Ideal linear regulators: the current a reference line sources comes from vdd (one
    # B-source per line: a single B-source summing all lines costs ~1 ms per iteration).
    for src in lines:
        net.B(f"reg_{src}", "vdd", gnd, i=f"max(-i({src}),0)")
    return net


# ------------------------------------------------------------------ measures


def _at(w, node: str, times: np.ndarray) -> np.ndarray:
    return np.interp(times, w["time"], w[node])


def step_times(p: ScgruParams, frac: float) -> np.ndarray:
    """Times (s) at fraction ``frac`` of every step's clock period."""
    return (np.arange(p.n_steps) + 1 + frac) * p.t_clk


def measure(w, p: ScgruParams) -> dict[str, object]:
    """Per-step arrays flattened step-major (index ``t*n_hidden + j``), and the energy."""
    vdd = float(np.median(w["v(vdd)"]))
    v_mid, v_swing = vdd / 2, p.v_swing_frac * vdd
    n = p.n_hidden
    t_mac, t_q, t_u, t_y, t_h = (step_times(p, f) for f in (T_MAC, T_Q, T_U, T_Y, T_H))
    out = {k: np.zeros((p.n_steps, n)) for k in ("h_v", "mac_v", "mac_z_v", "y", "z_code", "h_bus_v")}
    undecided = 0
    for j in range(n):
        out["mac_v"][:, j] = _at(w, f"v(hb{j})", t_mac)
        out["mac_z_v"][:, j] = _at(w, f"v(zb{j})", t_mac)
        out["h_bus_v"][:, j] = _at(w, f"v(ub{j})", t_u)
        diff = _at(w, f"v(outp{j})", t_y) - _at(w, f"v(outn{j})", t_y)
        out["y"][:, j] = diff > 0
        undecided += int(np.sum(np.abs(diff) < vdd / 2))
        out["z_code"][:, j] = np.floor((_at(w, f"v(zc{j})", t_q) - _ONE) * N_LSB + 0.5)
        for k in range(N_BITS):
            state_is_b = _at(w, f"v(p{j}_{k})", t_h) - _ONE > 0.5
            v_state = np.where(state_is_b, _at(w, f"v(kb{j}_{k})", t_h), _at(w, f"v(ka{j}_{k})", t_h))
            out["h_v"][:, j] += (1 << k) * v_state / N_LSB
    e = energy(w["time"], w["v(vdd)"], -w["i(vdd)"], p.t_clk, (p.n_steps + 1) * p.t_clk)
    res: dict[str, object] = {k: v.ravel() for k, v in out.items()}
    res["h"] = ((out["h_v"] - v_mid) / v_swing).ravel()
    res["y"] = out["y"].astype(int).ravel()
    res["z_code"] = out["z_code"].astype(int).ravel()
    res["y_undecided"] = undecided
    res["energy_j"] = e
    res["energy_per_step_j"] = e / p.n_steps
    return res


def per_step(values, p: ScgruParams) -> np.ndarray:
    """A flattened per-step measure as ``(n_steps, n_hidden)``."""
    return np.asarray(values).reshape(p.n_steps, p.n_hidden)


def plot(w, p: ScgruParams, fig) -> None:
    """Clocks, MAC buses, state and comparator over the first steps (state over the whole run)."""
    t = w["time"]
    n_show = min(p.n_steps, 6)
    sel = t <= (n_show + 1) * p.t_clk
    ts = t[sel] * 1e6
    axes = fig.subplots(4, 1, sharex=False)
    for k, name in enumerate(("phi1", "phi2", "phi3", "clk")):
        axes[0].plot(ts, w[f"v({name})"][sel] + 1.5 * k, label=name)
    axes[0].set_ylabel("clocks (offset)")
    axes[0].legend(fontsize=7, ncol=4, loc="upper right")
    for j in range(p.n_hidden):
        axes[1].plot(ts, w[f"v(zb{j})"][sel], label=f"z MAC bus {j}")
        axes[1].plot(ts, w[f"v(hb{j})"][sel], "--", label=f"h MAC bus {j}")
    axes[1].set_ylabel("MAC (V)")
    axes[1].legend(fontsize=7, ncol=2)
    m = measure(w, p)
    steps = np.arange(1, p.n_steps + 1)
    h = per_step(m["h"], p)
    h_ref, _, _ = reference(p)
    theta = weights_of(p).theta
    for j in range(p.n_hidden):
        line, = axes[2].plot(steps, h[:, j], ".-", label=f"circuit, unit {j}")
        axes[2].plot(steps, h_ref[:, j], "x--", color=line.get_color(), label=f"software, unit {j}")
        axes[2].axhline(theta[j], color=line.get_color(), lw=0.6, ls=":")
    axes[2].set_ylabel("state h (theta dotted)")
    axes[2].set_xlabel("step")
    axes[2].legend(fontsize=7)
    for j in range(p.n_hidden):
        axes[3].plot(ts, w[f"v(outp{j})"][sel] - w[f"v(outn{j})"][sel], label=f"outp-outn {j}")
    axes[3].set_ylabel("comparator (V)")
    axes[3].set_xlabel("time (us)")
    axes[3].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()


register(CircuitDef(
    name="scgru", doc="switched-capacitor minGRU core: charge-sharing MACs, 6-bit gate, StrongARM",
    params=ScgruParams, build=build, measure=measure, plot=plot,
    measures={
        "h_v": "V: state after each step (charge-weighted mean of the state caps at the step end); "
               "flattened (n_steps, n_hidden) step-major",
        "h": "state units: (h_v - V_mid)/v_swing, comparable to pycircuits.twins.mingru.mingru_reference",
        "y": "0/1: StrongARM output per step and unit (1 when the state is above theta)",
        "mac_v": "V: h MAC (candidate h~) bus at the end of phi2, per step and unit",
        "mac_z_v": "V: z MAC bus at the end of phi2, per step and unit",
        "z_code": "0..63: gate code the quantizer held, per step and unit",
        "h_bus_v": "V: update bus right after the charge redistribution, per step and unit",
        "y_undecided": "count: comparisons whose latch outputs differ by less than VDD/2 (0 expected)",
        "energy_j": "J: energy from the vdd source over all steps (comparators + reference lines)",
        "energy_per_step_j": "J: energy_j / n_steps (all units)",
    },
))
