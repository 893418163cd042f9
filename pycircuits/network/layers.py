"""Spiking and delay layers with hand-written backpropagation through time.

Conventions shared by every layer:

- Arrays are **batch-major**: ``(batch, time, features)``.  One time step is
  ``dt`` seconds; every time constant is in seconds.
- Parameters live in ``layer.params`` (name -> array) and their gradients in
  ``layer.grads`` (same names).  ``backward`` replaces the arrays in
  ``layer.grads`` but keeps the dict object, so an optimiser may hold on to
  both dicts.
- ``forward(x, rng=None)`` returns the output and keeps what ``backward``
  needs; ``backward(grad_out, need_input_grad=True)`` returns the gradient
  with respect to ``x`` (or ``None`` when not needed) and fills ``grads``.
- float32 by default; pass ``dtype=np.float64`` for gradient checks.
- ``rng`` in ``forward`` only draws the forward-only weight noise of layers
  built with ``weight_noise > 0``; without it the clean weights are used.

LIF convention (the temporal-hierarchy code, arXiv 2407.18838)::

    V[t] = alpha * V[t-1] + I[t] - v_th * S[t-1]      (reset by subtraction)
    S[t] = H(V[t] - v_th)                             (V[-1] = S[-1] = 0)

so the spike emitted at step t is subtracted at step t+1, and the gradient
flows through that reset term too (as in the authors' JAX code) unless
``detach_reset=True``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal

import numpy as np
import scipy.signal
import scipy.sparse

__all__ = [
    "LIF",
    "DelayedDense",
    "DelayedSynapses",
    "Dense",
    "Layer",
    "LeakyIntegrator",
    "RecurrentLIF",
    "add_weight_noise",
    "alpha_from_tau",
]

ALPHA_MIN = 0.1  # clip of the LIF decay factor (2407.18838)
ALPHA_MAX = 0.99


def alpha_from_tau(
    tau: np.ndarray,
    dt: float,
    clip: tuple[float, float] | None = (ALPHA_MIN, ALPHA_MAX),
) -> tuple[np.ndarray, np.ndarray]:
    """Decay factor per step ``exp(-dt/tau)`` and its derivative wrt ``tau``.

    tau: time constants, s (any shape); dt: step, s.  Returns
    ``(alpha, dalpha_dtau)`` with the derivative (1/s) set to zero where the
    clip to ``clip = (lo, hi)`` is active.
    """
    raw = np.exp(-dt / tau)
    dalpha = raw * dt / tau**2
    if clip is None:
        return raw, dalpha
    lo, hi = clip
    inside = (raw >= lo) & (raw <= hi)
    return np.clip(raw, lo, hi), np.where(inside, dalpha, 0.0).astype(raw.dtype)


def add_weight_noise(w: np.ndarray, k: float, rng: np.random.Generator, keep_zeros: bool = True) -> np.ndarray:
    """Return ``w + N(0, (k * max|w|)^2)``, a fresh draw per call.

    Models device-to-device/read noise of analog weights (DenRAM trains with
    k = 0, 0.1, 0.2).  A zero weight is an absent device and stays zero when
    ``keep_zeros`` (as in the DenRAM code).  ``k = 0`` returns ``w`` itself.
    Layers use the noisy array in the forward pass and apply the gradient
    computed with it to the clean weights (straight-through).
    """
    if k == 0:
        return w
    scale = k * float(np.max(np.abs(w)))
    noisy = w + (rng.standard_normal(w.shape) * scale).astype(w.dtype)
    return np.where(w != 0, noisy, w) if keep_zeros else noisy


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _per_neuron(value: float | np.ndarray, n: int, dtype: np.dtype, name: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 s, got min {arr.min()}")
    return arr


class Layer(ABC):
    """Base class: holds ``params``/``grads`` and the shared interface."""

    def __init__(self, dtype: np.dtype | type = np.float32) -> None:
        self.dtype = np.dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    @abstractmethod
    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Compute the output for ``x`` and keep a cache for ``backward``."""

    @abstractmethod
    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads`` from dL/d(output) and return dL/dx (None if not needed)."""

    def constrain(self) -> None:  # noqa: B027 - most layers have no constrained parameter
        """Project parameters back to their valid range after an update (default: none)."""

    def _noisy(self, name: str, rng: np.random.Generator | None) -> np.ndarray:
        w = self.params[name]
        k = getattr(self, "weight_noise", 0.0)
        return w if rng is None or k == 0 else add_weight_noise(w, k, rng)

    def _input(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=self.dtype)


EVENTS_DENSITY = 0.1  # "auto" methods use the sparse (events) path at or below this fraction of non-zeros


def _sparse_nonzeros(x: np.ndarray, method: str) -> np.ndarray | None:
    """Flat indices of the non-zeros of x when the events path applies, else None.

    One pass builds the mask; ``np.flatnonzero`` of a bool array is several
    times faster than ``np.nonzero`` of a float one.
    """
    if method not in ("auto", "events"):
        return None
    mask = x.reshape(-1) != 0
    if method == "auto" and np.count_nonzero(mask) > EVENTS_DENSITY * x.size:
        return None
    return np.flatnonzero(mask)


def _rows_csr(x2: np.ndarray, flat: np.ndarray) -> scipy.sparse.csr_array:
    """CSR of the 2-D x2 from its sorted flat non-zero indices (no sort needed)."""
    n_rows, n_cols = x2.shape
    rows, cols = np.divmod(flat, n_cols)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return scipy.sparse.csr_array((x2.reshape(-1)[flat], cols, indptr), shape=x2.shape)


class Dense(Layer):
    """Per-time-step linear map ``y[..., j] = sum_i x[..., i] W[i, j] (+ b[j])``.

    x: (batch, time, n_in) or any (..., n_in); W: (n_in, n_out), initialised
    N(0, init_scale^2) with ``init_scale = 1/sqrt(n_in)`` by default.  No bias
    by default: a crossbar has none; use a constant input or ``bias=True``.
    ``method``: ``"dense"`` (BLAS), ``"events"`` (x as a sparse matrix, cost
    ~ nnz(x) * n_out: spikes at a few % density) or ``"auto"`` (events when
    at most 10 % of x is non-zero).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        rng: np.random.Generator | int | None = None,
        bias: bool = False,
        init_scale: float | None = None,
        weight_noise: float = 0.0,
        method: Literal["auto", "dense", "events"] = "auto",
        dtype: np.dtype | type = np.float32,
    ) -> None:
        super().__init__(dtype)
        scale = 1.0 / np.sqrt(n_in) if init_scale is None else init_scale
        self.params["W"] = (_as_rng(rng).standard_normal((n_in, n_out)) * scale).astype(self.dtype)
        if bias:
            self.params["b"] = np.zeros(n_out, dtype=self.dtype)
        self.weight_noise = weight_noise
        self.method = method

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = self._input(x)
        self._w = self._noisy("W", rng)
        self._x = x
        flat = _sparse_nonzeros(x, self.method) if x.ndim >= 2 else None
        if flat is not None:
            self._a = _rows_csr(x.reshape(-1, x.shape[-1]), flat)
            y = np.asarray(self._a @ self._w, dtype=self.dtype).reshape(*x.shape[:-1], -1)
        else:
            self._a = None
            y = x @ self._w
        return y + self.params["b"] if "b" in self.params else y

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        g = np.asarray(grad_out, dtype=self.dtype)
        n_in, n_out = self._w.shape
        if self._a is not None:
            self.grads["W"] = np.asarray(self._a.T @ g.reshape(-1, n_out), dtype=self.dtype)
        else:
            self.grads["W"] = self._x.reshape(-1, n_in).T @ g.reshape(-1, n_out)
        if "b" in self.params:
            self.grads["b"] = g.reshape(-1, n_out).sum(axis=0)
        return g @ self._w.T if need_input_grad else None


def _lif_scan(
    current: np.ndarray,
    alpha: np.ndarray,
    v_th: float,
    spike: Callable[[np.ndarray], np.ndarray],
    w_rec: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the LIF recursion; current (T, B, N) time-major -> (V, S) time-major."""
    v = np.empty_like(current)
    s = np.empty_like(current)
    v_prev = np.zeros_like(current[0])
    s_prev = np.zeros_like(current[0])
    for t in range(current.shape[0]):
        i_t = current[t] if w_rec is None else current[t] + s_prev @ w_rec
        v_prev = alpha * v_prev + i_t - v_th * s_prev
        s_prev = spike(v_prev)
        v[t], s[t] = v_prev, s_prev
    return v, s


def _lif_bptt(
    grad_s: np.ndarray,
    v: np.ndarray,
    alpha: np.ndarray,
    v_th: float,
    spike_grad: Callable[[np.ndarray], np.ndarray],
    w_rec: np.ndarray | None,
    detach_reset: bool,
) -> np.ndarray:
    """Adjoint of :func:`_lif_scan`: returns dL/dI (T, B, N), time-major.

    delta[t] = dL/dV[t] = S'(V[t]) * dL/dS[t] + alpha * delta[t+1], where
    dL/dS[t] collects the output gradient, the reset term -v_th * delta[t+1]
    and the recurrent term delta[t+1] @ W_rec^T.
    """
    delta = np.empty_like(grad_s)
    d_next = np.zeros_like(grad_s[0])
    for t in range(grad_s.shape[0] - 1, -1, -1):
        d_s = grad_s[t]
        if not detach_reset:
            d_s = d_s - v_th * d_next
        if w_rec is not None:
            d_s = d_s + d_next @ w_rec.T
        d_next = spike_grad(v[t]) * d_s + alpha * d_next
        delta[t] = d_next
    return delta


class LIF(Layer):
    """Leaky integrate-and-fire neurons driven by an input current.

    x: input current (batch, time, n), in units of v_th per step; returns the
    spikes (batch, time, n) in {0, 1}.  ``tau_mem`` (s) is a scalar or a
    per-neuron array, so heterogeneous and hierarchical time constants are
    expressible; ``alpha = exp(-dt/tau_mem)`` is clipped to [0.1, 0.99].
    With ``trainable_tau`` the time constants are ``params["tau"]`` and get a
    gradient through alpha (zero where the clip is active).  The spike is
    the Heaviside step with the box surrogate dS/dV = 1 for
    |V - v_th| < surrogate_width; override :meth:`spike`/:meth:`spike_grad`
    for another surrogate.
    """

    def __init__(
        self,
        n: int,
        tau_mem: float | np.ndarray,
        dt: float,
        v_th: float = 1.0,
        trainable_tau: bool = False,
        *,
        surrogate_width: float = 0.5,
        detach_reset: bool = False,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        super().__init__(dtype)
        self.n, self.dt, self.v_th = n, dt, v_th
        self.trainable_tau = trainable_tau
        self.surrogate_width = surrogate_width
        self.detach_reset = detach_reset
        tau = _per_neuron(tau_mem, n, self.dtype, "tau_mem")
        if trainable_tau:
            self.params["tau"] = tau
        else:
            self._tau_fixed = tau

    @property
    def tau(self) -> np.ndarray:
        """Membrane time constants, s, shape (n,)."""
        return self.params["tau"] if self.trainable_tau else self._tau_fixed

    @property
    def alpha(self) -> np.ndarray:
        """Clipped decay factor per step, shape (n,)."""
        return alpha_from_tau(self.tau, self.dt)[0]

    def spike(self, v: np.ndarray) -> np.ndarray:
        """Forward spike function S(V) (Heaviside at v_th)."""
        return (v > self.v_th).astype(v.dtype)

    def spike_grad(self, v: np.ndarray) -> np.ndarray:
        """Surrogate dS/dV used in backward (box of half-width surrogate_width)."""
        return (np.abs(v - self.v_th) < self.surrogate_width).astype(v.dtype)

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        cur = np.ascontiguousarray(self._input(x).transpose(1, 0, 2))
        self._alpha, self._dalpha = alpha_from_tau(self.tau, self.dt)
        self._v, s = _lif_scan(cur, self._alpha, self.v_th, self.spike)
        return s.transpose(1, 0, 2)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        g = np.ascontiguousarray(np.asarray(grad_out, dtype=self.dtype).transpose(1, 0, 2))
        delta = _lif_bptt(g, self._v, self._alpha, self.v_th, self.spike_grad, None, self.detach_reset)
        if self.trainable_tau:
            self.grads["tau"] = _tau_grad(delta, self._v, self._dalpha)
        return delta.transpose(1, 0, 2) if need_input_grad else None

    def constrain(self) -> None:
        if self.trainable_tau:
            self.params["tau"][...] = _clamp_tau(self.params["tau"], self.dt)


def _tau_grad(delta: np.ndarray, v: np.ndarray, dalpha: np.ndarray) -> np.ndarray:
    """dL/dtau = dalpha/dtau * sum_{t,b} delta[t] V[t-1] (time-major inputs)."""
    return dalpha * np.einsum("tbn,tbn->n", delta[1:], v[:-1])


def _clamp_tau(tau: np.ndarray, dt: float) -> np.ndarray:
    # keep alpha strictly inside the clip so an update never parks tau where
    # its gradient is zero for good
    lo, hi = -dt / np.log(ALPHA_MIN), -dt / np.log(ALPHA_MAX)
    return np.clip(tau, lo * (1 + 1e-4), hi * (1 - 1e-4))


class RecurrentLIF(LIF):
    """LIF layer with its own input weights and recurrent weights.

    I[t] = x[t] @ W_in + S[t-1] @ W_rec, then the :class:`LIF` recursion.
    x: (batch, time, n_in) -> spikes (batch, time, n).  W_rec has a zero
    diagonal (kept at zero): self-feedback would duplicate the reset.
    """

    def __init__(
        self,
        n_in: int,
        n: int,
        tau_mem: float | np.ndarray,
        dt: float,
        v_th: float = 1.0,
        trainable_tau: bool = False,
        *,
        rng: np.random.Generator | int | None = None,
        init_scale_in: float | None = None,
        init_scale_rec: float | None = None,
        weight_noise: float = 0.0,
        surrogate_width: float = 0.5,
        detach_reset: bool = False,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        super().__init__(
            n,
            tau_mem,
            dt,
            v_th,
            trainable_tau,
            surrogate_width=surrogate_width,
            detach_reset=detach_reset,
            dtype=dtype,
        )
        gen = _as_rng(rng)
        s_in = 1.0 / np.sqrt(n_in) if init_scale_in is None else init_scale_in
        s_rec = 1.0 / np.sqrt(n) if init_scale_rec is None else init_scale_rec
        self.params["W_in"] = (gen.standard_normal((n_in, n)) * s_in).astype(self.dtype)
        w_rec = (gen.standard_normal((n, n)) * s_rec).astype(self.dtype)
        self._offdiag = 1 - np.eye(n, dtype=self.dtype)
        self.params["W_rec"] = w_rec * self._offdiag
        self.weight_noise = weight_noise

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = self._input(x)
        self._x = x
        self._w_in = self._noisy("W_in", rng)
        # the mask keeps the diagonal out of the computation even if an
        # optimiser or a user writes to it
        self._w_rec = self._noisy("W_rec", rng) * self._offdiag
        cur = np.ascontiguousarray((x @ self._w_in).transpose(1, 0, 2))
        self._alpha, self._dalpha = alpha_from_tau(self.tau, self.dt)
        self._v, self._s = _lif_scan(cur, self._alpha, self.v_th, self.spike, self._w_rec)
        return self._s.transpose(1, 0, 2)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        g = np.ascontiguousarray(np.asarray(grad_out, dtype=self.dtype).transpose(1, 0, 2))
        delta = _lif_bptt(
            g,
            self._v,
            self._alpha,
            self.v_th,
            self.spike_grad,
            self._w_rec,
            self.detach_reset,
        )
        n = self.n
        g_rec = self._s[:-1].reshape(-1, n).T @ delta[1:].reshape(-1, n)
        np.fill_diagonal(g_rec, 0.0)
        self.grads["W_rec"] = g_rec
        d_bm = delta.transpose(1, 0, 2)
        self.grads["W_in"] = self._x.reshape(-1, self._x.shape[-1]).T @ d_bm.reshape(-1, n)
        if self.trainable_tau:
            self.grads["tau"] = _tau_grad(delta, self._v, self._dalpha)
        return d_bm @ self._w_in.T if need_input_grad else None


class LeakyIntegrator(Layer):
    """Non-spiking leaky integrator ``V[t] = alpha * V[t-1] + I[t]`` (readout).

    x: input current (batch, time, n).  ``tau`` (s) scalar or per neuron,
    ``alpha = exp(-dt/tau)`` (not clipped).  ``clip_nonneg`` applies
    V[t] = max(V[t], 0) each step (DenRAM's dendrite cannot go below ground;
    the gradient is zero where the clip is active).  Readout: ``"max"`` over
    time -> (batch, n) with the gradient routed to the arg-max step,
    ``"last"`` -> (batch, n), ``"mean"`` -> (batch, n), ``"none"`` -> the whole
    trace (batch, time, n).  Without the clip and with one shared alpha the
    recursion is an IIR filter run by ``scipy.signal.lfilter`` (forward, and
    backward in reversed time); ``method="loop"`` forces the explicit loop.
    """

    def __init__(
        self,
        n: int,
        tau: float | np.ndarray,
        dt: float,
        clip_nonneg: bool = False,
        readout: Literal["max", "last", "mean", "none"] = "max",
        *,
        method: Literal["auto", "lfilter", "loop"] = "auto",
        dtype: np.dtype | type = np.float32,
    ) -> None:
        super().__init__(dtype)
        if readout not in ("max", "last", "mean", "none"):
            raise ValueError(f"readout must be max, last, mean or none, got {readout!r}")
        self.n, self.dt = n, dt
        self.tau = _per_neuron(tau, n, self.dtype, "tau")
        self.clip_nonneg, self.readout, self.method = clip_nonneg, readout, method

    @property
    def alpha(self) -> np.ndarray:
        """Decay factor per step, shape (n,)."""
        return np.exp(-self.dt / self.tau)

    def _use_lfilter(self) -> bool:
        uniform = bool(np.all(self.alpha == self.alpha[0]))
        if self.method == "lfilter" and not (uniform and not self.clip_nonneg):
            raise ValueError("lfilter needs one shared tau and clip_nonneg=False")
        return self.method != "loop" and uniform and not self.clip_nonneg

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = self._input(x)
        alpha = self.alpha
        if self._use_lfilter():
            a = np.array([1.0, -alpha[0]], dtype=self.dtype)
            v = scipy.signal.lfilter(np.ones(1, dtype=self.dtype), a, x, axis=1)
            self._active = None
        else:
            v = np.empty_like(x)
            v_prev = np.zeros_like(x[:, 0])
            for t in range(x.shape[1]):
                v_prev = alpha * v_prev + x[:, t]
                if self.clip_nonneg:
                    v_prev = np.maximum(v_prev, 0.0)
                v[:, t] = v_prev
            # V > 0 after the clip <=> the pre-clip value was > 0
            self._active = v > 0 if self.clip_nonneg else None
        self._shape = x.shape
        return self._read(v.astype(self.dtype, copy=False))

    def _read(self, v: np.ndarray) -> np.ndarray:
        if self.readout == "max":
            self._argmax = v.argmax(axis=1)
            return np.take_along_axis(v, self._argmax[:, None], axis=1)[:, 0]
        if self.readout == "last":
            return v[:, -1]
        if self.readout == "mean":
            return v.mean(axis=1)
        return v

    def _grad_trace(self, grad_out: np.ndarray) -> np.ndarray:
        t = self._shape[1]
        if self.readout == "none":
            return grad_out
        gv = np.zeros(self._shape, dtype=self.dtype)
        if self.readout == "max":
            np.put_along_axis(gv, self._argmax[:, None], grad_out[:, None], axis=1)
        elif self.readout == "last":
            gv[:, -1] = grad_out
        else:
            gv[:] = grad_out[:, None] / t
        return gv

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        gv = self._grad_trace(np.asarray(grad_out, dtype=self.dtype))
        alpha = self.alpha
        if self._use_lfilter():
            a = np.array([1.0, -alpha[0]], dtype=self.dtype)
            rev = scipy.signal.lfilter(np.ones(1, dtype=self.dtype), a, gv[:, ::-1], axis=1)
            return np.ascontiguousarray(rev[:, ::-1]).astype(self.dtype, copy=False)
        grad_in = np.empty_like(gv)
        mu = np.zeros_like(gv[:, 0])
        for t in range(gv.shape[1] - 1, -1, -1):
            mu = gv[:, t] + alpha * mu
            if self._active is not None:
                mu = mu * self._active[:, t]
            grad_in[:, t] = mu
        return grad_in


def _check_delays(delays: np.ndarray, n_in: int) -> np.ndarray:
    d = np.asarray(delays)
    if d.ndim != 2 or d.shape[0] != n_in:
        raise ValueError(f"delays must have shape (n_in={n_in}, K), got {d.shape}")
    if not np.issubdtype(d.dtype, np.integer) or np.any(d < 0):
        raise ValueError("delays must be non-negative integers (time steps)")
    return d.astype(np.int64)


def _delay(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """out[b, t, i] = x[b, t - d[i], i], zero for t < d[i].  x: (B, T, N), d: (N,)."""
    t_len = x.shape[1]
    src = np.arange(t_len)[:, None] - d[None, :]
    out = x[:, np.maximum(src, 0), np.arange(x.shape[2])]
    return out * (src >= 0)


def _advance(y: np.ndarray, d: np.ndarray) -> np.ndarray:
    """out[b, t, i] = y[b, t + d[i], i], zero past the end (adjoint of _delay)."""
    t_len = y.shape[1]
    src = np.arange(t_len)[:, None] + d[None, :]
    out = y[:, np.minimum(src, t_len - 1), np.arange(y.shape[2])]
    return out * (src < t_len)


class DelayedSynapses(Layer):
    """Fan-out of every input channel to K synapses with fixed delays.

    delays: int array (n_in, K) in time steps (DenRAM: K = 16).  x: (batch,
    time, n_in) -> (batch, time, n_in*K) with
    ``out[b, t, i*K + k] = x[b, t - delays[i, k], i]`` (0 before the delay).
    The output keeps the input length: pad x with zeros at the end
    (``np.pad``) if late arrivals must be seen.  No parameters.
    """

    def __init__(self, n_in: int, delays: np.ndarray, *, dtype: np.dtype | type = np.float32):
        super().__init__(dtype)
        self.n_in = n_in
        self.delays = _check_delays(delays, n_in)

    @property
    def n_taps(self) -> int:
        """K, delays per input channel."""
        return self.delays.shape[1]

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = self._input(x)
        b, t, n = x.shape
        # one gather for all taps; (T, n_in, K) source-time index
        src = np.arange(t)[:, None, None] - self.delays[None]
        out = x[:, np.maximum(src, 0), np.arange(n)[:, None]] * (src >= 0)
        self._shape = x.shape
        return out.reshape(b, t, n * self.n_taps)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        if not need_input_grad:
            return None
        b, t, n = self._shape
        g = np.asarray(grad_out, dtype=self.dtype).reshape(b, t, n, self.n_taps)
        grad = np.zeros(self._shape, dtype=self.dtype)
        # scatter-add: for one tap the map (t, i) -> (t - d[i, k], i) is
        # injective, so a gather per tap replaces np.add.at
        for k in range(self.n_taps):
            grad += _advance(g[..., k], self.delays[:, k])
        return grad


class DelayedDense(Layer):
    """Delays and weights fused: ``DelayedSynapses`` followed by ``Dense``.

    out[b, t, j] = sum_{i,k} W[i*K + k, j] * x[b, t - delays[i, k], i]
    (+ b[j]).  x: (batch, time, n_in) -> (batch, time, n_out); W: (n_in*K,
    n_out), row ``i*K + k`` as in :class:`DelayedSynapses`.  The
    (batch, time, n_in*K) tensor is never formed:

    - ``"events"``: the delayed inputs are a sparse matrix built from the
      non-zeros of x (one entry per spike and tap), multiplied by W.
      Cost ~ nnz(x) * K * n_out: the right choice for sparse spikes.
    - ``"taps"``: one shifted (B, T, n_in) gather and matmul per tap.
    - ``"auto"``: events when at most 10 % of x is non-zero.

    The input gradient always uses the per-tap form.  Delays are shared by
    all outputs; DenRAM's code draws one delay per (output, synapse), which
    is one ``DelayedDense(n_in, 1, ...)`` per output neuron.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        delays: np.ndarray,
        *,
        rng: np.random.Generator | int | None = None,
        bias: bool = False,
        init_scale: float | None = None,
        weight_noise: float = 0.0,
        method: Literal["auto", "events", "taps"] = "auto",
        dtype: np.dtype | type = np.float32,
    ) -> None:
        super().__init__(dtype)
        self.delays = _check_delays(delays, n_in)
        self.n_in, self.n_out, self.method = n_in, n_out, method
        rows = n_in * self.n_taps
        scale = 1.0 / np.sqrt(rows) if init_scale is None else init_scale
        self.params["W"] = (_as_rng(rng).standard_normal((rows, n_out)) * scale).astype(self.dtype)
        if bias:
            self.params["b"] = np.zeros(n_out, dtype=self.dtype)
        self.weight_noise = weight_noise

    @property
    def n_taps(self) -> int:
        """K, delays per input channel."""
        return self.delays.shape[1]

    def _events_matrix(self, x: np.ndarray, flat: np.ndarray) -> scipy.sparse.coo_array:
        """Sparse (B*T, n_in*K) matrix of the delayed inputs, from the flat non-zeros of x.

        One entry per (spike, tap).  A spike arriving past the end is kept as
        an explicit zero in the last step of its sample: masking it out would
        cost a compaction pass over all nnz*K entries.  COO, because the
        entries are not in row order and a conversion to CSR (a sort) costs
        more than the product itself.
        """
        b, t, n = x.shape
        k = self.n_taps
        # int32 indices halve the memory traffic of these (nnz, K) arrays
        idx = np.int32 if b * t * max(n * k, 1) < 2**31 else np.int64
        bt, ii = np.divmod(flat.astype(idx), n)
        ti = bt % t
        arrive = self.delays.astype(idx)[ii] + ti[:, None]  # (nnz, K)
        late = arrive >= t
        rows = np.minimum(arrive, t - 1) + (bt - ti)[:, None]
        cols = (ii * k)[:, None] + np.arange(k, dtype=idx)
        vals = np.repeat(x.reshape(-1)[flat], k).reshape(late.shape)
        if late.any():
            vals[late] = 0
        shape = (b * t, n * k)
        return scipy.sparse.coo_array((vals.reshape(-1), (rows.reshape(-1), cols.reshape(-1))), shape=shape)

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = self._input(x)
        b, t, _ = x.shape
        self._w = self._noisy("W", rng)
        self._x = x
        flat = _sparse_nonzeros(x, self.method)
        if flat is not None:
            self._a = self._events_matrix(x, flat)
            out = (self._a @ self._w).reshape(b, t, self.n_out)
        else:
            self._a = None
            w3 = self._w.reshape(self.n_in, self.n_taps, self.n_out)
            out = np.zeros((b, t, self.n_out), dtype=self.dtype)
            for k in range(self.n_taps):
                out += _delay(x, self.delays[:, k]) @ w3[:, k]
        out = out.astype(self.dtype, copy=False)
        return out + self.params["b"] if "b" in self.params else out

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        g = np.asarray(grad_out, dtype=self.dtype)
        g2 = g.reshape(-1, self.n_out)
        w3 = self._w.reshape(self.n_in, self.n_taps, self.n_out)
        if self._a is not None:
            self.grads["W"] = np.asarray(self._a.T @ g2, dtype=self.dtype)
        else:
            gw = np.empty_like(w3)
            for k in range(self.n_taps):
                xk = _delay(self._x, self.delays[:, k])
                gw[:, k] = xk.reshape(-1, self.n_in).T @ g2
            self.grads["W"] = gw.reshape(-1, self.n_out)
        if "b" in self.params:
            self.grads["b"] = g2.sum(axis=0)
        if not need_input_grad:
            return None
        grad = np.zeros(self._x.shape, dtype=self.dtype)
        for k in range(self.n_taps):
            grad += _advance(g @ w3[:, k].T, self.delays[:, k])
        return grad
