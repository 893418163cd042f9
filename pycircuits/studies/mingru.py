"""Hardware minGRU trained with quantization-aware training, replayed through the ``scgru`` circuit.

Task: sequential 8x8 handwritten digits (:func:`pycircuits.network.tasks.digits_task`),
one row of 8 binarised pixels per step (pixel = 1 where the digit image is
brighter than mid-grey, i.e. its value in [-1, 1] is > 0), 8 steps, 10 classes
*(choose: the circuit's inputs are binary rows; 8 inputs x 8 steps keeps one
replayed digit at ~10 s of ngspice; an ECG record is 300 steps of 4 channels,
~20x more circuit time per test sequence)*.

The recurrent layer is exactly the software twin of the circuit,
:func:`pycircuits.twins.mingru.mingru_reference`, with ``q =
Quantization(gate_slope=s)``: the circuit's default k_b = 63/8, 6-bit biases
and gate, and the hard-sigmoid slope ``s = Config.gate_slope`` (a circuit
parameter too).
From float latent parameters ``W_z, W_h`` (n_hidden, n_in), ``B_z, B_h``
(n_hidden,), ``Theta`` (n_hidden,), per unit j and step t, inputs x_t in {0, 1}::

    w     = Qw(W)    = levels[floor(1.5 (clip(W, -1, 1) + 1) + 1/2)]   # 2-bit code 0..3 -> -1, -1/3, 1/3, 1
    b     = Qb(B)    = (c - 31.5) / 31.5,  c = floor(31.5 (clip(B, -1, 1) + 1) + 1/2)   # 6-bit code 0..63
    theta = clip(Theta, -0.9, 0.9)                                      # the comparator's input range
    a_z   = (x_t @ w_z^T + k_b b_z) / (n_in + k_b)
    h~_t  = (x_t @ w_h^T + k_b b_h) / (n_in + k_b)
    z_t   = floor(63 clip(s a_z + 1/2, 0, 1) + 1/2) / 63                # 6-bit hard sigmoid (q.gate)
    h_t   = clip((1 - z_t) h_{t-1} + z_t h~_t, -1, 1),   h_0 = 0
    y_t   = [h_t > theta]                                               # the chip's binary outputs

The readout is software on the chip's output only (the binary outputs are what
the chip gives; its analog state is not read out) *(choose)*: a linear map of
the whole output pattern, ``logits = c + sum_t y_t @ V_t`` with ``V`` of shape
(T, n_hidden, 10), trained with softmax cross-entropy.

QAT gradients (hand-written BPTT, :meth:`HardMinGRU.loss_and_grads`) use
straight-through estimators: ``dQw/dW = 1`` for ``|W| <= 1`` else 0 (likewise
``Qb`` on ``|B| <= 1`` and theta on ``|Theta| <= 0.9``); the gate's rounding is
passed through, ``dz/da = s`` where ``0 <= s a + 1/2 <= 1`` else 0; the
comparator's surrogate is ``dy/dh = beta sigma(beta (h - theta)) (1 - sigma)``.
These are the exact gradients of the *surrogate network* (``mode="surrogate"``):
the same network with ``w = clip(W, -1, 1)``, ``b = clip(B, -1, 1)``, the
unrounded hard sigmoid and ``y = sigma(beta (h - theta))``.  One backward
function serves both: it reads the forward pass's values, quantized in
``mode="qat"``, smooth in ``mode="surrogate"``.

The float reference (``mode="float"``) is the same network of the same size
without any quantizer or comparator: ``w = clip(W, -1, 1)``, ``b = clip(B,
-1, 1)``, the unrounded hard sigmoid, and the readout reads the analog state
``h_t`` instead of ``y_t``.

Training: Adam (:class:`pycircuits.network.training.Adam`), mini-batches,
latent parameters clipped back into their quantizer ranges after every step
(so the STE never freezes a parameter outside them) *(choose)*.  The QAT model
is trained with Gaussian noise of ``noise_lsb`` LSB added to the state at the
comparator's input only, ``y = [h + n > theta]`` (a fresh draw per step and
unit) *(choose: the states of a row MAC span only ~+-6 LSB, so many lie within
an LSB of a threshold; the noise makes the readout rely less on outputs the
circuit's sub-LSB state error can flip)*.  Evaluation, export and the replay
use no noise.

After training the codes are exported (:meth:`HardMinGRU.export`) as
:class:`pycircuits.twins.mingru.MinGRUWeights`; the runner checks that the trained
model's quantized forward equals ``mingru_reference`` bit for bit on the test
set, then records ``n_replay`` test digits per seed with
:func:`pycircuits.regress.record_trace` / :func:`save_trace` and replays each
through the ``scgru`` circuit (ngspice) with :func:`pycircuits.regress.regress`:
state error in LSB of a 6-bit range, output agreement, pass/fail, and the
class the readout gives from the circuit's outputs.  Without ngspice the
replay is recorded as "not run".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.errors import NgspiceNotFound, UsageError
from pycircuits.network.tasks import digits_task
from pycircuits.network.training import Adam, softmax_cross_entropy
from pycircuits.twins.mingru import WEIGHT_CODES, MinGRUWeights, Quantization, mingru_reference

from . import report
from .registry import Study, register

__all__ = [
    "Config",
    "HardMinGRU",
    "bias_codes",
    "encode_rows",
    "gate",
    "train_model",
    "weight_codes",
]


THETA_MAX = 0.9  # the scgru comparator's theta range, |theta| <= 0.9 (state units)
MODES = ("qat", "surrogate", "float")
N_ROWS = 8  # digits are 8x8: one row per step
N_CLASSES = 10
# *(published)* 2505.08599 via CIRCUITS.md "Must show": circuit h_t within 2 LSB of a 6-bit range of the
# quantized software model, binary outputs agree on >= 99 % of steps
PUBLISHED = {"max_err_lsb": 2.0, "output_agreement": 0.99}


# ------------------------------------------------------------------ quantizers and their STEs


def weight_codes(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-bit codes 0..3 of latent weights (nearest of -1, -1/3, 1/3, 1) and the STE mask ``|w| <= 1``."""
    w = np.asarray(w, dtype=float)
    codes = np.floor(1.5 * (np.clip(w, -1.0, 1.0) + 1.0) + 0.5).astype(np.int64)
    return np.minimum(codes, WEIGHT_CODES - 1), (np.abs(w) <= 1.0).astype(float)


def bias_codes(b: np.ndarray, q: Quantization) -> tuple[np.ndarray, np.ndarray]:
    """Bias codes 0..2^bits-1 (nearest of ``(c - max/2)/(max/2)``) and the STE mask ``|b| <= 1``."""
    b = np.asarray(b, dtype=float)
    half = q.bias_max_code / 2.0
    codes = np.floor(half * (np.clip(b, -1.0, 1.0) + 1.0) + 0.5).astype(np.int64)
    return np.minimum(codes, q.bias_max_code), (np.abs(b) <= 1.0).astype(float)


def gate(a: np.ndarray, q: Quantization, quantized: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Gate z of MAC values ``a`` and its STE derivative ``dz/da`` (s inside the hard sigmoid's range, else 0).

    ``quantized``: the circuit's 6-bit gate (:meth:`Quantization.gate`); otherwise the unrounded hard sigmoid.
    """
    u = q.gate_slope * np.asarray(a, dtype=float) + 0.5
    z = q.gate(a) if quantized else np.clip(u, 0.0, 1.0)
    return z, q.gate_slope * ((u >= 0.0) & (u <= 1.0))


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))


def encode_rows(images: np.ndarray) -> np.ndarray:
    """Digits ``(N, 64)`` with values in ~[-1, 1] -> binary row sequences ``(N, 8, 8)``: pixel > 0 is 1."""
    x = np.asarray(images, dtype=float)
    if x.ndim != 2 or x.shape[1] != N_ROWS * N_ROWS:
        raise UsageError(f"encode_rows needs images of shape (N, {N_ROWS * N_ROWS}), got {x.shape}")
    return (x > 0.0).astype(float).reshape(len(x), N_ROWS, N_ROWS)


# ------------------------------------------------------------------ network


class HardMinGRU:
    """The circuit's minGRU layer (latent float parameters) plus a linear readout of its outputs (module doc)."""

    def __init__(self, n_in: int, n_hidden: int, n_steps: int, rng: np.random.Generator,
                 q: Quantization | None = None, beta: float = 10.0, n_classes: int = N_CLASSES) -> None:
        if min(n_in, n_hidden, n_steps, n_classes) < 1 or beta <= 0:
            raise UsageError("HardMinGRU needs positive n_in, n_hidden, n_steps, n_classes and beta")
        self.q = q or Quantization()
        self.n_in, self.n_hidden, self.n_steps, self.beta = n_in, n_hidden, n_steps, float(beta)
        self.p: dict[str, np.ndarray] = {
            "w_z": rng.uniform(-1.0, 1.0, (n_hidden, n_in)),
            "w_h": rng.uniform(-1.0, 1.0, (n_hidden, n_in)),
            "b_z": rng.uniform(-0.5, 0.5, n_hidden),
            "b_h": rng.uniform(-0.5, 0.5, n_hidden),
            "theta": rng.uniform(-0.1, 0.1, n_hidden),
            "v": rng.standard_normal((n_steps, n_hidden, n_classes)) / np.sqrt(n_steps * n_hidden),
            "c": np.zeros(n_classes),
        }
        self.g: dict[str, np.ndarray] = {k: np.zeros_like(v) for k, v in self.p.items()}

    # -- parameters as the forward pass sees them

    def _effective(self, mode: str) -> dict[str, np.ndarray]:
        p, q = self.p, self.q
        out: dict[str, np.ndarray] = {}
        for name in ("w_z", "w_h"):
            if mode == "qat":
                codes, mask = weight_codes(p[name])
                out[name] = q.weight_values(codes)
            else:
                out[name], mask = np.clip(p[name], -1.0, 1.0), (np.abs(p[name]) <= 1.0).astype(float)
            out[name + "_mask"] = mask
        for name in ("b_z", "b_h"):
            if mode == "qat":
                codes, mask = bias_codes(p[name], q)
                out[name] = q.bias_values(codes)
            else:
                out[name], mask = np.clip(p[name], -1.0, 1.0), (np.abs(p[name]) <= 1.0).astype(float)
            out[name + "_mask"] = mask
        out["theta"] = np.clip(p["theta"], -THETA_MAX, THETA_MAX)
        out["theta_mask"] = (np.abs(p["theta"]) <= THETA_MAX).astype(float)
        return out

    def _check(self, x: np.ndarray, mode: str) -> np.ndarray:
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        x = np.asarray(x, dtype=float)
        if x.shape[1:] != (self.n_steps, self.n_in) or x.ndim != 3:
            raise UsageError(f"inputs must have shape (B, {self.n_steps}, {self.n_in}), got {x.shape}")
        if mode == "qat" and not np.all((x == 0.0) | (x == 1.0)):
            raise UsageError("the hardware model takes binary inputs (0 or 1)")
        return x

    def forward(self, x: np.ndarray, mode: str = "qat", noise: np.ndarray | None = None) -> dict[str, Any]:
        """Run the network on ``x`` (B, T, n_in); returns the cache (``h``, ``y``, ``f``, ``logits``, ...).

        ``noise`` (B, T, n_hidden), training only: added to the state at the comparator's input,
        ``y = [h + noise > theta]`` (its surrogate likewise); None is the circuit's model.
        """
        x = self._check(x, mode)
        q, e = self.q, self._effective(mode)
        kb = q.bias_weight
        a_z = (x @ e["w_z"].T + kb * e["b_z"]) / (self.n_in + kb)  # same expression as pycircuits.twins.mingru.mac
        h_tilde = (x @ e["w_h"].T + kb * e["b_h"]) / (self.n_in + kb)
        z, dz_da = gate(a_z, q, quantized=mode == "qat")
        lo, hi = q.state_range
        h = np.zeros(x.shape[:1] + (self.n_hidden,))
        hs = np.empty_like(h_tilde)
        inside = np.empty_like(h_tilde)
        for t in range(self.n_steps):
            pre = (1.0 - z[:, t, :]) * h + z[:, t, :] * h_tilde[:, t, :]
            inside[:, t, :] = (pre >= lo) & (pre <= hi)
            h = np.clip(pre, lo, hi)
            hs[:, t, :] = h
        seen = hs if noise is None else hs + noise
        s = _sigmoid(self.beta * (seen - e["theta"]))
        sg = self.beta * s * (1.0 - s)  # the comparator's surrogate derivative dy/dh
        y = (seen > e["theta"]).astype(np.int64)
        f = {"qat": y.astype(float), "surrogate": s, "float": hs}[mode]
        logits = self.p["c"] + np.einsum("bth,thc->bc", f, self.p["v"])
        return {"mode": mode, "x": x, "eff": e, "z": z, "dz_da": dz_da, "h_tilde": h_tilde, "h": hs,
                "inside": inside, "y": y, "sg": sg, "f": f, "logits": logits}

    def loss(self, x: np.ndarray, labels: np.ndarray, mode: str = "qat", noise: np.ndarray | None = None) -> float:
        """Mean softmax cross-entropy."""
        return softmax_cross_entropy(self.forward(x, mode, noise)["logits"], labels)[0]

    def loss_and_grads(self, x: np.ndarray, labels: np.ndarray, mode: str = "qat",
                       noise: np.ndarray | None = None) -> float:
        """Loss; fills ``self.g`` with the BPTT gradients w.r.t. the latent parameters (module doc)."""
        c = self.forward(x, mode, noise)
        loss, dlog = softmax_cross_entropy(c["logits"], labels)
        e, q, g = c["eff"], self.q, self.g
        g["v"][...] = np.einsum("bth,bc->thc", c["f"], dlog)
        g["c"][...] = dlog.sum(axis=0)
        df = np.einsum("bc,thc->bth", dlog, self.p["v"])
        dh = df if mode == "float" else df * c["sg"]
        g["theta"][...] = 0.0 if mode == "float" else -dh.sum(axis=(0, 1)) * e["theta_mask"]
        z, ht, hs = c["z"], c["h_tilde"], c["h"]
        da_z, dht = np.empty_like(z), np.empty_like(z)
        carry = np.zeros_like(hs[:, 0, :])
        for t in range(self.n_steps - 1, -1, -1):
            gt = (dh[:, t, :] + carry) * c["inside"][:, t, :]
            h_prev = hs[:, t - 1, :] if t > 0 else np.zeros_like(carry)
            da_z[:, t, :] = gt * (ht[:, t, :] - h_prev) * c["dz_da"][:, t, :]
            dht[:, t, :] = gt * z[:, t, :]
            carry = gt * (1.0 - z[:, t, :])
        kb, denom = q.bias_weight, self.n_in + q.bias_weight
        for key, da in (("z", da_z), ("h", dht)):
            g[f"w_{key}"][...] = np.einsum("bth,bti->hi", da, c["x"]) / denom * e[f"w_{key}_mask"]
            g[f"b_{key}"][...] = da.sum(axis=(0, 1)) * kb / denom * e[f"b_{key}_mask"]
        return loss

    def clip_latent(self) -> None:
        """Put the latent parameters back into their quantizer ranges."""
        for name in ("w_z", "w_h", "b_z", "b_h"):
            np.clip(self.p[name], -1.0, 1.0, out=self.p[name])
        np.clip(self.p["theta"], -THETA_MAX, THETA_MAX, out=self.p["theta"])

    def readout(self, y: np.ndarray) -> np.ndarray:
        """Class predictions from binary output patterns ``(B, T, n_hidden)`` (the chip's or the twin's)."""
        y = np.asarray(y, dtype=float)
        if y.ndim != 3 or y.shape[1:] != (self.n_steps, self.n_hidden):
            raise UsageError(f"outputs must have shape (B, {self.n_steps}, {self.n_hidden}), got {y.shape}")
        return (self.p["c"] + np.einsum("bth,thc->bc", y, self.p["v"])).argmax(axis=1)

    def predict(self, x: np.ndarray, mode: str = "qat") -> np.ndarray:
        """Predicted classes."""
        return self.forward(x, mode)["logits"].argmax(axis=1)

    def export(self) -> MinGRUWeights:
        """The integer codes and thresholds the circuit stores."""
        return MinGRUWeights(w_z=weight_codes(self.p["w_z"])[0], w_h=weight_codes(self.p["w_h"])[0],
                             b_z=bias_codes(self.p["b_z"], self.q)[0], b_h=bias_codes(self.p["b_h"], self.q)[0],
                             theta=np.clip(self.p["theta"], -THETA_MAX, THETA_MAX))


def train_model(model: HardMinGRU, x: np.ndarray, labels: np.ndarray, epochs: int, batch: int, lr: float,
                rng: np.random.Generator, mode: str = "qat", noise_lsb: float = 0.0) -> list[float]:
    """Adam on mini-batches, learning rate ``lr`` decayed by a half cosine over the epochs to 0.05 ``lr``
    *(choose: lets the quantized codes settle)*; latent parameters clipped after each step.  Returns the mean
    loss per epoch."""
    if epochs < 0 or batch < 1 or lr <= 0:
        raise UsageError("train_model needs epochs >= 0, batch >= 1 and lr > 0")
    opt = Adam([(model.p, model.g)], lr=lr)
    hist = []
    for ep in range(epochs):
        opt.lr = lr * (0.05 + 0.95 * 0.5 * (1.0 + np.cos(np.pi * ep / epochs)))
        order = rng.permutation(len(labels))
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            noise = None
            if noise_lsb > 0 and mode != "float":
                noise = rng.normal(0.0, noise_lsb * model.q.lsb, (len(idx), model.n_steps, model.n_hidden))
            losses.append(model.loss_and_grads(x[idx], labels[idx], mode, noise))
            opt.step()
            model.clip_latent()
        hist.append(float(np.mean(losses)))
    return hist


# ------------------------------------------------------------------ experiment


@dataclass(frozen=True)
class Config:
    """Full run of the ``mingru`` experiment."""

    n_seeds: int = 3
    n_train: int = 1437  # the 1,797 handwritten digits split 80/20 by the seed
    n_test: int = 360
    digits: str = "sklearn"  # the real handwritten digits (network.tasks.load_digits); "glyphs": synthetic
    n_hidden: int = 16  # circuit columns *(choose: 16 is the scgru maximum; 128 output bits per digit)*
    epochs: int = 30
    batch: int = 32
    lr: float = 0.01
    beta: float = 10.0  # comparator surrogate sharpness, 1/state units *(choose: width ~ +-0.2 of the +-1 state)*
    gate_slope: float = 2.0  # hard-sigmoid slope *(choose: full gate range for |a_z| <= 1/4, where row MACs lie)*
    noise_lsb: float = 0.5  # comparator-input noise while training QAT, LSB *(choose: ~the circuit's max error)*
    n_replay: int = 4  # test digits replayed per seed (8 steps each, ~10 s of ngspice CPU each at n_hidden = 16)
    pdk: str = "generic130"


QUICK = replace(Config(), n_train=800, n_test=300, n_hidden=4, epochs=12, lr=0.02, n_replay=1)


def _one_seed(cfg: Config, sub_seed: int, q: Quantization) -> dict[str, Any]:
    """Train the QAT and the float model on one seed's data; check the twin; return models and accuracies."""
    s = report.seed_ints(sub_seed, 4)
    xtr_img, ytr, xte_img, yte, _ = digits_task(s[0], cfg.n_train, cfg.n_test, cfg.digits)
    xtr, xte = encode_rows(xtr_img), encode_rows(xte_img)
    out: dict[str, Any] = {"x_test": xte, "y_test": yte}
    for mode, init in (("qat", s[1]), ("float", s[1])):
        model = HardMinGRU(N_ROWS, cfg.n_hidden, N_ROWS, np.random.default_rng(init), q, cfg.beta)
        hist = train_model(model, xtr, ytr, cfg.epochs, cfg.batch, cfg.lr, np.random.default_rng(s[2]), mode,
                           cfg.noise_lsb)
        out[mode] = {"model": model, "loss": hist, "acc": float(np.mean(model.predict(xte, mode) == yte)),
                     "train_acc": float(np.mean(model.predict(xtr, mode) == ytr))}
    model = out["qat"]["model"]
    c = model.forward(xte, "qat")
    ref_h, ref_y, _ = mingru_reference(model.export(), xte.astype(np.int64), q)
    out["bit_exact"] = bool(np.array_equal(c["h"], ref_h) and np.array_equal(c["y"], ref_y))
    out["ref_acc"] = float(np.mean(model.readout(ref_y) == yte))
    out["software_y"] = c["y"]
    return out


def _replay(cfg: Config, run: dict[str, Any], k: int, q: Quantization, out_dir: Path) -> dict[str, Any] | None:
    """Record ``n_replay`` test digits, replay them through scgru; None when ngspice is missing."""
    from pycircuits.regress import record_trace, regress, save_trace
    model = run["qat"]["model"]
    weights = model.export()
    reports, files = [], []
    for i in range(cfg.n_replay):
        trace = record_trace(weights, run["x_test"][i].astype(np.int64), q, h0=0.0,
                             provenance={"model": "pycircuits.studies.mingru", "seed_index": k, "test_index": i})
        path = out_dir / "traces" / f"mingru_seed{k}_digit{i}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_trace(path, trace)
        files.append(str(path))
        try:
            reports.append(regress("scgru", path, None, pdk=cfg.pdk))
        except NgspiceNotFound:
            return None
    err = np.concatenate([r.err_lsb.ravel() for r in reports])
    y_circ = np.stack([r.y_circuit for r in reports])
    pred_circ = model.readout(y_circ)
    pred_soft = model.readout(run["software_y"][:cfg.n_replay])
    labels = run["y_test"][:cfg.n_replay]
    return {"max_err_lsb": float(err.max()), "rms_err_lsb": float(np.sqrt(np.mean(err ** 2))),
            "output_agreement": float(np.mean(np.concatenate([r.agree for r in reports]))),
            "output_agreement_all": float(np.mean(np.concatenate([r.raw_agree for r in reports]))),
            "output_agreement_units": float(np.mean([np.mean(r.y_circuit == r.trace.y) for r in reports])),
            "passed": bool(all(r.passed for r in reports)),
            "class_agreement": float(np.mean(pred_circ == pred_soft)),
            "circuit_acc": float(np.mean(pred_circ == labels)), "software_acc": float(np.mean(pred_soft == labels)),
            "per_sequence": [r.summary() | {"provenance": None} for r in reports],
            "first": reports[0], "files": files}


def runner(hw: Any, cfg: Config, seed: int, out_dir: Path) -> tuple[dict, list[dict], list[str]]:
    """Train, check the twin, replay through the circuit over ``cfg.n_seeds`` seeds (``hw`` unused)."""
    if cfg.n_seeds < 1 or cfg.n_replay < 0 or not 1 <= cfg.n_hidden <= 16:
        raise UsageError("mingru needs n_seeds >= 1, n_replay >= 0 and 1 <= n_hidden <= 16 (the scgru limit)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    q = Quantization(gate_slope=cfg.gate_slope)
    seeds = report.seed_ints(seed, cfg.n_seeds)
    runs = [_one_seed(cfg, s, q) for s in seeds]
    replays = [_replay(cfg, r, k, q, out_dir) if cfg.n_replay else None for k, r in enumerate(runs)]
    replayed = all(r is not None for r in replays) and cfg.n_replay > 0
    m: dict[str, Any] = {"seeds": seeds, "task": "digits 8x8, one binarised row per step (8 steps x 8 inputs)",
                         "readout": "linear map of the binary outputs of all steps (software)",
                         "acc_qat": report.stat([r["qat"]["acc"] for r in runs]),
                         "acc_float": report.stat([r["float"]["acc"] for r in runs]),
                         "train_acc_qat": report.stat([r["qat"]["train_acc"] for r in runs]),
                         "train_acc_float": report.stat([r["float"]["train_acc"] for r in runs]),
                         "acc_reference": report.stat([r["ref_acc"] for r in runs]),
                         "bit_exact_vs_reference": bool(all(r["bit_exact"] for r in runs)),
                         "loss_qat": [r["qat"]["loss"] for r in runs],
                         "weights": [{k: np.asarray(v).tolist() for k, v in asdict(_codes(r)).items()} for r in runs]}
    files: list[str] = []
    rows = [report.row("test accuracy, QAT minGRU (2-bit w, 6-bit b/gate, binary y)", report.pct(m["acc_qat"])),
            report.row("test accuracy, float minGRU of the same size (readout of h)", report.pct(m["acc_float"])),
            report.row("quantized forward == mingru_reference (all test digits)",
                       "bit-exact" if m["bit_exact_vs_reference"] else "DIFFERS", "bit-exact (contract)")]
    if replayed:
        for key in ("max_err_lsb", "rms_err_lsb", "output_agreement", "output_agreement_all",
                    "output_agreement_units", "class_agreement", "circuit_acc", "software_acc"):
            m[f"circuit_{key}"] = report.stat([r[key] for r in replays])
        m["circuit_passed"] = [r["passed"] for r in replays]
        m["circuit_per_sequence"] = [r["per_sequence"] for r in replays]
        m["circuit_steps"] = cfg.n_replay * N_ROWS
        for r in replays:
            files += r["files"]
        n = f"{cfg.n_replay} digits x {N_ROWS} steps per seed"
        rows += [
            report.row(f"circuit vs software: max state error ({n})",
                       f"{m['circuit_max_err_lsb']['mean']:.2f} ± {m['circuit_max_err_lsb']['std']:.2f} LSB",
                       "<= 2 LSB of a 6-bit range"),
            report.row("circuit vs software: RMS state error",
                       f"{m['circuit_rms_err_lsb']['mean']:.2f} ± {m['circuit_rms_err_lsb']['std']:.2f} LSB"),
            report.row("circuit vs software: output agreement (decided steps)",
                       report.pct(m["circuit_output_agreement"]), ">= 99 %"),
            report.row("circuit vs software: steps with all outputs equal (ambiguous included)",
                       report.pct(m["circuit_output_agreement_all"])),
            report.row("circuit vs software: single outputs equal (ambiguous included)",
                       report.pct(m["circuit_output_agreement_units"])),
            report.row("regress passed (seeds)", f"{sum(m['circuit_passed'])}/{len(m['circuit_passed'])}", "pass"),
            report.row("class from circuit outputs == class from software", report.pct(m["circuit_class_agreement"])),
        ]
        _plot_replay(replays[0]["first"], out_dir / "mingru_replay.png", files)
    else:
        m["circuit"] = "not run (ngspice not found)" if cfg.n_replay else "not run (n_replay = 0)"
        rows.append(report.row("circuit replay (scgru, ngspice)", m["circuit"], "<= 2 LSB, >= 99 %"))
    _plot_accuracy(m, replayed, out_dir / "mingru_accuracy.png", files)
    return m, rows, files


def _codes(run: dict[str, Any]) -> MinGRUWeights:
    return run["qat"]["model"].export()


# ------------------------------------------------------------------ plots


def _plot_replay(rep: Any, path: Path, files: list[str]) -> None:
    """Circuit vs software state per unit with the +-2 LSB band, and the outputs."""
    plt = report.pyplot()
    n = rep.err_lsb.shape[1]
    cols = min(4, n)
    rows = -(-n // cols)
    fig = plt.figure(figsize=(3.0 * cols, 2.2 * (rows + 1)), layout="constrained")
    grid = fig.add_gridspec(rows + 1, cols)
    steps = np.arange(1, rep.err_lsb.shape[0] + 1)
    band = PUBLISHED["max_err_lsb"] * rep.trace.quantization.lsb
    for j in range(n):
        ax = fig.add_subplot(grid[j // cols, j % cols])
        h = rep.trace.h[:, j]
        ax.fill_between(steps, h - band, h + band, color="0.85", label="published: ±2 LSB")
        ax.plot(steps, h, "k-", lw=1, label="software twin")
        ax.plot(steps, rep.h_circuit[:, j], "C1o", ms=3, label="circuit (scgru)")
        ax.axhline(rep.trace.weights.theta[j], color="C0", ls=":", lw=0.8, label="theta")
        ax.set_title(f"unit {j}", fontsize=8)
        ax.tick_params(labelsize=7)
        if j == 0:
            ax.legend(fontsize=6)
    ax = fig.add_subplot(grid[rows, :])
    tt, uu = np.meshgrid(steps, np.arange(n), indexing="ij")
    soft, circ = rep.trace.y.astype(bool), rep.y_circuit.astype(bool)
    ax.plot(tt[soft] - 0.08, uu[soft], "ks", ms=3, label="software y = 1")
    ax.plot(tt[circ] + 0.08, uu[circ], "C1s", ms=3, label="circuit y = 1")
    ax.plot(tt[soft != circ], uu[soft != circ], "rx", ms=7, label="outputs differ")
    ax.set_xticks(steps)
    ax.set_xlabel("step (digit row)")
    ax.set_ylabel("unit")
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    s = rep.summary()
    fig.suptitle(f"replayed digit: max {s['max_err_lsb']:.2f} LSB (published <= 2), decided outputs agree "
                 f"{100 * s['output_agreement']:.0f} % of steps (published >= 99 %)", fontsize=9)
    report.save(fig, path, files)


def _plot_accuracy(m: dict[str, Any], replayed: bool, path: Path, files: list[str]) -> None:
    """Accuracy bars (float / QAT / circuit) and the circuit's agreement and error against the published bounds."""
    plt = report.pyplot()
    fig, axes = plt.subplots(1, 3 if replayed else 1, figsize=(12 if replayed else 4, 3.8), squeeze=False,
                             layout="constrained")
    ax = axes[0, 0]
    bars = [("float", m["acc_float"]), ("QAT", m["acc_qat"])]
    if replayed:
        bars += [("software\n(replayed)", m["circuit_software_acc"]), ("circuit\n(replayed)", m["circuit_circuit_acc"])]
    for i, (_, st) in enumerate(bars):
        ax.bar(i, st["mean"], yerr=st["std"], color=f"C{i}", alpha=0.7, capsize=4)
        ax.plot(np.full(len(st["values"]), i), st["values"], "k.", ms=4)
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
    ax.set_ylabel("test accuracy (digits)")
    ax.set_ylim(0, 1)
    ax.set_title("accuracy (no published number)", fontsize=8)
    if replayed:
        ax = axes[0, 1]
        keys = ("circuit_output_agreement", "circuit_output_agreement_units", "circuit_output_agreement_all",
                "circuit_class_agreement")
        for i, key in enumerate(keys):
            st = m[key]
            ax.bar(i, st["mean"], yerr=st["std"], color=f"C{i}", alpha=0.7, capsize=4)
        ax.axhline(PUBLISHED["output_agreement"], color="k", ls="--", label="published >= 99 %")
        ax.set_xticks(range(len(keys)), ["steps\n(decided)", "single\noutputs", "steps\n(all)", "class"],
                      fontsize=7)
        ax.set_ylim(0.0, 1.05)
        ax.set_ylabel("circuit vs software agreement")
        ax.legend(fontsize=7)
        ax = axes[0, 2]
        for i, key in enumerate(("circuit_max_err_lsb", "circuit_rms_err_lsb")):
            st = m[key]
            ax.bar(i, st["mean"], yerr=st["std"], color=f"C{i + 3}", alpha=0.7, capsize=4)
        ax.axhline(PUBLISHED["max_err_lsb"], color="k", ls="--", label="published <= 2 LSB")
        ax.set_xticks(range(2), ["max", "RMS"])
        ax.set_ylabel("state error [LSB of 6 bits]")
        ax.legend(fontsize=7)
    for a in axes.ravel():
        a.grid(alpha=0.3, axis="y")
    report.save(fig, path, files)


STUDY = register(Study(
    name="mingru",
    doc="minGRU with 2-bit weights, 6-bit gate/biases, binary outputs: QAT on row-wise digits, replayed on scgru",
    runner=runner,
    config=Config(),
    quick=QUICK,
))
