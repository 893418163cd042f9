"""Loss, optimiser, model container and the training loop.

Labels are integer class indices.  A model's logits are either
``(batch, n_classes)`` with labels ``(batch,)``, or per time step
``(batch, time, n_classes)`` with labels ``(batch, time)``; a label of
``IGNORE`` (-1) marks a step that neither the loss nor the accuracy counts
(MTS-XOR scores only the steps where the second signal is shown).

Everything random (shuffling, forward weight noise) is drawn from one
``np.random.Generator``, so a run is reproduced exactly by its seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from pycircuits import progress
from pycircuits.network.layers import Layer

__all__ = [
    "IGNORE",
    "Adam",
    "Sequential",
    "TrainHistory",
    "evaluate",
    "predict",
    "softmax_cross_entropy",
    "train",
]

IGNORE = -1

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) and its gradient wrt the logits.

    logits: (..., C); labels: (...) integers in [0, C) or IGNORE.  The mean is
    over the counted entries; the gradient has the shape and dtype of logits.
    """
    labels = np.asarray(labels)
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    valid = labels != IGNORE
    n_valid = max(int(valid.sum()), 1)
    safe = np.where(valid, labels, 0)
    picked = np.take_along_axis(log_p, safe[..., None], axis=-1)[..., 0]
    loss = -float(np.sum(picked * valid)) / n_valid
    grad = np.exp(log_p)
    np.put_along_axis(grad, safe[..., None], np.take_along_axis(grad, safe[..., None], -1) - 1, -1)
    grad *= valid[..., None] / n_valid
    return loss, grad.astype(logits.dtype, copy=False)


def _accuracy_counts(logits: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    valid = labels != IGNORE
    correct = (logits.argmax(axis=-1) == labels) & valid
    return int(correct.sum()), int(valid.sum())


class Sequential:
    """Layers applied in order; ``params``/``grads`` are per-layer dicts."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = list(layers)

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Run all layers; ``rng`` draws their forward weight noise (if any)."""
        for layer in self.layers:
            x = layer.forward(x, rng=rng)
        return x

    def backward(self, grad_out: np.ndarray) -> None:
        """Backpropagate dL/d(output); the first layer skips its input gradient."""
        for i in range(len(self.layers) - 1, -1, -1):
            grad_out = self.layers[i].backward(grad_out, need_input_grad=i > 0)

    @property
    def params(self) -> list[dict[str, np.ndarray]]:
        """One parameter dict per layer."""
        return [layer.params for layer in self.layers]

    @property
    def grads(self) -> list[dict[str, np.ndarray]]:
        """One gradient dict per layer, filled by :meth:`backward`."""
        return [layer.grads for layer in self.layers]

    def parameters(self) -> list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """(params, grads) dict pairs, the form :class:`Adam` takes."""
        return [(layer.params, layer.grads) for layer in self.layers]

    def constrain(self) -> None:
        """Project every layer's parameters to their valid range."""
        for layer in self.layers:
            layer.constrain()


class Adam:
    """Adam (Kingma & Ba), the one optimiser of the network side.

    Two ways to use it:

    * ``Adam(pairs, ...)`` over (params, grads) dict pairs; :meth:`step`
      updates the params in place.  It reads the current arrays of each grads
      dict, so the dicts must be the live ones a layer fills in ``backward``;
      ``grad_clip`` bounds the global L2 norm of all gradients first.
    * ``Adam.for_shapes(shapes, lr)``; :meth:`deltas` returns the step for a
      list of gradients without applying it, for learning rules that shape
      the step before it reaches the weights (the metaplastic rule).

    ``eps_on_corrected`` chooses where ``eps`` enters, the two forms of the
    Adam paper: ``False`` (its efficient form, section 2)
    ``-lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps)``; ``True`` (its
    Algorithm 1) ``-lr m_hat / (sqrt(v_hat) + eps)``.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = (),
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        grad_clip: float | None = None,
        eps_on_corrected: bool = False,
    ) -> None:
        self.pairs = list(pairs)
        self.lr, self.betas, self.eps, self.grad_clip = lr, betas, eps, grad_clip
        self.eps_on_corrected = eps_on_corrected
        self.t = 0
        self._m = [{k: np.zeros_like(v) for k, v in p.items()} for p, _ in self.pairs]
        self._v = [{k: np.zeros_like(v) for k, v in p.items()} for p, _ in self.pairs]

    @classmethod
    def for_shapes(cls, shapes: Sequence[tuple[int, ...]], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                   eps: float = 1e-8, eps_on_corrected: bool = True) -> Adam:
        """An optimiser whose :meth:`deltas` takes one gradient per shape (float64 moments)."""
        opt = cls((), lr, betas, eps, None, eps_on_corrected)
        opt._m = [{"": np.zeros(s)} for s in shapes]
        opt._v = [{"": np.zeros(s)} for s in shapes]
        return opt

    def _entries(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        for (params, grads), m, v in zip(self.pairs, self._m, self._v, strict=True):
            for name, p in params.items():
                if name in grads:
                    yield p, grads[name], m[name], v[name]

    def _delta(self, g: np.ndarray, m: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Update the moments ``m``, ``v`` in place with gradient ``g``; return the step."""
        b1, b2 = self.betas
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        if self.eps_on_corrected:
            return -self.lr * (m / (1 - b1**self.t)) / (np.sqrt(v / (1 - b2**self.t)) + self.eps)
        lr_t = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        return -(lr_t * m / (np.sqrt(v) + self.eps))

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        self.t += 1
        scale = 1.0
        if self.grad_clip is not None:
            norm = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for _, g, _, _ in self._entries()))
            scale = min(1.0, self.grad_clip / (norm + 1e-12))
        for p, g, m, v in self._entries():
            p += self._delta(g * scale, m, v).astype(p.dtype, copy=False)

    def deltas(self, grads: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The step for each gradient (one per shape of :meth:`for_shapes`), not applied."""
        self.t += 1
        return [self._delta(g, m[""], v[""]) for g, m, v in zip(grads, self._m, self._v, strict=True)]


@dataclass
class TrainHistory:
    """Per-epoch mean training loss and accuracies (fractions in [0, 1])."""

    loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)


def train(
    model: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator | int,
    *,
    loss_fn: LossFn = softmax_cross_entropy,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    lr_decay: float = 1.0,
    grad_clip: float | None = None,
    verbose: bool = False,
    show_progress: bool | None = None,
) -> TrainHistory:
    """Train ``model`` with Adam on mini-batches; return the history.

    X: (n_samples, time, channels); y: labels (see module doc).  Each epoch
    shuffles with ``rng``, which also draws the forward weight noise, so the
    result is a deterministic function of the seed.  The learning rate is
    multiplied by ``lr_decay`` after every epoch; parameters are projected
    to their valid range (``model.constrain()``) after every step.

    On a terminal an epoch bar shows the loss and accuracy (``show_progress``:
    True/False forces it on or off; see :mod:`pycircuits.progress`); models
    trained inside a study are numbered in its label.  ``verbose`` prints a
    line per epoch.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    opt = Adam(model.parameters(), lr=lr, grad_clip=grad_clip)
    hist = TrainHistory()
    n = X.shape[0]
    with progress.bar(epochs, f"model {progress.next_model()}", "epoch", show=show_progress, leave=False) as bar:
        for epoch in range(epochs):
            order = gen.permutation(n)
            losses, correct, counted = [], 0, 0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                logits = model.forward(X[idx], rng=gen)
                loss, grad = loss_fn(logits, y[idx])
                model.backward(grad)
                opt.step()
                model.constrain()
                losses.append(loss * len(idx))
                c, k = _accuracy_counts(logits, y[idx])
                correct, counted = correct + c, counted + k
            hist.loss.append(float(np.sum(losses)) / n)
            hist.train_acc.append(correct / max(counted, 1))
            if X_val is not None and y_val is not None:
                hist.val_acc.append(evaluate(model, X_val, y_val))
            if verbose:
                val = f" val_acc {hist.val_acc[-1]:.3f}" if hist.val_acc else ""
                print(f"epoch {epoch + 1}/{epochs} loss {hist.loss[-1]:.4f} train_acc {hist.train_acc[-1]:.3f}{val}")
            opt.lr *= lr_decay
            bar.set_postfix(loss=f"{hist.loss[-1]:.3f}", acc=f"{hist.train_acc[-1]:.3f}", refresh=False)
            bar.update()
    return hist


def predict(
    model: Sequential,
    X: np.ndarray,
    batch_size: int = 256,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Logits for all of X, computed in batches (noisy weights if ``rng``)."""
    outs = [model.forward(X[i : i + batch_size], rng=rng) for i in range(0, X.shape[0], batch_size)]
    return np.concatenate(outs, axis=0)


def evaluate(
    model: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int = 256,
    rng: np.random.Generator | None = None,
) -> float:
    """Fraction of correctly classified (counted) labels.

    With ``rng`` the layers' forward weight noise is drawn, which models
    inference on noisy hardware; without it the clean weights are used.
    """
    correct, counted = _accuracy_counts(predict(model, X, batch_size, rng), np.asarray(y))
    return correct / max(counted, 1)
