"""Software twin of the switched-capacitor minGRU (``scgru`` circuit), in NumPy.

The model, per hidden unit j and step t (inputs x_t binary, shape ``(n_in,)``)::

    a_z = (sum_i w(Wz[j,i]) x_i + k_b b(bz[j])) / (n_in + k_b)    # z MAC, in [-1, 1]
    a_h = (sum_i w(Wh[j,i]) x_i + k_b b(bh[j])) / (n_in + k_b)    # h MAC = h~_t
    z   = round(clip(s a_z + 1/2, 0, 1) (2^g - 1)) / (2^g - 1)      # 6-bit hard sigmoid
    h_t = (1 - z) h_{t-1} + z h~_t
    y_t = [h_t > theta_j]

with the quantization of the hardware (:class:`Quantization`):

* weights are 2-bit codes 0..3 whose values ``w(code)`` are ``weight_levels``
  (default -1, -1/3, +1/3, +1: the circuit's four precharge voltages
  ``V_mid + v_swing * w``, equally spaced); an input 0 contributes 0 (the
  neutral level ``V_mid``), an input 1 contributes ``w``;
* biases are 6-bit codes 0..63 with values ``b = (code - 31.5) / 31.5`` in
  [-1, 1]; ``k_b`` (``bias_weight``) is the bias capacitance in units of one
  input sampling capacitor (the circuit's 6-bit capacitor array, 63/8 by
  default), so the MAC is the charge-sharing mean of the precharge levels;
* the gate is a hard sigmoid of slope ``gate_slope`` quantized to
  ``gate_bits`` (round half up, the circuit's quantizer);
* the state h stays analog.  Every MAC value and so every state lies in
  [-1, 1] (``state_range``), which is the range the circuit maps onto
  ``V_mid +- v_swing``; one LSB of a 6-bit range is ``(hi - lo) / 64``.

Arrays: ``inputs`` are ``(T, n_in)`` or batch-major ``(B, T, n_in)``; the
results have the same leading shape with ``n_hidden`` last.  Weights are
stored as integer codes in :class:`MinGRUWeights` and saved to ``.npz`` with
:func:`save_weights` / :func:`load_weights`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ParameterError

WEIGHT_CODES = 4  # 2-bit weights
_NPZ_KEYS = ("w_z", "w_h", "b_z", "b_h", "theta")


@dataclass(frozen=True)
class Quantization:
    """Number formats of the minGRU, shared by the circuit and the software twin."""

    weight_levels: tuple[float, ...] = (-1.0, -1.0 / 3.0, 1.0 / 3.0, 1.0)  # value of codes 0..3
    bias_bits: int = 6
    gate_bits: int = 6
    bias_weight: float = 63.0 / 8.0  # bias capacitance / input sampling capacitance
    gate_slope: float = 1.0  # hard-sigmoid slope: z = clip(slope * a + 1/2, 0, 1)
    state_range: tuple[float, float] = (-1.0, 1.0)

    def __post_init__(self) -> None:
        if len(self.weight_levels) != WEIGHT_CODES:
            raise ParameterError(f"weight_levels: 2-bit weights need {WEIGHT_CODES} levels")
        lo, hi = self.state_range
        if not lo < hi or any(not lo <= w <= hi for w in self.weight_levels):
            raise ParameterError("weight_levels must lie inside state_range (lo < hi)")
        if not (1 <= self.bias_bits <= 16 and 1 <= self.gate_bits <= 16):
            raise ParameterError("bias_bits and gate_bits must be 1..16")
        if not (self.bias_weight > 0 and self.gate_slope > 0):
            raise ParameterError("bias_weight and gate_slope must be positive")

    @property
    def bias_max_code(self) -> int:
        """Largest bias code (63 for 6 bits)."""
        return (1 << self.bias_bits) - 1

    @property
    def gate_max_code(self) -> int:
        """Largest gate code (63 for 6 bits); z = code / gate_max_code."""
        return (1 << self.gate_bits) - 1

    @property
    def lsb(self) -> float:
        """One LSB of a 6-bit state range: ``(hi - lo) / 64`` (software units)."""
        lo, hi = self.state_range
        return (hi - lo) / 64.0

    def weight_values(self, codes: np.ndarray) -> np.ndarray:
        """Values of 2-bit weight codes 0..3."""
        return np.asarray(self.weight_levels, dtype=float)[np.asarray(codes)]

    def bias_values(self, codes: np.ndarray) -> np.ndarray:
        """Values in [-1, 1] of bias codes: ``(code - max/2) / (max/2)``."""
        half = self.bias_max_code / 2.0
        return (np.asarray(codes, dtype=float) - half) / half

    def gate_codes(self, a: np.ndarray) -> np.ndarray:
        """Gate codes 0..max of pre-activations ``a`` (hard sigmoid, rounded half up)."""
        zc = np.clip(self.gate_slope * np.asarray(a, dtype=float) + 0.5, 0.0, 1.0)
        return np.floor(zc * self.gate_max_code + 0.5).astype(np.int64)

    def gate(self, a: np.ndarray) -> np.ndarray:
        """Quantized hard-sigmoid gate z in [0, 1] of pre-activations ``a``."""
        return self.gate_codes(a) / self.gate_max_code


@dataclass(frozen=True)
class MinGRUWeights:
    """Weights of one minGRU layer as the hardware stores them.

    ``w_z``, ``w_h``: int codes 0..3, shape ``(n_hidden, n_in)``; ``b_z``,
    ``b_h``: bias codes 0..2^bias_bits-1, shape ``(n_hidden,)``; ``theta``:
    output thresholds in state units, shape ``(n_hidden,)``.
    """

    w_z: np.ndarray
    w_h: np.ndarray
    b_z: np.ndarray
    b_h: np.ndarray
    theta: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        w_z = _int_array(self.w_z, "w_z", 2)
        w_h = _int_array(self.w_h, "w_h", 2)
        if w_z.shape != w_h.shape or 0 in w_z.shape:
            raise ParameterError(f"w_z {w_z.shape} and w_h {w_h.shape} must have one non-empty shape "
                                 "(n_hidden, n_in)")
        n_hidden = w_z.shape[0]
        b_z = _int_array(self.b_z, "b_z", 1)
        b_h = _int_array(self.b_h, "b_h", 1)
        theta = np.zeros(n_hidden) if self.theta is None else np.asarray(self.theta, dtype=float)
        if theta.ndim == 0:
            theta = np.full(n_hidden, float(theta))
        for name, arr in (("b_z", b_z), ("b_h", b_h), ("theta", theta)):
            if arr.shape != (n_hidden,):
                raise ParameterError(f"{name} has shape {arr.shape}, n_hidden={n_hidden} needs ({n_hidden},)")
        for name, arr in (("w_z", w_z), ("w_h", w_h)):
            if arr.min() < 0 or arr.max() >= WEIGHT_CODES:
                raise ParameterError(f"{name}: weight codes must be 0..{WEIGHT_CODES - 1}")
        if not np.all(np.isfinite(theta)):
            raise ParameterError("theta must be finite")
        for name, arr in (("w_z", w_z), ("w_h", w_h), ("b_z", b_z), ("b_h", b_h), ("theta", theta)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_hidden(self) -> int:
        """Number of hidden units."""
        return int(self.w_z.shape[0])

    @property
    def n_in(self) -> int:
        """Number of inputs."""
        return int(self.w_z.shape[1])

    def check_biases(self, q: Quantization) -> None:
        """Raise :class:`ParameterError` if a bias code does not fit ``q.bias_bits``."""
        for name, arr in (("b_z", self.b_z), ("b_h", self.b_h)):
            if arr.min() < 0 or arr.max() > q.bias_max_code:
                raise ParameterError(f"{name}: bias codes must be 0..{q.bias_max_code}")


def _int_array(value, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ParameterError(f"{name}: codes must be integers")
    elif arr.dtype.kind not in "iub":
        raise ParameterError(f"{name}: codes must be integers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ParameterError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr.astype(np.int64)


def random_weights(n_in: int, n_hidden: int, rng: np.random.Generator,
                   q: Quantization | None = None, theta_spread: float = 0.2) -> MinGRUWeights:
    """Uniform random codes; thresholds uniform in ``[-theta_spread, theta_spread]``."""
    q = q or Quantization()
    return MinGRUWeights(
        w_z=rng.integers(0, WEIGHT_CODES, (n_hidden, n_in)),
        w_h=rng.integers(0, WEIGHT_CODES, (n_hidden, n_in)),
        b_z=rng.integers(0, q.bias_max_code + 1, n_hidden),
        b_h=rng.integers(0, q.bias_max_code + 1, n_hidden),
        theta=rng.uniform(-theta_spread, theta_spread, n_hidden),
    )


def save_weights(path: str | Path, weights: MinGRUWeights) -> None:
    """Write weights to an ``.npz`` file (keys ``w_z w_h b_z b_h theta``)."""
    from ..files import atomic_write

    def write(p: Path) -> None:
        with open(p, "wb") as fh:
            np.savez(fh, **{k: getattr(weights, k) for k in _NPZ_KEYS})
    atomic_write(path, write)


def load_weights(path: str | Path) -> MinGRUWeights:
    """Read weights saved by :func:`save_weights`; :class:`ParameterError` on a bad file."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"weight file {path} not found")
    from ..errors import FileFormatError
    from ..files import load_arrays
    try:
        data = load_arrays(path, "weights file")
    except FileFormatError as exc:
        raise ParameterError(str(exc)) from None
    missing = [k for k in _NPZ_KEYS[:4] if k not in data]
    if missing:
        raise ParameterError(f"weight file {path} lacks {', '.join(missing)}")
    arrays = {k: data[k] for k in _NPZ_KEYS if k in data}
    return MinGRUWeights(**arrays)


def check_inputs(inputs, n_in: int) -> np.ndarray:
    """Inputs as a 0/1 int array of shape ``(..., T, n_in)``; :class:`ParameterError` otherwise."""
    x = np.asarray(inputs)
    if x.ndim not in (2, 3) or x.shape[-1] != n_in:
        raise ParameterError(f"inputs must have shape (T, {n_in}) or (B, T, {n_in}), got {x.shape}")
    if x.dtype.kind not in "biuf" or not np.all(np.isin(x, (0, 1))):
        raise ParameterError("inputs must be binary (0 or 1)")
    return x.astype(np.int64)


def _ratio(value: float, limit: int = 4096) -> tuple[int, int] | None:
    """``value`` as an exact small fraction (num, den), or None when it is not one (to 1e-12)."""
    from fractions import Fraction
    fr = Fraction(value).limit_denominator(limit)
    return (fr.numerator, fr.denominator) if abs(float(fr) - value) <= 1e-12 * max(1.0, abs(value)) else None


def gate_codes_exact(w_codes: np.ndarray, b_codes: np.ndarray, x: np.ndarray, q: Quantization) -> np.ndarray:
    """Gate codes of the MAC of integer codes, in integer arithmetic: ties round half up whatever the inputs.

    The weight levels, the bias weight and the gate slope are small fractions
    (thirds, eighths, tenths); the MAC and the hard sigmoid are then one
    integer ratio per element, so an exact tie (a gate value of 52.5 LSB)
    rounds up for every input pattern, where a float sum of the same terms
    lands on either side of it depending on the order of the terms.  When a
    level is not such a fraction, the float path is used.
    """
    levels = [_ratio(v) for v in q.weight_levels]
    kb, slope = _ratio(q.bias_weight), _ratio(q.gate_slope)
    if any(r is None for r in levels) or kb is None or slope is None:
        return q.gate_codes(mac(w_codes, b_codes, x, q))
    d = int(np.lcm.reduce([den for _, den in levels]))
    w = np.array([num * (d // den) for num, den in levels], dtype=np.int64)[np.asarray(w_codes)]  # levels * d
    xs = np.asarray(x).astype(np.int64)
    s = xs @ w.T  # sum of weight * input, times d, exact
    m = q.bias_max_code
    b2 = 2 * np.asarray(b_codes, dtype=np.int64) - m  # bias value * m
    n_in = w.shape[1]
    (kn, kd), (sn, sd), g = kb, slope, q.gate_max_code
    a_num = s * kd * m + d * kn * b2  # a = a_num / a_den
    a_den = d * m * (n_in * kd + kn)
    # code = floor((slope * a + 1/2) * g + 1/2), then clipped to 0..g (the same as clipping z to [0, 1])
    num = 2 * sn * a_num * g + sd * a_den * (g + 1)
    return np.clip(num // (2 * sd * a_den), 0, g).astype(np.int64)


def mac(w_codes: np.ndarray, b_codes: np.ndarray, x: np.ndarray, q: Quantization) -> np.ndarray:
    """Charge-sharing MAC ``(sum_i w x_i + k_b b) / (n_in + k_b)``, shape ``x.shape[:-1] + (n_hidden,)``."""
    w = q.weight_values(w_codes)  # (n_hidden, n_in)
    n_in = w.shape[1]
    return (x @ w.T + q.bias_weight * q.bias_values(b_codes)) / (n_in + q.bias_weight)


def mingru_reference(weights: MinGRUWeights, inputs, q: Quantization | None = None,
                     h0=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the quantized minGRU step by step; returns ``(h, y, z)``.

    ``inputs``: binary ``(T, n_in)`` or ``(B, T, n_in)``; ``h0``: initial state
    (scalar, ``(n_hidden,)`` or ``(B, n_hidden)``, default 0).  ``h`` is the
    analog state after each step (software units, V_mid + v_swing * h in the
    circuit), ``y`` the binary outputs (int), ``z`` the quantized gate values.
    The MACs of all steps are one matrix product; only the state update loops.
    """
    q = q or Quantization()
    weights.check_biases(q)
    x = check_inputs(inputs, weights.n_in).astype(float)
    h_tilde = mac(weights.w_h, weights.b_h, x, q)
    z = gate_codes_exact(weights.w_z, weights.b_z, x, q) / q.gate_max_code
    lead = x.shape[:-2]
    h = np.zeros(lead + (weights.n_hidden,)) if h0 is None else np.broadcast_to(
        np.asarray(h0, dtype=float), lead + (weights.n_hidden,)).copy()
    lo, hi = q.state_range
    out = np.empty_like(h_tilde)
    for t in range(x.shape[-2]):
        h = np.clip((1.0 - z[..., t, :]) * h + z[..., t, :] * h_tilde[..., t, :], lo, hi)
        out[..., t, :] = h
    y = (out > weights.theta).astype(np.int64)
    return out, y, z
