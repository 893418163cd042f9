"""Metaplastic quantized two-layer perceptron on memristor levels (after 2306.12142 / Laborieux et al. 2021).

**Network.**  ``inputs -> tanh hidden -> classes``::

    h      = tanh(x @ G1 / sqrt(n_in))
    logits = gain * (h @ G2) / sqrt(n_hidden)

where ``G`` are the weights *as programmed on the devices* (below), computed
from high-precision *hidden* weights ``W_h`` (the metaplastic variables, kept
in digital memory).  Each hidden weight selects the nearest of ``2**bits``
ideal symmetric levels ``w_max * (2k/(L-1) - 1)``, ``k = 0..L-1``
(:func:`level_index`; beyond ``±w_max`` it saturates).  Gradients use the
straight-through estimator: ``dL/dW_h := dL/dG`` (identity, no clipping;
hidden weights may grow beyond ``w_max`` -- that growth is the consolidation).

**Levels from a curve** (:class:`DeviceLevels`).  The multi-level memristor is
the ``memstack-weight.json`` curve (``x`` = SET pulse count, ``y`` = charge per
read spike, proportional to the conductance ``g(p)``).  Every integer pulse
count ``p`` in the curve's x range can be programmed.  A signed weight is a
differential pair ``G+ - G-``; with full scale ``g_fs = g(p_max) - g(p_min)``
the level of a pair ``(a, b)`` is ``w_max * (g(a) - g(b)) / g_fs``.  For each
ideal level ``t_k > 0`` the pair is the one (of all pairs of pulse counts)
with the least mean squared error of the *programmed* level,
``((g(a) - g(b))/g_fs - t_k)**2 + (var g(a) + var g(b))/g_fs**2``, ties to the
smaller ``g(a) + g(b)`` *(choose: as close as the curve allows including its
spread -- a pair of two large devices can hit a level's median exactly but
with the large absolute spread of large conductances)*.  ``var g(p)`` is the
variance of 4000 draws of ``curve.sample(p)`` (generator seeded 0; the
fallback log-normal when the curve has no spread).  Level ``-t_k`` uses the
swapped pair, so the realised levels are exactly antisymmetric.  Every time
a weight's level index changes, both its devices are re-programmed: each draws ``curve.sample(p, rng)`` (the curve's
Monte Carlo columns or 5-95 % band); a curve with neither gets a log-normal
``exp(FALLBACK_WEIGHT_SIGMA * z)`` per device.  The forward pass uses these
drawn conductances until the next change of level.  Without a curve (no
``--curves`` folder or no such file): the ideal uniform levels, a positive
level on ``G+`` and a negative one on ``G-`` (the other device off,
conductance 0), each programmed device drawn log-normal with sigma
``hardware.FALLBACK_WEIGHT_SIGMA`` *(choose: multi-level RRAM after
program-and-verify)*.  ``metrics["curves"]`` records which was used.

**Metaplastic rule** (:func:`metaplastic_step`, exactly)::

    delta = -lr * grad                                  # optimizer "sgd"
    delta = -lr * m_hat / (sqrt(v_hat) + eps)           # optimizer "adam" (bias-corrected moments)
    f     = 1 - tanh(m * W_h)**2                        # in (0, 1]
    W_h  += where(delta * W_h < 0, f * delta, delta)

i.e. the attenuation ``f`` applies only to updates that move ``W_h``
*towards zero* (towards a change of the level to the opposite sign), as in
Laborieux et al., whose published rule attenuates Adam's update (their
``Adam_meta``).  Updates that increase ``|W_h|`` (and updates of weights
exactly at 0) are applied unchanged.  For ``m = 0``, ``f == 1.0`` exactly and
the SGD result is bit for bit ``W_h - lr * grad``.

**Hidden-weight storage.**  With ``hidden_bits`` the hidden weights are fixed
point with ``2**hidden_bits`` levels in ``[-hidden_max, hidden_max]`` and
stochastic rounding after every update (:func:`_store_hidden`); the memory
metric compares these stored bits with 32-bit floating-point weights
(``ratio_hidden = 32 / hidden_bits``; the quantized weights live in the
memristors, not in digital memory); ``hidden_bits_sweep`` reruns the
metaplastic arm with other storage (e.g. float) to show what the bits cost.
Adam's two moment estimates are optimizer state of training, as large for a
32-bit baseline trained with Adam; they are reported beside the ratio
(``optimizer_state_bits``), not counted in it.

**Tasks.**  Task A is the 1,797 real handwritten 8x8 digits that
scikit-learn ships (:func:`~pycircuits.network.tasks.load_digits`), split
80/20 by the seed; ``digits="glyphs"`` swaps in synthetic digits drawn from
ten glyphs for tests.  Task B is the same data
with one fixed (per seed) pixel permutation (permuted-digits continual
learning).  A full-precision network (float weights, no devices, Adam with step
``FLOAT_REFERENCE_LR``) trained on task A alone is reported as the reference
of what the data allow.

**Runs.**  Over ``n_seeds`` seeds (:func:`report.seed_ints`), each seed gives
its own data, permutation, initial weights, batches and device draws (the
same for every arm of that seed): ``m = 0`` (plain), ``m = cfg.m`` (the
metaplastic arm), every ``m`` of ``m_sweep``, and ``m = cfg.m`` with the
hidden-weight storage of each entry of ``hidden_bits_sweep``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.errors import UsageError
from pycircuits.network.hardware import FALLBACK_WEIGHT_SIGMA
from pycircuits.network.tasks import digits_task
from pycircuits.network.training import Adam, softmax_cross_entropy

from . import report
from .registry import Study, register

__all__ = [
    "METAPLASTIC_QUICK",
    "Config",
    "DeviceLevels",
    "MetaplasticConfig",
    "QuantizedMLP",
    "device_levels",
    "level_index",
    "metaplastic_step",
    "metaplastic_update",
    "quantize",
    "run_metaplastic",
]

# uses no HardwareModel role: the weight curve is read with hw.curve(); metrics["curves"] names it

FLOAT_BITS = 32
WEIGHT_CURVE = "memstack-weight.json"
# *(published)* Laborieux et al. 2021 / 2306.12142: MNIST then Fashion-MNIST, 15x less memory
PUBLISHED = {"acc_a_after_b": 0.97, "acc_b": 0.86, "memory_ratio": 15.0}

# ------------------------------------------------------------------ quantizer and rule


def level_index(w: np.ndarray, bits: int, w_max: float = 1.0) -> np.ndarray:
    """Index ``k`` (0..2**bits-1) of the nearest level ``w_max * (2k/(L-1) - 1)``; saturates beyond ``±w_max``."""
    n = 2**bits - 1
    return np.rint((np.clip(np.asarray(w, dtype=float) / w_max, -1.0, 1.0) + 1.0) * 0.5 * n).astype(np.int64)


def quantize(w: np.ndarray, bits: int | None, w_max: float = 1.0) -> np.ndarray:
    """Nearest of ``2**bits`` symmetric levels ``w_max * (2k/(L-1) - 1)``, k = 0..L-1.

    Values beyond ``±w_max`` saturate.  ``bits=None`` or ``bits >= 32`` is the
    identity (full precision, no clipping).
    """
    w = np.asarray(w, dtype=float)
    if bits is None or bits >= FLOAT_BITS:
        return w.copy()
    if bits < 1:
        raise UsageError(f"bits must be >= 1, got {bits}")
    n = 2**bits - 1
    return w_max * (2.0 * level_index(w, bits, w_max) / n - 1.0)


def metaplastic_step(w_h: np.ndarray, delta: np.ndarray, m: float) -> np.ndarray:
    """``W_h + delta`` with updates towards zero scaled by ``1 - tanh^2(m W_h)`` (see module doc)."""
    f = 1.0 - np.tanh(m * w_h) ** 2
    return w_h + np.where(delta * w_h < 0, f * delta, delta)


def metaplastic_update(w_h: np.ndarray, grad: np.ndarray, lr: float, m: float) -> np.ndarray:
    """One SGD step of the hidden weights with the metaplastic attenuation (see module doc)."""
    return metaplastic_step(w_h, -lr * grad, m)


def _store_hidden(w: np.ndarray, bits: int | None, h_max: float, rng: np.random.Generator) -> np.ndarray:
    """Fixed-point storage of the hidden weights with stochastic rounding (``bits=None``: float)."""
    if bits is None:
        return w
    step = 2.0 * h_max / (2**bits - 1)
    x = (np.clip(w, -h_max, h_max) + h_max) / step
    lo = np.floor(x)
    x = lo + (rng.random(w.shape) < (x - lo))
    return x * step - h_max


# ------------------------------------------------------------------ device levels


@dataclass(frozen=True, eq=False)
class DeviceLevels:
    """How the ``2**bits`` signed weight levels are realised on differential device pairs.

    ``ideal`` and ``levels`` are in units of ``w_max``: the ideal symmetric
    levels and the median realised ones.  With a curve, ``pulses[k] = (a, b)``
    are the pulse counts of ``G+`` / ``G-`` for level ``k`` and ``g_fs`` the
    full-scale conductance difference (curve units); without one ``pulses`` is
    None.  ``spread=False`` programs every device exactly to its median.
    """

    ideal: np.ndarray
    levels: np.ndarray
    pulses: np.ndarray | None
    curve: Any  # TransferCurve | None
    g_fs: float
    sigma: float
    spread: bool
    source: str

    def program(self, k: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Realised weights (units of ``w_max``) of freshly programmed pairs at level indices ``k``."""
        k = np.asarray(k)
        if not self.spread:
            return self.levels[k]
        if self.pulses is None:
            t = self.ideal[k]
            z = rng.standard_normal((2,) + k.shape)
            return np.maximum(t, 0) * np.exp(self.sigma * z[0]) - np.maximum(-t, 0) * np.exp(self.sigma * z[1])
        a, b = self.pulses[k, 0].astype(float), self.pulses[k, 1].astype(float)
        if self.curve.samples is not None or (5 in self.curve.percentiles and 95 in self.curve.percentiles):
            ga = np.abs(np.asarray(self.curve.sample(a, rng), dtype=float))
            gb = np.abs(np.asarray(self.curve.sample(b, rng), dtype=float))
        else:
            z = rng.standard_normal((2,) + k.shape)
            ga = np.abs(np.asarray(self.curve(a), dtype=float)) * np.exp(self.sigma * z[0])
            gb = np.abs(np.asarray(self.curve(b), dtype=float)) * np.exp(self.sigma * z[1])
        return (ga - gb) / self.g_fs


def device_levels(curve: Any, bits: int, spread: bool = True, sigma: float = FALLBACK_WEIGHT_SIGMA,
                  source: str = "") -> DeviceLevels:
    """The pulse-count pairs of the ``2**bits`` levels from ``curve`` (None: ideal levels); see module doc."""
    if not 1 <= bits <= 8:
        raise UsageError(f"device levels need 1 <= bits <= 8, got {bits}")
    n = 2**bits - 1
    ideal = 2.0 * np.arange(n + 1) / n - 1.0
    if curve is None:
        src = source or f"ideal uniform levels, log-normal sigma {sigma:g} of ln G per device (no {WEIGHT_CURVE})"
        return DeviceLevels(ideal, ideal.copy(), None, None, 1.0, sigma, spread, src)
    xf = curve.x[np.isfinite(curve.y)]
    p = np.arange(np.ceil(xf[0]), np.floor(xf[-1]) + 1)
    if p.size < 2:
        raise UsageError(f"weight curve {curve.name!r} has fewer than 2 integer pulse counts")
    g = np.abs(np.asarray(curve(p), dtype=float))
    g_fs = float(g.max() - g.min())
    if not g_fs > 0:
        raise UsageError(f"weight curve {curve.name!r} has no conductance range")
    diff = (g[:, None] - g[None, :]) / g_fs  # level of pair (a, b)
    total = g[:, None] + g[None, :]
    if curve.samples is not None or (5 in curve.percentiles and 95 in curve.percentiles):
        draws = np.abs(np.asarray(curve.sample(p, np.random.default_rng(0), size=4000), dtype=float))
        var = draws.var(axis=0) / g_fs**2
    else:
        var = (g / g_fs) ** 2 * (np.exp(sigma**2) - 1.0) * np.exp(sigma**2)  # log-normal variance
    pulses = np.zeros((n + 1, 2), dtype=np.int64)
    levels = np.zeros(n + 1)
    for k in range(n + 1):
        t = abs(ideal[k])
        err = (diff - t) ** 2 + var[:, None] + var[None, :]
        best = np.flatnonzero(err.ravel() <= err.min() * (1 + 1e-12))
        a, b = np.unravel_index(best[np.argmin(total.ravel()[best])], diff.shape)
        if ideal[k] < 0:
            a, b = b, a
        pulses[k] = p[a], p[b]
        levels[k] = diff[a, b]
    src = source or f"curve {curve.name} (pulse pairs {pulses.tolist()})"
    return DeviceLevels(ideal, levels, pulses, curve, g_fs, sigma, spread, src)


# ------------------------------------------------------------------ network


class QuantizedMLP:
    """``tanh(x G1 / sqrt(n_in)) G2 * gain / sqrt(n_hidden)``; ``G`` = programmed levels of ``W_h``.

    Without ``devices`` ``G = quantize(W_h)`` (ideal levels, computed on the
    fly; ``bits=None``/32: full precision).  With ``devices`` the realised
    weights are kept in ``self.g`` and changed only by :meth:`reprogram`.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, bits: int | None, rng: np.random.Generator,
                 w_max: float = 1.0, init: float = 0.5, gain: float = 4.0, devices: DeviceLevels | None = None,
                 device_rng: np.random.Generator | None = None):
        self.bits, self.w_max, self.gain, self.devices = bits, w_max, gain, devices
        self.w = [rng.uniform(-init, init, (n_in, n_hidden)), rng.uniform(-init, init, (n_hidden, n_out))]
        self.s = [1.0 / np.sqrt(n_in), gain / np.sqrt(n_hidden)]
        if devices is not None:
            if bits is None or 2**bits != devices.levels.size:
                raise UsageError(f"devices have {devices.levels.size} levels, bits={bits} needs 2**bits")
            self.device_rng = device_rng if device_rng is not None else np.random.default_rng(0)
            self.k = [level_index(w, bits, w_max) for w in self.w]
            self.g = [w_max * devices.program(k, self.device_rng) for k in self.k]
            self.n_programmed = 0

    def reprogram(self) -> None:
        """Re-program (new draw) every pair whose level index differs from the one it holds."""
        if self.devices is None:
            return
        for j, w in enumerate(self.w):
            k = level_index(w, self.bits, self.w_max)
            changed = k != self.k[j]
            if np.any(changed):
                self.g[j][changed] = self.w_max * self.devices.program(k[changed], self.device_rng)
                self.k[j] = k
                self.n_programmed += int(changed.sum())

    def quantized(self) -> list[np.ndarray]:
        if self.devices is not None:
            return self.g
        return [quantize(w, self.bits, self.w_max) for w in self.w]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        q1, q2 = self.quantized()
        h = np.tanh((x @ q1) * self.s[0])
        return (h @ q2) * self.s[1], (x, h, q1, q2)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[0].argmax(axis=1)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Mean softmax cross-entropy and straight-through gradients w.r.t. the hidden weights."""
        logits, (x, h, q1, q2) = self.forward(x)
        loss, dz2 = softmax_cross_entropy(logits, y)
        g2 = self.s[1] * (h.T @ dz2)
        dz1 = self.s[1] * (dz2 @ q2.T) * (1.0 - h * h)
        g1 = self.s[0] * (x.T @ dz1)
        return loss, [g1, g2]  # STE: dL/dW_h = dL/dG


def accuracy(net: QuantizedMLP, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(net.predict(x) == y))


def train_task(net: QuantizedMLP, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, m: float,
               batch: int, rng: np.random.Generator, hidden_bits: int | None = None,
               hidden_max: float = 8.0, eval_fn: Any = None, optimizer: str = "sgd") -> list[Any]:
    """Mini-batch training with :func:`metaplastic_step`; returns ``eval_fn(net)`` after each epoch.

    ``optimizer``: ``"sgd"`` or ``"adam"`` (fresh moments for each task).
    """
    if optimizer not in ("sgd", "adam"):
        raise UsageError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    adam = Adam.for_shapes([w.shape for w in net.w], lr) if optimizer == "adam" else None
    hist = []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch):
            idx = order[i:i + batch]
            _, grads = net.loss_and_grads(x[idx], y[idx])
            deltas = adam.deltas(grads) if adam is not None else [-lr * g for g in grads]
            for j, d in enumerate(deltas):
                w = metaplastic_step(net.w[j], d, m)
                net.w[j] = _store_hidden(w, hidden_bits, hidden_max, rng)
            net.reprogram()
        if eval_fn is not None:
            hist.append(eval_fn(net))
    return hist


# ------------------------------------------------------------------ experiment


@dataclass(frozen=True)
class MetaplasticConfig:
    n_seeds: int = 5
    n_train: int = 1437  # the 1,797 handwritten digits split 80/20 by the seed
    n_test: int = 360
    digits: str = "sklearn"  # the real handwritten digits (network.tasks.load_digits); "glyphs": synthetic
    n_hidden: int = 1024  # *(choose)* 512 -> 1024: (A after B, B) ~(0.78, 0.67) -> ~(0.69, 0.84) at m = 1.2
    bits: int = 2  # quantized (memristor) weight bits: 2**bits levels
    hidden_bits: int | None = 4  # fixed-point hidden weights; None = float
    hidden_max: float = 4.0  # *(choose)* |W_h| stays < ~4 here; 4/5/6/8 bits gave the same A+B trade-off
    m: float = 1.3  # metaplasticity of the m>0 arm *(choose)*: the balance of A after B and B of the m sweep
    m_sweep: tuple[float, ...] = (1.0, 1.6)  # further m values run over the same seeds (reported in metrics)
    hidden_bits_sweep: tuple[int | None, ...] = (None,)  # other hidden-weight storage at m (None: float)
    epochs_a: int = 20
    epochs_b: int = 20
    optimizer: str = "adam"  # *(published)* the rule attenuates Adam's update (Laborieux et al.)
    lr: float = 0.02  # *(choose)* 0.005 under-fits task A (~0.80 vs ~0.89)
    batch: int = 100  # *(choose)* same trade-off as 32 at a third of the time
    init: float = 0.5  # hidden weights start uniform in [-init, init]
    weight_curve: str = WEIGHT_CURVE  # curve file of the device levels, read with hw.curve()
    spread: bool = True  # programming spread of the devices (False: every device at its median)


Config = MetaplasticConfig
METAPLASTIC_QUICK = replace(MetaplasticConfig(), n_seeds=3, n_train=600, n_test=300, n_hidden=128, batch=32,
                            m=3.0, m_sweep=(), hidden_bits_sweep=(), epochs_a=6, epochs_b=6)
QUICK = METAPLASTIC_QUICK


def _one_run(cfg: MetaplasticConfig, sub_seed: int, m: float, devices: DeviceLevels | None) -> dict[str, Any]:
    xtr, ytr, xte, yte, perm = digits_task(sub_seed, cfg.n_train, cfg.n_test, cfg.digits)
    rng = np.random.default_rng([sub_seed, 1])
    net = QuantizedMLP(64, cfg.n_hidden, 10, cfg.bits, rng, init=cfg.init, devices=devices,
                       device_rng=np.random.default_rng([sub_seed, 3]))
    train_rng = np.random.default_rng([sub_seed, 2])  # same batches for every arm
    kw = dict(lr=cfg.lr, m=m, batch=cfg.batch, rng=train_rng, hidden_bits=cfg.hidden_bits, hidden_max=cfg.hidden_max,
              optimizer=cfg.optimizer)
    hist_a = train_task(net, xtr, ytr, cfg.epochs_a, eval_fn=lambda n: accuracy(n, xte, yte), **kw)
    acc_a_before = accuracy(net, xte, yte)
    hist_b = train_task(net, xtr[:, perm], ytr, cfg.epochs_b,
                        eval_fn=lambda n: (accuracy(n, xte, yte), accuracy(n, xte[:, perm], yte)), **kw)
    return {
        "acc_a_before_b": acc_a_before,
        "acc_a_after_b": accuracy(net, xte, yte),
        "acc_b": accuracy(net, xte[:, perm], yte),
        "curve_a": hist_a + [h[0] for h in hist_b],
        "curve_b": [h[1] for h in hist_b],
        "mean_abs_hidden": float(np.mean(np.abs(np.concatenate([w.ravel() for w in net.w])))),
        "n_programmed": getattr(net, "n_programmed", 0),
    }


def _float_reference(cfg: MetaplasticConfig, sub_seed: int) -> float:
    """Test accuracy on task A of the same network at full precision (no devices), Adam, task A only."""
    xtr, ytr, xte, yte, _ = digits_task(sub_seed, cfg.n_train, cfg.n_test, cfg.digits)
    net = QuantizedMLP(64, cfg.n_hidden, 10, None, np.random.default_rng([sub_seed, 1]), init=cfg.init)
    train_task(net, xtr, ytr, cfg.epochs_a, lr=FLOAT_REFERENCE_LR, m=0.0, batch=cfg.batch,
               rng=np.random.default_rng([sub_seed, 2]), optimizer="adam")
    return accuracy(net, xte, yte)


FLOAT_REFERENCE_LR = 0.02  # *(choose)* Adam step of the full-precision reference: 0.01-0.05 ~0.99, 0.1 0.95


def _weights_source(hw: Any, cfg: MetaplasticConfig) -> tuple[DeviceLevels, dict[str, str]]:
    curve = None if hw is None else hw.curve(cfg.weight_curve)
    if curve is None:
        devices = device_levels(None, cfg.bits, cfg.spread)
    else:
        devices = device_levels(curve, cfg.bits, cfg.spread, source=f"curve {Path(hw.curves_dir) / cfg.weight_curve}")
    return devices, {"weight": devices.source}


def runner(hw: Any, cfg: MetaplasticConfig, seed: int, out_dir: Path | None) -> tuple[dict, list[dict], list[str]]:
    """Train A then B, plain (m=0) and metaplastic (m=cfg.m) plus ``cfg.m_sweep``, over ``cfg.n_seeds`` seeds.

    ``hw`` gives the weight curve (``hw.curve(cfg.weight_curve)``; None or a
    folder without it: ideal levels + fallback sigma).  Writes
    ``metaplastic.png`` into ``out_dir`` (if given) and returns ``(metrics,
    table, files)``.  Deterministic per ``seed`` (for one BLAS threading setting).
    """
    if cfg.n_seeds < 1:
        raise UsageError(f"n_seeds must be >= 1, got {cfg.n_seeds}")
    devices, curves = _weights_source(hw, cfg)
    seeds = report.seed_ints(seed, cfg.n_seeds)
    m_values = [0.0, cfg.m] + [m for m in cfg.m_sweep if m not in (0.0, cfg.m)]
    by_m = {m: [_one_run(cfg, s, m, devices) for s in seeds] for m in m_values}
    runs = {"plain": by_m[0.0], "meta": by_m[cfg.m]}
    by_hb = {hb: [_one_run(replace(cfg, hidden_bits=hb), s, cfg.m, devices) for s in seeds]
             for hb in cfg.hidden_bits_sweep if hb != cfg.hidden_bits}
    ref = [_float_reference(cfg, s) for s in seeds]
    metrics: dict[str, Any] = {"seeds": seeds, "curves": curves}
    for name, rs in runs.items():
        for key in ("acc_a_before_b", "acc_a_after_b", "acc_b", "mean_abs_hidden", "n_programmed"):
            metrics[f"{name}_{key}"] = report.stat([r[key] for r in rs])
    metrics["float_reference_acc_a"] = report.stat(ref)
    metrics["m_sweep"] = {f"{m:g}": {k: report.stat([r[k] for r in rs]) for k in ("acc_a_after_b", "acc_b")}
                          for m, rs in sorted(by_m.items())}
    metrics["hidden_bits_sweep"] = {
        "float" if hb is None else str(hb): {k: report.stat([r[k] for r in rs]) for k in ("acc_a_after_b", "acc_b")}
        for hb, rs in by_hb.items()}
    metrics["levels"] = {"ideal": (devices.ideal * 1.0).tolist(), "median_realised": devices.levels.tolist(),
                         "pulses": None if devices.pulses is None else devices.pulses.tolist()}
    n_w = 64 * cfg.n_hidden + cfg.n_hidden * 10
    hb = FLOAT_BITS if cfg.hidden_bits is None else cfg.hidden_bits
    metrics["memory"] = {
        "n_weights": n_w,
        "baseline_bits": FLOAT_BITS * n_w,
        "hidden_bits": hb * n_w,
        "quantized_weight_bits": cfg.bits * n_w,
        "ratio_hidden": FLOAT_BITS / hb,
        "ratio_hidden_plus_weights": FLOAT_BITS / (hb + cfg.bits),
        "optimizer_state_bits": 2 * FLOAT_BITS * n_w if cfg.optimizer == "adam" else 0,
    }
    mem, m = metrics["memory"], metrics
    opt = "Adam" if cfg.optimizer == "adam" else "SGD"
    adam_note = "; Adam moments not counted" if mem["optimizer_state_bits"] else ""
    table = [
        report.row(f"acc A after B, metaplastic m={cfg.m:g} ({cfg.bits}-bit memristor weights)",
                   report.pct(m["meta_acc_a_after_b"]), "97 % (MNIST)"),
        report.row("acc B, metaplastic", report.pct(m["meta_acc_b"]), "86 % (Fashion-MNIST)"),
        report.row(f"acc A after B, plain {opt} m=0", report.pct(m["plain_acc_a_after_b"])),
        report.row(f"acc B, plain {opt} m=0", report.pct(m["plain_acc_b"])),
        report.row("acc A before B (meta / plain)",
                   f"{report.pct(m['meta_acc_a_before_b'])} / {report.pct(m['plain_acc_a_before_b'])}"),
        report.row("acc A, full-precision reference (same data, Adam)", report.pct(m["float_reference_acc_a"])),
        *[report.row(f"A after B / B at m={cfg.m:g} with {name} hidden weights",
                     f"{report.pct(v['acc_a_after_b'])} / {report.pct(v['acc_b'])}")
          for name, v in ((k if k == "float" else f"{k}-bit", v) for k, v in m["hidden_bits_sweep"].items())],
        report.row(f"hidden-weight memory vs 32-bit baseline ({hb}-bit hidden)",
                   f"{mem['ratio_hidden']:.1f}x less ({mem['ratio_hidden_plus_weights']:.1f}x if the "
                   f"{cfg.bits}-bit weights were digital){adam_note}", "15x"),
    ]
    files: list[str] = []
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _plot(runs, by_m, devices, cfg, out / "metaplastic.png", files)
    return metrics, table, files


def run_metaplastic(cfg: MetaplasticConfig, seed: int, out_dir: str | Path | None,
                    hw: Any = None) -> tuple[dict, list[dict]]:
    """:func:`runner` returning ``(metrics, table)``; ``hw=None``: ideal levels + fallback sigma."""
    metrics, table, _ = runner(hw, cfg, seed, None if out_dir is None else Path(out_dir))
    return metrics, table


def _plot(runs: dict[str, list], by_m: dict[float, list], devices: DeviceLevels, cfg: MetaplasticConfig,
          path: Path, files: list[str]) -> None:
    plt = report.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    for (name, rs), color in zip(runs.items(), ("C0", "C1"), strict=True):
        a = np.mean([r["curve_a"] for r in rs], axis=0)
        b = np.mean([r["curve_b"] for r in rs], axis=0)
        ax.plot(np.arange(1, len(a) + 1), a, color=color, label=f"{name}: task A")
        ax.plot(np.arange(cfg.epochs_a + 1, cfg.epochs_a + len(b) + 1), b, "--", color=color, label=f"{name}: task B")
    ax.axvline(cfg.epochs_a + 0.5, color="k", lw=0.5)
    ax.axhline(PUBLISHED["acc_a_after_b"], color="k", ls=":", lw=1, label="published A after B (97 %)")
    ax.axhline(PUBLISHED["acc_b"], color="grey", ls=":", lw=1, label="published B (86 %)")
    ax.set(xlabel="epoch", ylabel="test accuracy", title="task A, then task B", ylim=(0, 1.02))
    ax.legend(fontsize=6)
    ax = axes[1]
    ms = sorted(by_m)
    for key, color, label in (("acc_a_after_b", "C0", "A after B"), ("acc_b", "C1", "B")):
        mean = [np.mean([r[key] for r in by_m[m]]) for m in ms]
        std = [np.std([r[key] for r in by_m[m]]) for m in ms]
        ax.errorbar(ms, mean, yerr=std, color=color, marker="o", capsize=3, label=f"ours: {label}")
    ax.axhline(PUBLISHED["acc_a_after_b"], color="C0", ls=":", lw=1, label="published A after B")
    ax.axhline(PUBLISHED["acc_b"], color="C1", ls=":", lw=1, label="published B")
    ax.set(xlabel="metaplasticity m", ylabel="test accuracy", title="m sweep (mean ± std over seeds)",
           ylim=(0, 1.02))
    ax.legend(fontsize=6)
    ax = axes[2]
    k = np.arange(devices.ideal.size)
    draws = devices.program(np.repeat(k, 400), np.random.default_rng(0)).reshape(k.size, 400)
    ax.violinplot(list(draws), positions=devices.ideal, widths=0.15, showextrema=False)
    ax.plot(devices.ideal, devices.ideal, "k:", lw=1, label="ideal levels")
    ax.plot(devices.ideal, devices.levels, "o", color="C3", label="median realised")
    ax.set(xlabel="ideal level / w_max", ylabel="programmed G+ - G- / full scale",
           title=f"{devices.ideal.size} levels: {'curve' if devices.pulses is not None else 'fallback'}")
    ax.legend(fontsize=6)
    fig.tight_layout()
    report.save(fig, path, files)


STUDY = register(Study(
    name="metaplastic",
    doc="two-layer perceptron on memristor weight levels: task A then B, with and without metaplasticity",
    runner=runner,
    config=MetaplasticConfig(),
    quick=METAPLASTIC_QUICK,
))
