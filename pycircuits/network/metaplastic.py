"""Metaplastic quantized two-layer perceptron (after 2306.12142 / Laborieux et al. 2021).

A perceptron ``inputs -> tanh hidden -> classes`` whose forward pass uses
*quantized* weights ``Q = quantize(W_h, bits)`` (``2**bits`` symmetric
levels in ``[-w_max, w_max]``: the multi-level memristor conductances),
computed from high-precision *hidden* weights ``W_h`` (the metaplastic
variables in digital memory).  Training is plain mini-batch SGD with the
straight-through estimator: ``dL/dW_h := dL/dQ`` (identity, no clipping;
hidden weights may grow beyond ``w_max`` -- that growth is the consolidation).

Metaplastic rule (what :func:`metaplastic_update` implements, exactly)::

    delta = -lr * grad                         # plain SGD step
    f     = 1 - tanh(m * W_h)**2               # in (0, 1]
    W_h  += where(delta * W_h < 0, f * delta, delta)

i.e. the attenuation ``f`` applies only to updates that move ``W_h``
*towards zero* (decrease ``|W_h|``, towards a sign change / a change of the
quantized level towards the opposite sign), as in Laborieux et al.  Updates
that increase ``|W_h|`` (and updates of weights exactly at 0) are applied
unchanged.  For ``m = 0``, ``f == 1.0`` exactly and the result is bit for
bit ``W_h - lr * grad``.

Tasks: task A is 8x8 digits.  ``sklearn.datasets.load_digits`` is used when
sklearn is importable; otherwise (the default environment has no sklearn) a
deterministic synthetic stand-in: ten hand-drawn 8x8 digit glyphs, each
sample shifted by -1..1 pixel in x and y, with random stroke intensity,
pixel dropout/flips and Gaussian noise, drawn from ``numpy.random`` seeded
per seed.  Task B is the same data with one fixed (per seed) pixel
permutation (permuted-digits continual learning).

Optionally (``hidden_bits``) the hidden weights are stored in fixed point
with ``2**hidden_bits`` levels in ``[-hidden_max, hidden_max]`` and
stochastic rounding after every update; the memory metric compares these
stored bits with a 32-bit floating-point network.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MetaplasticConfig",
    "METAPLASTIC_QUICK",
    "QuantizedMLP",
    "digits_task",
    "metaplastic_update",
    "quantize",
    "run_metaplastic",
    "runner",
]

FLOAT_BITS = 32
PUBLISHED = {"acc_a_after_b": 0.97, "acc_b": 0.86, "memory_ratio": 15.0}  # *(published)* MNIST / Fashion-MNIST

_GLYPHS = [
    ["..XXXX..", ".XX..XX.", ".X....X.", ".X....X.", ".X....X.", ".X....X.", ".XX..XX.", "..XXXX.."],
    ["...XX...", "..XXX...", ".X.XX...", "...XX...", "...XX...", "...XX...", "...XX...", ".XXXXXX."],
    ["..XXXX..", ".X....X.", "......X.", ".....X..", "....X...", "...X....", "..X.....", ".XXXXXX."],
    ["..XXXX..", ".X....X.", "......X.", "...XXX..", "......X.", "......X.", ".X....X.", "..XXXX.."],
    [".....X..", "....XX..", "...X.X..", "..X..X..", ".X...X..", ".XXXXXX.", ".....X..", ".....X.."],
    [".XXXXXX.", ".X......", ".X......", ".XXXXX..", "......X.", "......X.", ".X....X.", "..XXXX.."],
    ["...XXX..", "..X.....", ".X......", ".XXXXX..", ".X....X.", ".X....X.", ".X....X.", "..XXXX.."],
    [".XXXXXX.", "......X.", ".....X..", ".....X..", "....X...", "....X...", "...X....", "...X...."],
    ["..XXXX..", ".X....X.", ".X....X.", "..XXXX..", ".X....X.", ".X....X.", ".X....X.", "..XXXX.."],
    ["..XXXX..", ".X....X.", ".X....X.", ".X....X.", "..XXXXX.", "......X.", ".....X..", "..XXX..."],
]


def _glyphs() -> np.ndarray:
    return np.array([[[c == "X" for c in row] for row in g] for g in _GLYPHS], dtype=float)


# ------------------------------------------------------------------ quantizer and rule


def quantize(w: np.ndarray, bits: int | None, w_max: float = 1.0) -> np.ndarray:
    """Nearest of ``2**bits`` symmetric levels ``w_max * (2k/(L-1) - 1)``, k = 0..L-1.

    Values beyond ``±w_max`` saturate.  ``bits=None`` or ``bits >= 32`` is the
    identity (full precision, no clipping).
    """
    w = np.asarray(w, dtype=float)
    if bits is None or bits >= FLOAT_BITS:
        return w.copy()
    if bits < 1:
        raise ValueError("bits must be >= 1")
    n = 2**bits - 1
    k = np.rint((np.clip(w / w_max, -1.0, 1.0) + 1.0) * 0.5 * n)
    return w_max * (2.0 * k / n - 1.0)


def metaplastic_update(w_h: np.ndarray, grad: np.ndarray, lr: float, m: float) -> np.ndarray:
    """One SGD step of the hidden weights with the metaplastic attenuation (see module doc)."""
    delta = -lr * grad
    f = 1.0 - np.tanh(m * w_h) ** 2
    return w_h + np.where(delta * w_h < 0, f * delta, delta)


def _store_hidden(w: np.ndarray, bits: int | None, h_max: float, rng: np.random.Generator) -> np.ndarray:
    """Fixed-point storage of the hidden weights with stochastic rounding (``bits=None``: float)."""
    if bits is None:
        return w
    step = 2.0 * h_max / (2**bits - 1)
    x = (np.clip(w, -h_max, h_max) + h_max) / step
    lo = np.floor(x)
    x = lo + (rng.random(w.shape) < (x - lo))
    return x * step - h_max


# ------------------------------------------------------------------ network


class QuantizedMLP:
    """``tanh(x Q1 / sqrt(n_in)) Q2 * gain / sqrt(n_hidden)`` with ``Q = quantize(W_h)``."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, bits: int | None, rng: np.random.Generator,
                 w_max: float = 1.0, init: float = 0.5, gain: float = 4.0):
        self.bits, self.w_max, self.gain = bits, w_max, gain
        self.w = [rng.uniform(-init, init, (n_in, n_hidden)), rng.uniform(-init, init, (n_hidden, n_out))]
        self.s = [1.0 / np.sqrt(n_in), gain / np.sqrt(n_hidden)]

    def quantized(self) -> list[np.ndarray]:
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
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        n = len(y)
        loss = float(-np.mean(np.log(p[np.arange(n), y])))
        dz2 = p
        dz2[np.arange(n), y] -= 1.0
        dz2 /= n
        g2 = self.s[1] * (h.T @ dz2)
        dz1 = self.s[1] * (dz2 @ q2.T) * (1.0 - h * h)
        g1 = self.s[0] * (x.T @ dz1)
        return loss, [g1, g2]  # STE: dL/dW_h = dL/dQ


def accuracy(net: QuantizedMLP, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(net.predict(x) == y))


def train_task(net: QuantizedMLP, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, m: float,
               batch: int, rng: np.random.Generator, hidden_bits: int | None = None,
               hidden_max: float = 8.0, eval_fn: Any = None) -> list[Any]:
    """Mini-batch SGD with :func:`metaplastic_update`; returns ``eval_fn(net)`` after each epoch."""
    hist = []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch):
            idx = order[i:i + batch]
            _, grads = net.loss_and_grads(x[idx], y[idx])
            for j, g in enumerate(grads):
                w = metaplastic_update(net.w[j], g, lr, m)
                net.w[j] = _store_hidden(w, hidden_bits, hidden_max, rng)
        if eval_fn is not None:
            hist.append(eval_fn(net))
    return hist


# ------------------------------------------------------------------ tasks


def digits_task(seed: int, n_train: int, n_test: int) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test, perm): 64-pixel digits, inputs in ~[-1, 1]; ``perm`` gives task B."""
    rng = np.random.default_rng(seed)
    try:  # pragma: no cover - sklearn absent in the reference environment
        from sklearn.datasets import load_digits

        d = load_digits()
        x_all, y_all = d.data / 8.0 - 1.0, d.target.astype(int)
        order = rng.permutation(len(y_all))
        n_train = min(n_train, len(y_all) - n_test)
        x_all, y_all = x_all[order], y_all[order]
        xtr, ytr = x_all[:n_train], y_all[:n_train]
        xte, yte = x_all[n_train:n_train + n_test], y_all[n_train:n_train + n_test]
    except ImportError:
        g = _glyphs()

        def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
            y = rng.integers(0, 10, n)
            img = g[y].copy()
            sx, sy = rng.integers(-1, 2, n), rng.integers(-1, 2, n)
            for i in range(n):
                img[i] = np.roll(np.roll(img[i], sy[i], axis=0), sx[i], axis=1)
            img *= rng.uniform(0.6, 1.0, (n, 1, 1))
            img = np.where(rng.random(img.shape) < 0.03, 1.0 - img, img)  # pixel flips
            img += 0.2 * rng.standard_normal(img.shape)
            return 2.0 * img.reshape(n, 64) - 1.0, y

        xtr, ytr = draw(n_train)
        xte, yte = draw(n_test)
    perm = rng.permutation(64)
    return xtr, ytr, xte, yte, perm


# ------------------------------------------------------------------ experiment


@dataclass(frozen=True)
class MetaplasticConfig:
    n_seeds: int = 5
    n_train: int = 3000
    n_test: int = 1000
    n_hidden: int = 256
    bits: int = 2  # quantized (memristor) weight bits: 2**bits levels
    hidden_bits: int | None = 8  # fixed-point hidden weights; None = float32
    hidden_max: float = 8.0
    m: float = 1.0  # metaplasticity of the m>0 arm (full run: 0.3/0.6/1/2 -> A after B 18/26/57/76 %, B 87/82/54/12 %)
    epochs_a: int = 20
    epochs_b: int = 20
    lr: float = 3.0
    batch: int = 32


METAPLASTIC_QUICK = replace(MetaplasticConfig(), n_seeds=3, n_train=600, n_test=300, n_hidden=128, m=2.0,
                            epochs_a=6, epochs_b=6)


def _one_run(cfg: MetaplasticConfig, sub_seed: int, m: float) -> dict[str, Any]:
    xtr, ytr, xte, yte, perm = digits_task(sub_seed, cfg.n_train, cfg.n_test)
    rng = np.random.default_rng([sub_seed, 1])
    net = QuantizedMLP(64, cfg.n_hidden, 10, cfg.bits, rng)
    train_rng = np.random.default_rng([sub_seed, 2])  # same batches for both arms
    kw = dict(lr=cfg.lr, m=m, batch=cfg.batch, rng=train_rng, hidden_bits=cfg.hidden_bits, hidden_max=cfg.hidden_max)
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
    }


def run_metaplastic(cfg: MetaplasticConfig, seed: int, out_dir: str | Path | None) -> tuple[dict, list[dict]]:
    """Train A then B, plain (m=0) and metaplastic (m=cfg.m), over ``cfg.n_seeds`` seeds.

    Writes ``metrics.json`` and ``metaplastic.png`` into ``out_dir`` (if given).
    Returns ``(metrics, table)``; table rows are ``{"metric", "ours", "published"}``.
    Deterministic per ``seed`` (for one BLAS threading setting).
    """
    from pycircuits.network.report import pct as _pct
    from pycircuits.network.report import row as _row
    from pycircuits.network.report import seed_ints as _seed_ints
    from pycircuits.network.report import stat as _stat

    seeds = _seed_ints(seed, cfg.n_seeds)
    runs = {name: [_one_run(cfg, s, m) for s in seeds] for name, m in (("plain", 0.0), ("meta", cfg.m))}
    metrics: dict[str, Any] = {"config": asdict(cfg), "seeds": seeds}
    for name, rs in runs.items():
        for key in ("acc_a_before_b", "acc_a_after_b", "acc_b", "mean_abs_hidden"):
            metrics[f"{name}_{key}"] = _stat([r[key] for r in rs])
    n_w = 64 * cfg.n_hidden + cfg.n_hidden * 10
    hb = FLOAT_BITS if cfg.hidden_bits is None else cfg.hidden_bits
    metrics["memory"] = {
        "n_weights": n_w,
        "baseline_bits": FLOAT_BITS * n_w,
        "hidden_bits": hb * n_w,
        "quantized_weight_bits": cfg.bits * n_w,
        "ratio_hidden": FLOAT_BITS / hb,
        "ratio_hidden_plus_weights": FLOAT_BITS / (hb + cfg.bits),
    }
    mem = metrics["memory"]
    m = metrics
    table = [
        _row(f"acc A after B, metaplastic m={cfg.m:g} ({cfg.bits}-bit weights)", _pct(m["meta_acc_a_after_b"]),
             "97 % (MNIST)"),
        _row("acc B, metaplastic", _pct(m["meta_acc_b"]), "86 % (Fashion-MNIST)"),
        _row("acc A after B, plain SGD m=0", _pct(m["plain_acc_a_after_b"])),
        _row("acc B, plain SGD m=0", _pct(m["plain_acc_b"])),
        _row("acc A before B (meta / plain)",
             f"{_pct(m['meta_acc_a_before_b'])} / {_pct(m['plain_acc_a_before_b'])}"),
        _row("hidden-variable memory vs 32-bit baseline",
             f"{mem['hidden_bits']} vs {mem['baseline_bits']} bits = {mem['ratio_hidden']:.1f}x less "
             f"({mem['ratio_hidden_plus_weights']:.1f}x incl. {cfg.bits}-bit weights)", "15x"),
    ]
    metrics["table"] = table
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        from pycircuits.io import atomic_write_text

        curves = {k: {"curve_a": [r["curve_a"] for r in rs], "curve_b": [r["curve_b"] for r in rs]}
                  for k, rs in runs.items()}
        atomic_write_text(out / "metrics.json", json.dumps({**metrics, "curves": curves}, indent=1) + "\n")
        _plot(runs, cfg, out / "metaplastic.png")
    return metrics, table


def _plot(runs: dict[str, list], cfg: MetaplasticConfig, path: Path) -> None:
    from pycircuits.plots import _pyplot, save_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for (name, rs), color in zip(runs.items(), ("C0", "C1"), strict=False):
        a = np.mean([r["curve_a"] for r in rs], axis=0)
        b = np.mean([r["curve_b"] for r in rs], axis=0)
        ax.plot(np.arange(1, len(a) + 1), a, color=color, label=f"{name}: task A")
        ax.plot(np.arange(cfg.epochs_a + 1, cfg.epochs_a + len(b) + 1), b, "--", color=color, label=f"{name}: task B")
    ax.axvline(cfg.epochs_a + 0.5, color="k", lw=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7)
    save_figure(fig, path)


def runner(hw: Any, cfg: MetaplasticConfig, seed: int, out_dir: Path) -> tuple[dict, list[dict], list[str]]:
    """Adapter with the signature of the runners in ``experiments.EXPERIMENTS`` (``hw`` unused)."""
    metrics, table = run_metaplastic(cfg, seed, out_dir)
    return metrics, table, [str(Path(out_dir) / "metrics.json"), str(Path(out_dir) / "metaplastic.png")]
