"""``pcm-trace``: three-factor learning with PCM-drift eligibility traces (after arXiv 2102.07260).

The learner is one layer of synapses ``n_inputs -> n_actions`` with winner-take-all
output neurons.  Every synapse has a weight pair ``W+/W-`` of PCM cells (in
all three learners) and a trace pair ``e+/e-`` (PCM cells in the PCM-trace
learner; see "Traces compared" for the other two).

**PCM device.**  A cell holds ``(G_p, t_p)``: its conductance right after its
last programming and the time of it.  Between programming events it drifts::

    G(t) = G_p * ((t - t_p + t0) / t0) ** (-nu)

Every SET pulse re-programs the cell and restarts its drift:
``G_p <- clip(G(t) + a * s, G_reset, G_max)``, ``t_p <- t``, where ``s`` is one
draw of the ``pcm-step`` curve at ``G(t)`` (step vs conductance before the
pulse, with its spread; :class:`StepSampler`) and ``a`` the pulse strength in
nominal pulses (1 for a trace pulse).  A read returns ``V_read * G`` (linear
in G) with the published read noise ``N(0, 0.03 G + 0.13 uS)``.  A RESET puts
the cell at ``G_reset = 0.1 uS`` with ``t_p = t`` (it drifts from there too).

The trace cells take ``nu`` and ``t0`` from the ``pcm-drift`` curve (``x = t -
t_p``, ``y = G/G_p``): ``nu`` is the least-squares slope of ``-log y`` on
``log((x + t0)/t0)`` (through the origin: ``y = 1`` at ``x = 0`` by
definition) of the median, and every trace cell draws its own ``nu`` from the
same fit of the curve's Monte Carlo columns (the device-to-device spread).
Beyond the curve's time range the fitted power law is used.  The weight cells
take their steps and read noise from the same model but do not drift in the
main comparison (``weight_nu = 0`` *(choose)*: weight drift, restarted by
every SET, biases the pairs of all three learners alike and is not what is
compared here); one extra run of the PCM and ideal learners at the middle
table delay uses the published ``nu_w = 0.04``.

**Learning rule** (per the paper's algorithm).  Trial = one input spike
pattern presented (spike counts ``n_i``); the output currents are
``v_j = sum_i n_i (W+_ij - W-_ij)`` (noisy reads) and the largest wins (with
probability ``epsilon`` a random action is taken instead: exploration).  The
winner fires (membrane at threshold) and inhibits the others (reset to rest),
so the postsynaptic signal ``I_x = 1 - (V_th - V_mem)/V_th`` is 1 for the
winner and 0 for the losers.  On each presynaptic spike of input ``i`` the
trace ``e+_ij`` gets one gradual SET if ``I_x,j > I_th+`` and ``e-_ij`` if
``I_x,j < I_th-``.  At a reward ``r`` the differential trace is read,
``e_ij = (G(e+_ij) - G(e-_ij)) / g_ref`` (``g_ref`` = median step of one SET
from RESET, so one fresh pulse reads about 1), the modulator is ``M = r -
rbar`` (``rbar`` a running mean of rewards) and one device of each weight pair
gets a gradual SET of strength ``a_ij = min(eta |M e_ij|, a_max)``: ``W+`` when
``M e_ij > 0``, ``W-`` when ``M e_ij < 0`` (:func:`reward_update`).  The
baseline ``rbar`` (``baseline_rate`` 0.1, from 0) makes distractor traces
zero-mean noise instead of a bias that reinforces whatever the network does.
A pair whose larger device passes ``G_refresh = 5 uS`` is refreshed: both RESET and the
difference written back into one device (ideal program-and-verify).  The
trace cells are RESET after the reward is read: the episode is over, and a
trace with ``nu ~ 0.1`` keeps ~80 % of its conductance after 100 s, so
without RESET it would saturate within a few episodes.

**Task** (delayed reward with distractors).  ``n_patterns`` fixed patterns
(each ``k_active`` of the inputs fire Poisson(``spikes_active``) spikes, the
others Poisson(``spikes_background``)); pattern ``p`` must be answered by
action ``perm[p]``.  An episode: a cue pattern at ``t = 0``;
``n_distractors`` distractor presentations (random patterns of the same set,
answered and traced like the cue but never rewarded: the other trials) at
uniform random times in ``(0, D)``; the reward ``r = +1`` (cue action
correct) or ``-1`` at ``t = D``; then a gap.  The number of distractors is
fixed *(choose)* so that the interference is the same at every delay and
accuracy vs D measures the trace's memory.  Accuracy = fraction of cues whose
greedy answer (no exploration) is correct over the final block of episodes.

**Traces compared** in the same learner (same task stream per seed):

1. ``pcm``: the PCM trace above.
2. ``ideal``: ``e = sum_pulses exp(-(t - t_k)/tau)`` per device, noiseless,
   ``tau = ideal_tau_factor * D`` *(choose: the conventional match of an
   eligibility trace to the expected reward delay; at the reward the cue's
   pulses read exp(-1))*.
3. ``capacitor``: the same exponential with the time constant a capacitor of
   the PCM-trace cell's area holds, ``tau = C dV / I_leak`` with *(choose)*
   cell area 1 um^2 (two 1T1R PCM cells of ~0.5 um^2, 130 nm class),
   thin-oxide MOS capacitance 10 fF/um^2 (the densest on-chip option) ->
   C = 10 fF, usable swing dV = 0.5 V, leakage of the off switch and junction
   I_leak = 10 fA -> **tau = 0.5 s**.  Each pulse adds dV/8 (the PCM trace
   saturates after ~8 gradual SETs too), the voltage is clipped at dV, and a
   read adds kT/C noise (0.64 mV at 300 K).  The paper claims >10x area
   efficiency of the PCM-trace over capacitor-based traces *(published)*.

Curves: ``pcm-drift.json`` and ``pcm-step.json`` from ``hw.curve``; a missing
curve falls back to the published model (Nandakumar et al. 2018 step model,
drift ``nu = 0.1`` *(choose, amorphous drift 0.05-0.1)*, ``t0 = 38.6 s``;
:func:`fallback_drift_curve`, :func:`fallback_step_curve`), and
``metrics["curves"]`` records which source was used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.errors import UsageError
from pycircuits.extract.curve import TransferCurve
from pycircuits.twins.pcm import T0_S, drift_ratio, fit_drift_exponent

from . import report
from .registry import Study, register

__all__ = [
    "CAP_TAU_S",
    "Config",
    "DriftLaw",
    "ExpTrace",
    "PcmPairs",
    "PcmTrace",
    "StepSampler",
    "fallback_drift_curve",
    "fallback_step_curve",
    "fit_drift_exponent",
    "load_models",
    "reward_update",
    "run_learner",
]


US = 1e-6  # S per uS
# Published PCM model (Nandakumar et al. 2018, used in srnn-pcm) *(published)*
NU_WEIGHT = 0.04  # drift exponent of the weight cells
G_MAX_S = 12e-6  # S
READ_NOISE_REL, READ_NOISE_ABS_S = 0.03, 0.13e-6  # read noise std = 0.03 G + 0.13 uS
STEP_MEAN_US = (-0.084, 0.88, 1.40)  # mean step = a G + b + c P (uS), P *= exp(-1/2.6) per pulse
STEP_STD_US = (0.091, 0.26, 2.15)  # std of the step, same form
P_DECAY_PULSES = 2.6
NU_TRACE_FALLBACK = 0.1  # *(choose)* amorphous-dominated drift of the trace cells, 0.05-0.1
G_RESET_S = 0.1e-6  # *(choose)* RESET level, as in the pcm-trace circuit
G_REFRESH_S = 5e-6  # *(choose)* refresh a weight pair where the median step has fallen to ~1/3 of its low-G value
FALLBACK_STEP_SEED = 2018  # fixed: the fallback curve is a model, not part of an experiment's randomness

# Capacitor trace of the same area as the PCM-trace cell *(choose, see module docstring)*
CELL_AREA_UM2 = 1.0  # two 1T1R PCM cells of ~0.5 um^2
CAP_DENSITY_F_PER_UM2 = 10e-15  # thin-oxide MOS capacitor
CAP_SWING_V = 0.5  # usable voltage swing dV
CAP_LEAK_A = 10e-15  # off-switch + junction leakage
CAP_F = CELL_AREA_UM2 * CAP_DENSITY_F_PER_UM2  # 10 fF
CAP_TAU_S = CAP_F * CAP_SWING_V / CAP_LEAK_A  # 0.5 s
CAP_PULSES_FULL = 8  # pulses that fill the swing
KT_J = 1.380649e-23 * 300.0
CAP_NOISE_V = float(np.sqrt(KT_J / CAP_F))  # kT/C read noise, 0.64 mV
AREA_PUBLISHED = ">10x area vs capacitor trace"  # *(published)* 2102.07260

TRACES = ("pcm", "ideal", "capacitor")
LABELS = {"pcm": "PCM-trace", "ideal": "ideal exponential", "capacitor": "capacitor trace"}


# ------------------------------------------------------------------ curves and device models


@dataclass(frozen=True, eq=False)
class DriftLaw:
    """Drift G/G_p = ((dt + t0)/t0)^-nu of the trace cells, with per-device exponents."""

    nu: float  # fit of the curve's median
    nu_devices: np.ndarray  # fits of the curve's Monte Carlo columns (one entry: no spread)
    t0_s: float
    source: str

    def ratio(self, dt_s: Any, nu: Any = None) -> np.ndarray:
        """G(t)/G_p after ``dt_s`` seconds (``nu`` defaults to the median exponent)."""
        return drift_ratio(dt_s, self.nu if nu is None else nu, self.t0_s)

    def draw_nu(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """One exponent per device, resampled from ``nu_devices``."""
        return rng.choice(self.nu_devices, size=shape)

    @classmethod
    def from_curve(cls, curve: TransferCurve, source: str) -> DriftLaw:
        """Fit nu (and its device spread) from a ``pcm-drift`` curve's own data."""
        t0 = float(curve.extra.get("t0_s", T0_S))
        ok = np.isfinite(curve.y) & (curve.x >= 0)
        if ok.sum() < 2 or np.any(curve.y[ok] <= 0):
            raise UsageError(f"drift curve {curve.name!r}: needs >= 2 points with t - t_p >= 0 and G/G_p > 0")
        nu = float(fit_drift_exponent(curve.x[ok], curve.y[ok], t0))
        devices = np.array([nu])
        if curve.samples is not None:
            s = curve.samples[ok]
            good = np.all(np.isfinite(s) & (s > 0), axis=0)
            if good.sum() >= 2:
                devices = np.asarray(fit_drift_exponent(curve.x[ok], s[:, good], t0), dtype=float)
        return cls(nu, devices, t0, source)


class StepSampler:
    """Draws gradual-SET steps (S) at conductance G (S) from a ``pcm-step`` curve.

    Per grid point the curve's step distribution is stored as a quantile
    table: from its Monte Carlo samples (NaN padding ignored), else from its
    5/25/50/75/95 % bands (piecewise linear in the normal z, extended
    linearly beyond 5/95 %), else the median alone.  A draw takes one uniform
    ``u`` and interpolates the quantiles ``Q_k(u)`` of the two neighbouring
    grid points linearly in G (held at the ends): at a grid point the draws
    follow that point's distribution exactly, and the median is the curve's.
    """

    _N_U = 201

    def __init__(self, curve: TransferCurve, source: str = ""):
        self.source = source
        u = (np.arange(self._N_U) + 0.5) / self._N_U
        rows, xs = [], []
        for k, x in enumerate(curve.x):
            q = self._quantiles(curve, k, u)
            if q is not None:
                rows.append(q)
                xs.append(x)
        if len(xs) < 2:
            raise UsageError(f"step curve {curve.name!r}: needs >= 2 grid points with finite steps")
        self.g = np.asarray(xs, dtype=float)
        self.table = np.asarray(rows)  # (n_g, N_U)

    @staticmethod
    def _quantiles(curve: TransferCurve, k: int, u: np.ndarray) -> np.ndarray | None:
        if curve.samples is not None:
            v = curve.samples[k][np.isfinite(curve.samples[k])]
            return np.quantile(v, u) if v.size >= 2 else None
        if not np.isfinite(curve.y[k]):
            return None
        bands = {p: curve.percentiles[p][k] for p in (5, 25, 75, 95) if p in curve.percentiles}
        if len(bands) < 4 or not all(np.isfinite(v) for v in bands.values()):
            return np.full(u.size, curve.y[k])
        from scipy.special import ndtri

        zk = ndtri(np.array([0.05, 0.25, 0.5, 0.75, 0.95]))
        qk = np.array([bands[5], bands[25], curve.y[k], bands[75], bands[95]])
        z = ndtri(u)
        out = np.interp(z, zk, qk)
        lo, hi = z < zk[0], z > zk[-1]
        out[lo] = qk[0] + (z[lo] - zk[0]) * (qk[1] - qk[0]) / (zk[1] - zk[0])
        out[hi] = qk[-1] + (z[hi] - zk[-1]) * (qk[-1] - qk[-2]) / (zk[-1] - zk[-2])
        return out

    def _weights(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gq = np.clip(g, self.g[0], self.g[-1])
        k = np.clip(np.searchsorted(self.g, gq, side="right") - 1, 0, self.g.size - 2)
        return k, (gq - self.g[k]) / (self.g[k + 1] - self.g[k])

    def quantile(self, g: Any, u: Any) -> np.ndarray:
        """The ``u`` quantile (0 < u < 1) of the step at ``g`` (S)."""
        g, u = np.broadcast_arrays(np.asarray(g, dtype=float), np.asarray(u, dtype=float))
        k, w = self._weights(g)
        pos = np.clip(u * self._N_U - 0.5, 0, self._N_U - 1)
        j = np.minimum(pos.astype(int), self._N_U - 2)
        f = pos - j
        q_k = (1 - f) * self.table[k, j] + f * self.table[k, j + 1]
        q_k1 = (1 - f) * self.table[k + 1, j] + f * self.table[k + 1, j + 1]
        return (1 - w) * q_k + w * q_k1

    def median(self, g: Any) -> np.ndarray:
        """Median step at ``g`` (S)."""
        return self.quantile(g, 0.5)

    def __call__(self, g: Any, rng: np.random.Generator) -> np.ndarray:
        """One step per entry of ``g`` (S)."""
        g = np.asarray(g, dtype=float)
        return self.quantile(g, rng.random(g.shape))


def fallback_drift_curve(nu: float = NU_TRACE_FALLBACK, t0_s: float = T0_S) -> TransferCurve:
    """The drift law ((t - t_p + t0)/t0)^-nu on 1..99 s, no device spread (none is published)."""
    x = np.arange(1.0, 100.0)
    return TransferCurve(
        "pcm-drift", x, "s", drift_ratio(x, nu, t0_s), "1", x_name="t - t_p", y_name="G/G_p",
        recipe=f"fallback: published drift law, nu = {nu:g}, t0 = {t0_s:g} s",
        extra={"t0_s": t0_s, "nu_model": nu},
    )


def fallback_step_curve(n_devices: int = 1000, n_pulses: int = 20) -> TransferCurve:
    """Step vs G before the pulse from a Monte Carlo of the published step model.

    ``n_devices`` cells RESET at 0.1 uS get ``n_pulses`` SET pulses each: step
    mean ``-0.084 G + 0.88 + 1.40 P`` uS, std ``0.091 G + 0.26 + 2.15 P`` uS,
    ``P = 1`` for the first pulse and multiplied by ``exp(-1/2.6)`` after each,
    G clipped to [0.1, 12] uS; steps pooled in 12 bins of G over 0..12 uS as
    the ``pcm-step`` recipe does.  Simplification: the curve (like the
    circuit's) is a function of G only, so the pulse-number dependence enters
    through the G a cell has reached, not through its own pulse count.
    """
    rng = np.random.default_rng(FALLBACK_STEP_SEED)
    g = np.full(n_devices, G_RESET_S / US)
    before, steps = [], []
    for n in range(n_pulses):
        p = np.exp(-n / P_DECAY_PULSES)
        mean = STEP_MEAN_US[0] * g + STEP_MEAN_US[1] + STEP_MEAN_US[2] * p
        std = STEP_STD_US[0] * g + STEP_STD_US[1] + STEP_STD_US[2] * p
        new = np.clip(g + mean + std * rng.standard_normal(n_devices), G_RESET_S / US, G_MAX_S / US)
        before.append(g)
        steps.append(new - g)
        g = new
    b, s = np.concatenate(before) * US, np.concatenate(steps) * US
    edges = np.linspace(0.0, G_MAX_S, 13)
    which = np.clip(np.digitize(b, edges) - 1, 0, 11)
    width = int(np.bincount(which, minlength=12).max())
    samples = np.full((12, width), np.nan)
    for k in range(12):
        samples[k, : np.count_nonzero(which == k)] = s[which == k]
    return TransferCurve.from_samples(
        "pcm-step", 0.5 * (edges[1:] + edges[:-1]), samples, "S", "S", x_name="G before pulse", y_name="step",
        recipe="fallback: Monte Carlo of the published step model (Nandakumar et al. 2018)",
        extra={"n_steps": int(b.size)},
    )


def load_models(hw: Any) -> tuple[DriftLaw, StepSampler, dict[str, str]]:
    """Drift law and step sampler from ``hw.curve(...)``, or the published fallbacks; and their sources."""
    drift = None if hw is None else hw.curve("pcm-drift.json")
    step = None if hw is None else hw.curve("pcm-step.json")
    folder = getattr(hw, "curves_dir", None)
    src_d = f"curve {folder}/pcm-drift.json" if drift is not None else "fallback: published drift law nu 0.1"
    src_s = f"curve {folder}/pcm-step.json" if step is not None else "fallback: published step model (MC)"
    law = DriftLaw.from_curve(drift if drift is not None else fallback_drift_curve(), src_d)
    sampler = StepSampler(step if step is not None else fallback_step_curve(), src_s)
    return law, sampler, {"pcm-drift": src_d, "pcm-step": src_s}


# ------------------------------------------------------------------ devices and traces


class PcmPairs:
    """Differential pairs of PCM cells, state ``(G_p, t_p)`` of shape ``(2, *shape)`` (index 0: +, 1: -)."""

    def __init__(self, shape: tuple[int, ...], nu: Any, t0_s: float, t_s: float = 0.0, read_noise: bool = True):
        self.g_p = np.full((2, *shape), G_RESET_S)
        self.t_p = np.full((2, *shape), float(t_s))
        self.nu = np.broadcast_to(np.asarray(nu, dtype=float), self.g_p.shape).copy()
        self.t0_s = t0_s
        self.read_noise = read_noise

    def g(self, t_s: float) -> np.ndarray:
        """Drifted conductances at time ``t_s`` (S), no read noise."""
        return self.g_p * ((t_s - self.t_p + self.t0_s) / self.t0_s) ** (-self.nu)

    def read(self, t_s: float, rng: np.random.Generator) -> np.ndarray:
        """Read currents / V_read (S): G plus the published read noise (when ``read_noise``)."""
        g = self.g(t_s)
        if not self.read_noise:
            return g
        return g + (READ_NOISE_REL * g + READ_NOISE_ABS_S) * rng.standard_normal(g.shape)

    def reset(self, t_s: float, mask: np.ndarray | None = None) -> None:
        """RESET (all cells, or where ``mask`` of shape ``(2, *shape)`` is true) to ``G_RESET_S``."""
        m = np.ones(self.g_p.shape, bool) if mask is None else mask
        self.g_p[m] = G_RESET_S
        self.t_p[m] = t_s

    def set_pulse(self, amp: np.ndarray, t_s: float, sampler: StepSampler, rng: np.random.Generator) -> None:
        """One gradual SET of strength ``amp`` (nominal pulses, shape ``(2, *shape)``) where ``amp > 0``."""
        hit = amp > 0
        if not np.any(hit):
            return
        g = self.g(t_s)[hit]
        self.g_p[hit] = np.clip(g + amp[hit] * sampler(g, rng), G_RESET_S, G_MAX_S)
        self.t_p[hit] = t_s

    def refresh(self, t_s: float, g_refresh: float = G_REFRESH_S) -> None:
        """Pairs whose larger cell exceeds ``g_refresh``: RESET both, write the difference into one."""
        g = self.g(t_s)
        full = g.max(axis=0) > g_refresh
        if not np.any(full):
            return
        diff = (g[0] - g[1])[full]
        for side, sign in ((0, 1.0), (1, -1.0)):
            self.g_p[side][full] = G_RESET_S + np.maximum(sign * diff, 0.0)
            self.t_p[side][full] = t_s


class PcmTrace:
    """Eligibility as a PCM pair e+/e- per synapse; reads ``(G+ - G-)/g_ref``.

    The read currents ``V_read * G`` are linear in G; dividing by ``V_read *
    g_ref`` expresses the differential read in fresh-pulse units.
    """

    def __init__(self, shape: tuple[int, ...], law: DriftLaw, sampler: StepSampler, rng: np.random.Generator,
                 read_noise: bool = True):
        self.pairs = PcmPairs(shape, law.draw_nu((2, *shape), rng), law.t0_s, read_noise=read_noise)
        self.sampler, self.rng = sampler, rng
        self.g_ref = float(sampler.median(G_RESET_S))  # S, one fresh SET from RESET
        if not self.g_ref > 0:
            raise UsageError("step curve: the median step from RESET must be > 0")

    def reset(self, t_s: float) -> None:
        self.pairs.reset(t_s)

    def pulse(self, counts: np.ndarray, t_s: float) -> None:
        """``counts`` (2, *shape): SET pulses for e+ (0) and e- (1), applied one after another."""
        for k in range(int(counts.max(initial=0))):
            self.pairs.set_pulse((counts > k).astype(float), t_s, self.sampler, self.rng)

    def read(self, t_s: float) -> np.ndarray:
        g = self.pairs.read(t_s, self.rng)
        return (g[0] - g[1]) / self.g_ref


class ExpTrace:
    """Exponential trace pair: each pulse adds 1 (clipped at ``v_max``), decays with ``tau_s``; read ± noise."""

    def __init__(self, shape: tuple[int, ...], tau_s: float, rng: np.random.Generator, v_max: float = np.inf,
                 noise: float = 0.0):
        if not tau_s > 0:
            raise UsageError(f"trace time constant must be > 0 s, got {tau_s}")
        self.v = np.zeros((2, *shape))
        self.t_s, self.tau_s, self.v_max, self.noise, self.rng = 0.0, tau_s, v_max, noise, rng

    def _decay(self, t_s: float) -> None:
        self.v *= np.exp(-(t_s - self.t_s) / self.tau_s)
        self.t_s = t_s

    def reset(self, t_s: float) -> None:
        self.v[:] = 0.0
        self.t_s = t_s

    def pulse(self, counts: np.ndarray, t_s: float) -> None:
        self._decay(t_s)
        self.v = np.minimum(self.v + counts, self.v_max)

    def read(self, t_s: float) -> np.ndarray:
        self._decay(t_s)
        v = self.v + (self.noise * self.rng.standard_normal(self.v.shape) if self.noise else 0.0)
        return v[0] - v[1]


def reward_update(weights: PcmPairs, e: np.ndarray, m: float, eta: float, amp_max: float, t_s: float,
                  sampler: StepSampler, rng: np.random.Generator) -> np.ndarray:
    """Program the weight pairs from the trace read ``e`` and modulator ``m``; returns the strengths (2, ...).

    ``a = min(eta |m e|, amp_max)`` nominal pulses on ``W+`` where ``m e > 0``
    and on ``W-`` where ``m e < 0``; then pairs near saturation are refreshed.
    """
    if eta < 0 or amp_max < 0:
        raise UsageError("eta and amp_max must be >= 0")
    drive = m * np.asarray(e, dtype=float)
    a = np.minimum(eta * np.abs(drive), amp_max)
    amp = np.stack([np.where(drive > 0, a, 0.0), np.where(drive < 0, a, 0.0)])
    weights.set_pulse(amp, t_s, sampler, rng)
    weights.refresh(t_s)
    return amp


# ------------------------------------------------------------------ task and learner


@dataclass(frozen=True)
class Config:
    """The delayed-reward task, the learner and the run (defaults: the full run)."""

    n_seeds: int = 5
    delays_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 300.0)  # reward delays D, s
    table_delays_s: tuple[float, ...] = (0.5, 2.0, 30.0, 300.0)  # delays shown in the table
    n_episodes: int = 1500  # rewarded episodes (cues) per run
    final_block: int = 300  # accuracy = correct cue answers over the last this many episodes
    n_inputs: int = 20
    n_patterns: int = 4
    n_actions: int = 4
    k_active: int = 5  # inputs active in a pattern
    spikes_active: float = 2.0  # mean spikes of an active input per presentation (Poisson)
    spikes_background: float = 0.05  # mean spikes of the other inputs
    n_distractors: int = 2  # distractor presentations per episode, at uniform random times in (0, D)
    gap_s: float = 1.0  # s between the reward and the next cue
    eta: float = 0.03  # nominal weight pulses per unit of M * e
    amp_max: float = 2.0  # largest programming strength, nominal pulses
    baseline_rate: float = 0.1  # rbar <- rbar + rate (r - rbar)
    epsilon: float = 0.1  # exploration: a random action with this probability
    i_th_plus: float = 0.8  # I_x above: SET e+
    i_th_minus: float = 0.2  # I_x below: SET e-
    ideal_tau_factor: float = 1.0  # ideal trace tau = this * D
    weight_nu: float = 0.0  # drift exponent of the weight cells (published 0.04; see module docstring)


QUICK = Config(n_seeds=3, delays_s=(0.5, 10.0), table_delays_s=(0.5, 10.0), n_episodes=150, final_block=50, eta=0.1)


def _check(cfg: Config) -> None:
    if cfg.n_seeds < 1 or cfg.n_episodes < 1 or not 1 <= cfg.final_block <= cfg.n_episodes:
        raise UsageError("need n_seeds >= 1, n_episodes >= 1 and 1 <= final_block <= n_episodes")
    if not cfg.delays_s or min(cfg.delays_s) <= 0 or cfg.n_distractors < 0 or cfg.gap_s < 0:
        raise UsageError("delays must be > 0 s, gap_s >= 0 s and n_distractors >= 0")
    if not 1 <= cfg.k_active <= cfg.n_inputs or cfg.n_actions < 2 or cfg.n_patterns < 1:
        raise UsageError("need 1 <= k_active <= n_inputs, n_actions >= 2, n_patterns >= 1")
    if not set(cfg.table_delays_s) <= set(cfg.delays_s):
        raise UsageError("table_delays_s must be a subset of delays_s")


def _patterns(cfg: Config, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mean spike counts per pattern (n_patterns, n_inputs) and the correct action of each pattern."""
    rates = np.full((cfg.n_patterns, cfg.n_inputs), cfg.spikes_background)
    for p in range(cfg.n_patterns):
        rates[p, rng.choice(cfg.n_inputs, cfg.k_active, replace=False)] = cfg.spikes_active
    return rates, rng.integers(0, cfg.n_actions, cfg.n_patterns) if cfg.n_patterns > cfg.n_actions else \
        rng.permutation(cfg.n_actions)[: cfg.n_patterns]


def _make_trace(kind: str, shape: tuple[int, int], delay_s: float, cfg: Config, law: DriftLaw,
                sampler: StepSampler, rng: np.random.Generator) -> PcmTrace | ExpTrace:
    if kind == "pcm":
        return PcmTrace(shape, law, sampler, rng)
    if kind == "ideal":
        return ExpTrace(shape, cfg.ideal_tau_factor * delay_s, rng)
    if kind == "capacitor":
        dv = CAP_SWING_V / CAP_PULSES_FULL  # V per pulse: traces in pulse units
        return ExpTrace(shape, CAP_TAU_S, rng, v_max=CAP_PULSES_FULL, noise=CAP_NOISE_V / dv)
    raise UsageError(f"unknown trace {kind!r}; known: {', '.join(TRACES)}")


def run_learner(kind: str, delay_s: float, cfg: Config, law: DriftLaw, sampler: StepSampler, seed: int) -> dict:
    """One learner with trace ``kind`` on the task with reward delay ``delay_s``; returns accuracy and history.

    The task (patterns, cues, distractors, spike counts) depends on ``seed``
    and the delay only, so the three traces see the same stream.
    """
    rates, answer = _patterns(cfg, np.random.default_rng([seed, 0]))
    task = np.random.default_rng([seed, 1, round(delay_s * 1000)])
    key = [round(delay_s * 1000), TRACES.index(kind) if kind in TRACES else 99]
    dev, explore = np.random.default_rng([seed, 2, *key]), np.random.default_rng([seed, 3, *key])
    shape = (cfg.n_inputs, cfg.n_actions)
    trace = _make_trace(kind, shape, delay_s, cfg, law, sampler, dev)
    weights = PcmPairs(shape, cfg.weight_nu, law.t0_s)
    rbar, t, correct = 0.0, 0.0, np.zeros(cfg.n_episodes, bool)
    for ep in range(cfg.n_episodes):
        offsets = np.sort(task.uniform(0.0, delay_s, cfg.n_distractors))
        shown = task.integers(0, cfg.n_patterns, 1 + cfg.n_distractors)  # the cue, then the distractors
        for t_k, p in zip(np.concatenate([[0.0], offsets]) + t, shown, strict=True):
            counts = task.poisson(rates[p])
            g = weights.read(t_k, dev)
            greedy = int(np.argmax(counts @ (g[0] - g[1])))
            action = int(explore.integers(cfg.n_actions)) if explore.random() < cfg.epsilon else greedy
            i_x = np.zeros(cfg.n_actions)  # 1 - (V_th - V_mem)/V_th: winner at threshold, losers at rest
            i_x[action] = 1.0
            gate = np.stack([i_x > cfg.i_th_plus, i_x < cfg.i_th_minus])
            trace.pulse(counts[None, :, None] * gate[:, None, :], t_k)
            if t_k == t:
                correct[ep], r = greedy == answer[p], 1.0 if action == answer[p] else -1.0
        t_r = t + delay_s
        reward_update(weights, trace.read(t_r), r - rbar, cfg.eta, cfg.amp_max, t_r, sampler, dev)
        rbar += cfg.baseline_rate * (r - rbar)
        trace.reset(t_r)
        t = t_r + cfg.gap_s
    return {"accuracy": float(correct[-cfg.final_block:].mean()), "correct": correct}


# ------------------------------------------------------------------ experiment


def _key(kind: str, delay_s: float) -> str:
    return f"{kind}/accuracy/D={delay_s:g}s"


def runner(hw: Any, cfg: Config, seed: int, out_dir: Path) -> tuple[dict, list[dict], list[str]]:
    """Accuracy vs reward delay for the three traces over ``cfg.n_seeds`` seeds; PNG of accuracy and trace shapes."""
    _check(cfg)
    law, sampler, sources = load_models(hw)
    seeds = report.seed_ints(seed, cfg.n_seeds)
    acc = {k: np.array([[run_learner(k, d, cfg, law, sampler, s)["accuracy"] for s in seeds] for d in cfg.delays_s])
           for k in TRACES}
    drifting = replace(cfg, weight_nu=NU_WEIGHT)
    d_w = cfg.table_delays_s[len(cfg.table_delays_s) // 2]
    acc_w = {k: [run_learner(k, d_w, drifting, law, sampler, s)["accuracy"] for s in seeds] for k in ("pcm", "ideal")}
    metrics: dict[str, Any] = {"curves": sources, "seeds": seeds, "chance": 1.0 / cfg.n_actions}
    metrics["drift"] = {"nu": law.nu, "nu_p5": float(np.percentile(law.nu_devices, 5)),
                        "nu_p95": float(np.percentile(law.nu_devices, 95)), "n_devices": int(law.nu_devices.size),
                        "t0_s": law.t0_s, "nu_weight": cfg.weight_nu}
    metrics["step"] = {"g_ref_s": float(sampler.median(G_RESET_S)), "g_refresh_s": G_REFRESH_S}
    metrics["capacitor"] = {"cell_area_um2": CELL_AREA_UM2, "density_f_per_um2": CAP_DENSITY_F_PER_UM2,
                            "c_f": CAP_F, "swing_v": CAP_SWING_V, "leak_a": CAP_LEAK_A, "tau_s": CAP_TAU_S,
                            "ktc_noise_v": CAP_NOISE_V}
    metrics["ideal_tau_s"] = [cfg.ideal_tau_factor * d for d in cfg.delays_s]
    for k in TRACES:
        for i, d in enumerate(cfg.delays_s):
            metrics[_key(k, d)] = report.stat(acc[k][i])
    for i, d in enumerate(cfg.delays_s):
        metrics[f"pcm_minus_capacitor/D={d:g}s"] = report.stat(acc["pcm"][i] - acc["capacitor"][i])
    for k, v in acc_w.items():
        metrics[f"{k}/accuracy_weight_drift/D={d_w:g}s"] = report.stat(v)
    rows = _rows(cfg, metrics, law, d_w)
    files: list[str] = []
    _plot(cfg, metrics, law, out_dir, files)
    return metrics, rows, files


def _rows(cfg: Config, m: dict[str, Any], law: DriftLaw, d_w: float) -> list[dict]:
    dr = m["drift"]
    nu_src = f"nu {dr['nu']:.3g} fitted from " + ("pcm-drift.json" if law.source.startswith("curve") else "fallback")
    rows = []
    for k in TRACES:
        for d in cfg.table_delays_s:
            pub = {"pcm": nu_src, "capacitor": AREA_PUBLISHED, "ideal": ""}[k]
            rows.append(report.row(f"accuracy, {LABELS[k]}, D = {d:g} s", report.pct(m[_key(k, d)]), pub))
    d_long = cfg.delays_s[-1]
    rows.append(report.row(f"PCM-trace minus capacitor, D = {d_long:g} s",
                           report.pct(m[f"pcm_minus_capacitor/D={d_long:g}s"]), "PCM-trace: long traces, >10x area"))
    rows.append(report.row("PCM-trace drift exponent nu (trace cells)",
                           f"{dr['nu']:.4f} (devices p5-p95 {dr['nu_p5']:.4f}-{dr['nu_p95']:.4f})",
                           f"0.05-0.1 amorphous (choose), {NU_TRACE_FALLBACK:g} fallback; source: {law.source}"))
    c = m["capacitor"]
    rows.append(report.row("capacitor trace tau = C dV / I_leak (same area)",
                           f"{c['tau_s']:.3g} s (C {c['c_f'] * 1e15:.3g} fF, dV {c['swing_v']:g} V, "
                           f"I_leak {c['leak_a'] * 1e15:.3g} fA)", AREA_PUBLISHED))
    for k in ("pcm", "ideal"):
        rows.append(report.row(f"accuracy, {LABELS[k]}, D = {d_w:g} s, weights drifting nu_w = {NU_WEIGHT:g}",
                               report.pct(m[f"{k}/accuracy_weight_drift/D={d_w:g}s"]), "nu_w 0.04 (Nandakumar 2018)"))
    return rows


def _plot(cfg: Config, m: dict[str, Any], law: DriftLaw, out_dir: Path, files: list[str]) -> None:
    plt = report.pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5.2))
    d = np.asarray(cfg.delays_s)
    for k, style in zip(TRACES, ("o-", "s--", "^-"), strict=True):
        mean = [m[_key(k, x)]["mean"] for x in d]
        std = [m[_key(k, x)]["std"] for x in d]
        ax.errorbar(d, mean, yerr=std, fmt=style, capsize=3, label=LABELS[k])
    ax.axhline(m["chance"], color="k", lw=0.8, ls=":", label="chance")
    ax.axvline(CAP_TAU_S, color="C2", lw=0.8, ls=":", label=f"capacitor tau = {CAP_TAU_S:.2g} s")
    ax.text(0.03, 0.04, f"published: PCM-trace {AREA_PUBLISHED}\n(capacitor of the same area: tau = {CAP_TAU_S:.2g} s)",
            transform=ax.transAxes, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("reward delay D [s]")
    ax.set_ylabel(f"accuracy (last {cfg.final_block} episodes)")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{cfg.n_distractors} distractors per episode; mean ± std, {cfg.n_seeds} seeds", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    ax.grid(alpha=0.3)
    t = np.geomspace(0.05, 1000, 300)
    lo, hi = np.percentile(law.nu_devices, [5, 95])
    bx.fill_between(t, law.ratio(t, hi), law.ratio(t, lo), color="C0", alpha=0.25, label="PCM devices p5-p95")
    bx.plot(t, law.ratio(t), "C0", label=f"PCM-trace ((t+t0)/t0)^-nu, nu = {law.nu:.3g} (fit), t0 = {law.t0_s:g} s")
    for tau, color in ((10.0, "C1"), (100.0, "C4")):
        bx.plot(t, np.exp(-t / tau), "--", color=color, label=f"ideal exponential (tau = D), D = {tau:g} s")
    bx.plot(t, np.exp(-t / CAP_TAU_S), "C2", label=f"capacitor, tau = {CAP_TAU_S:.2g} s")
    bx.axvspan(1, 99, color="k", alpha=0.05, label="drift curve range")
    bx.set_xscale("log")
    bx.set_ylim(0, 1.05)
    bx.set_xlabel("time since the SET pulse [s]")
    bx.set_ylabel("trace / value after the pulse")
    bx.set_title("trace after one pulse (PCM: power law, extrapolated beyond the curve)", fontsize=9)
    bx.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    bx.grid(alpha=0.3)
    out_dir.mkdir(parents=True, exist_ok=True)
    report.save(fig, out_dir / "pcm_trace.png", files)


STUDY = register(Study(
    name="pcm-trace",
    doc="three-factor learning with PCM-drift eligibility traces vs ideal and capacitor traces, accuracy vs delay",
    runner=runner,
    config=Config(),
    quick=QUICK,
))
