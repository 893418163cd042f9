"""Benchmark tasks, generated offline and deterministic per seed.

Every spiking generator returns ``(X, y)``: ``X`` spikes of shape (n_samples,
time, channels), float32 in {0, 1}, and ``y`` integer labels (int64).  The
same seed gives the same arrays; different seeds give different samples.
:func:`digits_task` gives analog 8x8 digits for the non-spiking studies.
"""

from __future__ import annotations

from os import PathLike

import h5py
import numpy as np

from pycircuits.errors import FileFormatError, ParameterError, UsageError

__all__ = [
    "ECG_CLASSES",
    "delay_pattern",
    "delta_modulate",
    "ecg_anomaly",
    "ecgsyn",
    "load_shd",
    "mts_xor",
]


MTS_DT_S = 0.01  # s, MTS-XOR step *(published)*


def _positive_int(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --------------------------------------------------------------------- MTS-XOR


def mts_xor(
    n_samples: int,
    seed: int,
    *,
    n_per_group: int = 20,
    rates: tuple[float, float] = (0.2, 0.6),
    noise_rate: float = 0.01,
    n_steps: int = 100,
    start_steps: int = 10,
    remain_steps: int = 5,
    coding_steps: int = 10,
    per_step_labels: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-time-scale XOR (DH-SNN task, as used by arXiv 2407.18838).

    Interpretation (from the temporal-hierarchy authors' generator): one
    step is dt = 10 ms, 100 steps = 1 s.  Rates are spike probabilities per
    step (0.2 / 0.6 per 10 ms = 20 / 60 Hz); every channel also carries
    Bernoulli noise of ``noise_rate`` per step (1 Hz).

    - Group A (channels 0..19) shows signal 1, low or high rate, during
      steps [0, start_steps).
    - Group B (channels 20..39) then shows a sequence of signals 2: cycle j
      is ``remain_steps`` of silence followed by ``coding_steps`` at a fresh
      random low or high rate; (n_steps - start_steps) // (remain + coding)
      cycles fit (6 with the defaults).
    - The label of cycle j is XOR(signal 1 is high, signal 2_j is high): the
      network must hold signal 1 for up to ~1 s (slow) while judging each
      short signal 2 (fast).

    With ``per_step_labels`` (the authors' protocol) ``y`` is (n_samples,
    n_steps) with the cycle's label on its coding steps and -1 (ignored)
    elsewhere; otherwise ``y`` is (n_samples,) holding the last cycle's label.
    X: (n_samples, n_steps, 2 * n_per_group).
    """
    n_samples, n_steps = _positive_int("n_samples", n_samples), _positive_int("n_steps", n_steps)
    period = remain_steps + coding_steps
    n_cycles = (n_steps - start_steps) // period
    if n_cycles < 1:
        raise ParameterError("n_steps leaves no room for a second signal")
    rng = np.random.default_rng(seed)
    rates_arr = np.asarray(rates, dtype=np.float64)
    x = rng.random((n_samples, n_steps, 2 * n_per_group)) < noise_rate
    first = rng.integers(0, 2, n_samples)
    second = rng.integers(0, 2, (n_samples, n_cycles))
    # rate of every (sample, step, group): zero where the group is silent
    rate = np.zeros((n_samples, n_steps, 2))
    rate[:, :start_steps, 0] = rates_arr[first][:, None]
    cycle_of_step = np.full(n_steps, -1)
    for j in range(n_cycles):
        on = start_steps + j * period + remain_steps
        cycle_of_step[on : on + coding_steps] = j
    coding = cycle_of_step >= 0
    rate[:, coding, 1] = rates_arr[second[:, cycle_of_step[coding]]]
    rate = np.repeat(rate, n_per_group, axis=2)
    x |= rng.random(x.shape) < rate
    labels = first[:, None] ^ second  # (n_samples, n_cycles)
    if per_step_labels:
        y = np.full((n_samples, n_steps), -1, dtype=np.int64)
        y[:, coding] = labels[:, cycle_of_step[coding]]
    else:
        y = labels[:, -1].astype(np.int64)
    return x.astype(np.float32), y


# ------------------------------------------------------------- delay pattern


def delay_pattern(
    n_samples: int,
    n_channels: int,
    n_classes: int,
    seed: int,
    *,
    pattern_seed: int = 0,
    n_steps: int = 100,
    pattern_steps: int = 40,
    max_offset_steps: int = 20,
    jitter_steps: int = 1,
    spikes_per_channel: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Spatio-temporal patterns that differ only in relative spike timing.

    Each class is a template: every channel fires exactly
    ``spikes_per_channel`` spikes at class-specific times within
    ``pattern_steps``.  Spike counts per channel are therefore identical in
    every sample of every class; only the timing across channels carries
    the class, which delays can align into a coincidence.  A sample is its
    class template shifted by a random global offset in
    [0, max_offset_steps] plus an independent integer jitter in
    [-jitter_steps, jitter_steps] per spike.  Template slots are
    2*jitter_steps + 1 wide so jitter never merges two spikes of a channel.

    ``pattern_seed`` fixes the templates (use the same value for a train and
    a test set); ``seed`` draws labels, offsets and jitter.  Labels are
    balanced.  X: (n_samples, n_steps, n_channels); y: (n_samples,).
    """
    n_samples = _positive_int("n_samples", n_samples)
    width = 2 * jitter_steps + 1
    n_slots = pattern_steps // width
    if spikes_per_channel > n_slots:
        raise ParameterError("pattern_steps too short for spikes_per_channel at this jitter")
    if pattern_steps + max_offset_steps > n_steps:
        raise ParameterError("n_steps must be >= pattern_steps + max_offset_steps")
    tpl_rng = np.random.default_rng(pattern_seed)
    # random distinct slots per (class, channel): first m of a random order
    slots = np.argsort(tpl_rng.random((n_classes, n_channels, n_slots)), axis=-1)
    templates = np.sort(slots[..., :spikes_per_channel], axis=-1) * width + jitter_steps

    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_samples) % n_classes).astype(np.int64)
    offset = rng.integers(0, max_offset_steps + 1, n_samples)
    jitter = rng.integers(-jitter_steps, jitter_steps + 1, (n_samples, n_channels, spikes_per_channel))
    times = templates[y] + offset[:, None, None] + jitter
    x = np.zeros((n_samples, n_steps, n_channels), dtype=np.float32)
    s_idx = np.arange(n_samples)[:, None, None]
    c_idx = np.arange(n_channels)[None, :, None]
    x[s_idx, times, c_idx] = 1.0
    return x, y


# ------------------------------------------------------------------------ ECG

# ECGSYN (McSharry et al., IEEE TBME 2003) P, Q, R, S, T waves: angle on the
# limit cycle (rad), amplitude and width (rad) of each Gaussian.
_ECG_THETA = np.deg2rad([-70.0, -15.0, 0.0, 15.0, 100.0])
_ECG_A = np.array([1.2, -5.0, 30.0, -7.5, 0.75])
_ECG_B = np.array([0.25, 0.1, 0.1, 0.1, 0.4])
_ECG_GAIN_MV = 27.0  # z -> mV, so a normal R wave peaks near 1.2 mV

ECG_CLASSES = ("normal", "wide_qrs", "inverted_t", "premature")


def ecgsyn(
    a: np.ndarray,
    b: np.ndarray,
    rr_s: np.ndarray,
    duration_s: float,
    fs_hz: float,
    phase0: np.ndarray,
    resp_hz: float = 0.25,
    baseline_mv: float = 0.15,
) -> np.ndarray:
    """Integrate the ECGSYN model for a batch of records; returns mV.

    a, b: (S, n_beats, 5) amplitudes and widths (rad) of the P, Q, R, S, T
    Gaussians of every beat; rr_s: (S, n_beats) R-to-R intervals, s (entry k
    runs from R peak k to R peak k+1); phase0: (S,) initial phase, rad, in
    [-pi, 0) so that the first R peak is beat 0.  Output (S,
    round(duration_s * fs_hz)) in mV.

    ECGSYN (McSharry et al. 2003) moves a point round the unit circle at
    omega = 2 pi / RR and drives
    dz/dt = -sum_i a_i dtheta_i exp(-dtheta_i^2 / 2 b_i^2) - (z - z0(t)),
    z0 = respiratory baseline wander.  Started on the circle the radius
    stays 1, so we integrate the unwrapped phase phi and z directly (RK4,
    step 1/fs_hz).  R peak k sits at phi = 2 pi k; the waves of beat k are
    those with phi in [2 pi k - pi, 2 pi k + pi), while omega changes at
    the R peaks so that ``rr_s`` are true R-R intervals.

    One change to the published equation: the wave term is multiplied by
    omega / (2 pi rad/s).  Unscaled, a wave's amplitude grows with RR and
    an abrupt RR change (a premature beat) in the middle of the R wave
    leaves a baseline step; ecgsyn.m hides both with a smooth RR
    tachogram and a per-record min-max rescale, which would also rescale
    the anomalies we want to keep.  At 60 bpm the two forms agree.
    """
    n_rec, n_beats = rr_s.shape
    h = 1.0 / fs_hz
    n_out = int(round(duration_s * fs_hz))
    rows = np.arange(n_rec)
    amp0 = baseline_mv / _ECG_GAIN_MV

    def index(phi: np.ndarray, shift: float) -> np.ndarray:
        k = np.floor((phi + shift) / (2 * np.pi)).astype(np.int64)
        return np.clip(k, 0, n_beats - 1)

    def deriv(t: float, phi: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        omega = 2 * np.pi / rr_s[rows, index(phi, 0.0)]
        beat = index(phi, np.pi)
        dth = (phi[:, None] - _ECG_THETA + np.pi) % (2 * np.pi) - np.pi
        ai, bi = a[rows, beat], b[rows, beat]
        drive = -np.sum(ai * dth * np.exp(-(dth**2) / (2 * bi**2)), axis=1)
        # omega / (2 pi rad/s) makes each wave a function of phase only
        # (see docstring)
        wave = omega / (2 * np.pi) * drive
        return omega, wave - (z - amp0 * np.sin(2 * np.pi * resp_hz * t))

    phi = phase0.astype(np.float64).copy()
    z = np.zeros(n_rec)
    out = np.empty((n_rec, n_out))
    for n in range(n_out):
        t = n * h
        out[:, n] = z
        k1 = deriv(t, phi, z)
        k2 = deriv(t + h / 2, phi + h / 2 * k1[0], z + h / 2 * k1[1])
        k3 = deriv(t + h / 2, phi + h / 2 * k2[0], z + h / 2 * k2[1])
        k4 = deriv(t + h, phi + h * k3[0], z + h * k3[1])
        phi = phi + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        z = z + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return out * _ECG_GAIN_MV


def delta_modulate(signal: np.ndarray, thresholds: np.ndarray, bin_size: int) -> np.ndarray:
    """Delta-modulate signals into up/down spike channels, binned in time.

    signal: (S, N) samples; thresholds: (L,) step sizes in the signal's unit.
    Per level a reference tracks the signal in steps of the threshold: every
    step up emits an "up" event, every step down a "down" event.  Events are
    counted in bins of ``bin_size`` samples and clipped to one spike per bin.
    Returns (S, N // bin_size, 2L) float32, channels [up_0, down_0, up_1, ...].
    """
    thr = np.asarray(thresholds, dtype=np.float64)
    n_rec, n_samp = signal.shape
    ref = np.repeat(signal[:, :1], thr.size, axis=1)
    events = np.zeros((n_rec, n_samp, thr.size, 2), dtype=np.int64)
    for n in range(1, n_samp):
        diff = signal[:, n, None] - ref
        steps = np.trunc(diff / thr).astype(np.int64)
        ref += steps * thr
        events[:, n, :, 0] = np.maximum(steps, 0)
        events[:, n, :, 1] = np.maximum(-steps, 0)
    n_bins = n_samp // bin_size
    binned = events[:, : n_bins * bin_size].reshape(n_rec, n_bins, bin_size, 2 * thr.size).sum(2)
    return np.minimum(binned, 1).astype(np.float32)


def _ecg_beat_params(
    rng: np.random.Generator, kind: np.ndarray, n_beats: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-beat a, b, RR for records of anomaly ``kind`` (index in ECG_CLASSES)."""
    n_rec = kind.size
    rr_mean = 60.0 / rng.uniform(60.0, 90.0, n_rec)  # s
    rr = rr_mean[:, None] * (1 + 0.03 * rng.standard_normal((n_rec, n_beats)))
    a = np.broadcast_to(_ECG_A, (n_rec, n_beats, 5)) * (1 + 0.05 * rng.standard_normal((n_rec, 1, 5)))
    b = np.broadcast_to(_ECG_B, (n_rec, n_beats, 5)).copy()
    # the abnormal beat is the 2nd or 3rd, which lie inside the window
    odd = rng.integers(1, 3, n_rec)
    rows = np.arange(n_rec)
    qrs = slice(1, 4)
    wide = rows[kind == 1]
    factor = 2.0  # QRS 2x wider, amplitude kept (z peak ~ a b^2)
    b[wide, odd[wide], qrs] *= factor
    a[wide, odd[wide], qrs] /= factor**2
    inv = rows[kind == 2]
    a[inv, odd[inv], 4] *= -1.0
    pre = rows[kind == 3]
    rr[pre, odd[pre] - 1] *= 0.6  # the R wave arrives early ...
    rr[pre, odd[pre]] *= 1.4  # ... then a full compensatory pause (sum 2 RR)
    return a, b, rr


def ecg_anomaly(
    n_samples: int,
    seed: int,
    *,
    duration_s: float = 3.0,
    dt: float = 0.01,
    fs_hz: float = 500.0,
    thresholds_mv: tuple[float, ...] = (0.05, 0.2),
    anomaly_fraction: float = 0.5,
    noise_mv: float = 0.01,
    multiclass: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic ECG records with or without an abnormal beat, as spikes.

    Records of ``duration_s`` (3 s: 3-4 beats at 60-90 bpm) come from the
    ECGSYN dynamical model (:func:`ecgsyn`) with a random heart rate, a 3 %
    beat-to-beat RR jitter, 5 % wave amplitude spread per record, a random
    start phase, respiratory baseline wander and Gaussian noise of
    ``noise_mv``.  An anomalous record has one abnormal beat (the 2nd or
    3rd): ``wide_qrs`` (Q, R, S twice as wide), ``inverted_t`` (T wave
    negated) or ``premature`` (R-R interval before it 60 % of normal, then a
    140 % compensatory pause).  Each record is delta-modulated at ``fs_hz`` with
    every threshold in ``thresholds_mv`` into up/down channels and binned
    to ``dt`` s.  X: (n_samples, duration_s/dt, 2 * len(thresholds_mv)).
    y: 0 normal / 1 anomalous, or with ``multiclass`` the index in
    :data:`ECG_CLASSES`.
    """
    n_samples = _positive_int("n_samples", n_samples)
    bin_size = int(round(dt * fs_hz))
    if bin_size < 1 or abs(bin_size - dt * fs_hz) > 1e-9:
        raise ParameterError("dt must be a whole number of 1/fs_hz samples")
    rng = np.random.default_rng(seed)
    abnormal = rng.random(n_samples) < anomaly_fraction
    kind = np.where(abnormal, rng.integers(1, len(ECG_CLASSES), n_samples), 0)
    n_beats = int(np.ceil(duration_s / 0.5)) + 2  # covers >= 120 bpm
    a, b, rr = _ecg_beat_params(rng, kind, n_beats)
    phase0 = rng.uniform(-np.pi, -np.pi / 2, n_samples)  # start before the P wave
    sig = ecgsyn(a, b, rr, duration_s, fs_hz, phase0)
    sig += noise_mv * rng.standard_normal(sig.shape)
    x = delta_modulate(sig, np.asarray(thresholds_mv), bin_size)
    y = kind if multiclass else abnormal.astype(np.int64)
    return x, y.astype(np.int64)


# ------------------------------------------------------------------------ SHD

_SHD_UNITS = 700  # cochlea-model channels of the Spiking Heidelberg Digits


def load_shd(
    path: str | PathLike[str],
    max_time_s: float = 1.0,
    dt: float = 0.01,
    n_channels: int = 700,
    *,
    max_samples: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Spiking Heidelberg Digits (HDF5) binned into spike tensors.

    The file holds ``spikes/times`` (per sample, s), ``spikes/units`` (per
    sample, 0..699) and ``labels``.  Spikes at or after ``max_time_s`` are
    dropped; bins are ``dt`` s wide, so X is (n, round(max_time_s/dt),
    n_channels), float32, 1 where at least one spike fell in the bin.  With
    ``n_channels < 700`` adjacent units are pooled (unit * n_channels // 700).
    Memory: 8156 training digits at 1 s / 10 ms / 700 channels take 2.3 GB;
    pool channels or use ``max_samples`` for less.
    """
    n_steps = int(round(max_time_s / dt))
    if not 1 <= n_channels <= _SHD_UNITS or n_steps < 1:
        raise ParameterError("need 1 <= n_channels <= 700 and max_time_s >= dt")
    try:
        with h5py.File(path, "r") as f:
            sl = slice(None, max_samples)
            times, units = f["spikes/times"][sl], f["spikes/units"][sl]
            labels = np.asarray(f["labels"][sl], dtype=np.int64)
    except (OSError, KeyError) as err:
        raise FileFormatError(f"{path}: not an SHD file ({err})") from err
    counts = np.fromiter(map(len, times), dtype=np.int64, count=len(times))
    if counts.size != labels.size or np.any(counts != np.fromiter(map(len, units), np.int64)):
        raise FileFormatError(f"{path}: spikes/times and spikes/units do not match")
    t_all = np.concatenate([*times, np.zeros(0)]).astype(np.float64)
    u_all = np.concatenate([*units, np.zeros(0, np.int64)]).astype(np.int64)
    if u_all.size and (u_all.min() < 0 or u_all.max() >= _SHD_UNITS):
        raise FileFormatError(f"{path}: unit index outside 0..699")
    s_all = np.repeat(np.arange(labels.size), counts)
    bins = np.floor(t_all / dt).astype(np.int64)
    keep = (t_all >= 0) & (t_all < max_time_s) & (bins < n_steps)
    x = np.zeros((labels.size, n_steps, n_channels), dtype=np.float32)
    x[s_all[keep], bins[keep], u_all[keep] * n_channels // _SHD_UNITS] = 1.0
    return x, labels


# ------------------------------------------------------------------ 8x8 digits

# Ten 8x8 digit glyphs (X = ink) that the synthetic digits are drawn from.
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


DIGITS_SAMPLES = 1797  # sklearn's load_digits: the UCI handwritten digits' test part, 8x8, 16 grey levels
DIGIT_SOURCES = ("sklearn", "glyphs")
STUDIES_EXTRA = "pip install 'pycircuits[studies]'"


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 real handwritten 8x8 digits that scikit-learn ships in its wheel (no download).

    Returns (x, y): x (1797, 64) float64, ink 0..16 scaled to [-1, 1]; y (1797,) int labels 0..9.
    Without scikit-learn: :class:`UsageError` naming the extra to install.
    """
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError:
        raise UsageError(f"the handwritten digits come with scikit-learn: {STUDIES_EXTRA}") from None
    d = _load()
    return d.data / 8.0 - 1.0, d.target.astype(int)


def _glyph_digits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic digits: the ten glyphs shifted by -1..1 pixel, dimmed, 3 % pixel flips, noise."""
    g = _glyphs()
    y = rng.integers(0, 10, n)
    img = g[y].copy()
    sx, sy = rng.integers(-1, 2, n), rng.integers(-1, 2, n)
    for i in range(n):
        img[i] = np.roll(np.roll(img[i], sy[i], axis=0), sx[i], axis=1)
    img *= rng.uniform(0.6, 1.0, (n, 1, 1))
    img = np.where(rng.random(img.shape) < 0.03, 1.0 - img, img)  # pixel flips
    img += 0.2 * rng.standard_normal(img.shape)
    return 2.0 * img.reshape(n, 64) - 1.0, y


def digits_task(seed: int, n_train: int, n_test: int, source: str = "sklearn") -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test, perm): 64-pixel digits, inputs in ~[-1, 1]; ``perm`` gives task B.

    ``source="sklearn"``: the real handwritten digits (:func:`load_digits`),
    split by a permutation drawn from ``seed`` into disjoint train and test
    sets (``n_train + n_test <= 1797``).  ``source="glyphs"``: synthetic
    digits drawn from ten glyphs, as many as asked, for tests that need a
    tiny task without scikit-learn.  ``perm`` is a fixed pixel permutation
    drawn from ``seed`` (the permuted-digits task B).
    """
    _positive_int("n_train", n_train)
    _positive_int("n_test", n_test)
    rng = np.random.default_rng(seed)
    if source == "sklearn":
        if n_train + n_test > DIGITS_SAMPLES:
            raise UsageError(f"the handwritten digits are {DIGITS_SAMPLES} samples: n_train + n_test = "
                             f"{n_train + n_test} is more")
        x_all, y_all = load_digits()
        order = rng.permutation(DIGITS_SAMPLES)
        tr, te = order[:n_train], order[n_train:n_train + n_test]
        xtr, ytr, xte, yte = x_all[tr], y_all[tr], x_all[te], y_all[te]
    elif source == "glyphs":
        xtr, ytr = _glyph_digits(rng, n_train)
        xte, yte = _glyph_digits(rng, n_test)
    else:
        raise UsageError(f"digits source {source!r}: choose from {', '.join(DIGIT_SOURCES)}")
    perm = rng.permutation(64)
    return xtr, ytr, xte, yte, perm
