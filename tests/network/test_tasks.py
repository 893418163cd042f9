"""Spiking tasks: determinism, the properties each task promises, the SHD loader."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from pycircuits.errors import FileFormatError
from pycircuits.network.tasks import (
    ECG_CLASSES,
    delay_pattern,
    delta_modulate,
    ecg_anomaly,
    ecgsyn,
    load_shd,
    mts_xor,
)

GENERATORS = {
    "mts_xor": lambda seed: mts_xor(64, seed),
    "delay_pattern": lambda seed: delay_pattern(64, 8, 4, seed),
    "ecg_anomaly": lambda seed: ecg_anomaly(16, seed, duration_s=2.0),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_task_is_deterministic_per_seed_and_differs_across_seeds(name):
    make = GENERATORS[name]
    (x0, y0), (x0b, y0b), (x1, _) = make(0), make(0), make(1)
    np.testing.assert_array_equal(x0, x0b)
    np.testing.assert_array_equal(y0, y0b)
    assert not np.array_equal(x0, x1)
    assert x0.dtype == np.float32 and x0.ndim == 3
    assert set(np.unique(x0)) <= {0.0, 1.0}
    assert y0.dtype == np.int64 and len(y0) == len(x0)


# ----------------------------------------------------------------- MTS-XOR


def test_mts_xor_rates_and_labels_follow_the_task():
    x, y = mts_xor(400, seed=3)
    assert x.shape == (400, 100, 40) and y.shape == (400, 100)
    first_high = x[:, :10, :20].mean(axis=(1, 2)) > 0.4  # 0.2 vs 0.6 per step
    rate_a = x[:, :10, :20].mean(axis=(1, 2))
    np.testing.assert_allclose(rate_a[first_high].mean(), 0.6 + 0.4 * 0.01, atol=0.01)
    np.testing.assert_allclose(rate_a[~first_high].mean(), 0.2 + 0.8 * 0.01, atol=0.01)
    # six cycles of 5 silent + 10 coding steps after step 10; only coding steps scored
    coding = np.zeros(100, dtype=bool)
    for j in range(6):
        coding[15 + 15 * j : 25 + 15 * j] = True
    np.testing.assert_array_equal(y >= 0, np.broadcast_to(coding, y.shape))
    silent_b = x[:, ~coding, 20:].mean()
    assert silent_b < 0.02  # only the 0.01 noise outside the coding windows
    second_high = x[:, 15:25, 20:].mean(axis=(1, 2)) > 0.4
    np.testing.assert_array_equal(y[:, 15], first_high ^ second_high)
    _, y_last = mts_xor(400, seed=3, per_step_labels=False)
    np.testing.assert_array_equal(y_last, y[:, 99])


# ------------------------------------------------------------ delay pattern


def test_delay_pattern_counts_are_identical_across_classes():
    x, y = delay_pattern(300, 12, 5, seed=4, spikes_per_channel=2, jitter_steps=2)
    counts = x.sum(axis=1)  # (samples, channels)
    np.testing.assert_array_equal(counts, 2.0)
    np.testing.assert_array_equal(np.bincount(y), [60] * 5)


def test_delay_pattern_classes_differ_only_by_timing_shared_across_seeds():
    kwargs = dict(jitter_steps=0, max_offset_steps=0)
    xa, ya = delay_pattern(40, 6, 4, seed=5, **kwargs)
    xb, yb = delay_pattern(40, 6, 4, seed=6, **kwargs)
    spike_time = lambda x: x.argmax(axis=1)  # noqa: E731  (one spike per channel)
    templates = {c: spike_time(xa[ya == c][:1])[0] for c in range(4)}
    for x, y in ((xa, ya), (xb, yb)):  # same templates whatever the sampling seed
        for c in range(4):
            np.testing.assert_array_equal(spike_time(x[y == c]), templates[c][None].repeat((y == c).sum(), 0))
    assert len({tuple(t) for t in templates.values()}) == 4


def test_delay_pattern_offset_shifts_the_whole_pattern():
    x, y = delay_pattern(200, 6, 3, seed=7, jitter_steps=0, max_offset_steps=20)
    t = x.argmax(axis=1)
    rel = t - t.min(axis=1, keepdims=True)
    for c in range(3):
        assert len({tuple(r) for r in rel[y == c]}) == 1  # same relative timing
    assert len(np.unique(t.min(axis=1))) > 5  # different absolute positions


# --------------------------------------------------------------------- ECG


def test_ecgsyn_r_peaks_are_one_rr_interval_apart():
    fs, rr = 500.0, 0.8  # Hz, s
    n_beats = 6
    a = np.broadcast_to([1.2, -5.0, 30.0, -7.5, 0.75], (1, n_beats, 5))
    b = np.broadcast_to([0.25, 0.1, 0.1, 0.1, 0.4], (1, n_beats, 5))
    sig = ecgsyn(a, b, np.full((1, n_beats), rr), 3.2, fs, np.array([-np.pi]), baseline_mv=0.0)[0]
    # local maxima above half the largest value are the R waves
    peaks = np.flatnonzero((sig[1:-1] > sig[:-2]) & (sig[1:-1] >= sig[2:]) & (sig[1:-1] > 0.5 * sig.max())) + 1
    np.testing.assert_allclose(np.diff(peaks) / fs, rr, atol=1.5 / fs)
    assert abs(peaks[0] / fs - rr / 2) < 0.02  # R at phase 0, half a beat after -pi
    assert 0.8 < sig.max() < 1.6  # mV


def test_delta_modulation_reconstructs_the_signal_within_one_threshold():
    t = np.linspace(0, 1, 1000)
    sig = np.stack([np.sin(2 * np.pi * 2 * t), 0.5 * np.cos(2 * np.pi * 3 * t)])
    thr = np.array([0.05, 0.2])
    spikes = delta_modulate(sig, thr, bin_size=1)
    assert spikes.shape == (2, 1000, 4)
    for level, step in enumerate(thr):
        up, down = spikes[..., 2 * level], spikes[..., 2 * level + 1]
        recon = sig[:, :1] + step * np.cumsum(up - down, axis=1)
        assert np.max(np.abs(recon - sig)) <= step + 1e-12


def test_ecg_anomaly_shapes_and_labels():
    kwargs = dict(duration_s=2.0, dt=0.01, thresholds_mv=(0.05, 0.2, 0.4))
    x, y = ecg_anomaly(200, seed=8, **kwargs)
    assert x.shape == (200, 200, 6)  # 2 s / 10 ms, up/down per threshold
    assert 0.35 < y.mean() < 0.65
    _, kind = ecg_anomaly(200, seed=8, multiclass=True, **kwargs)
    np.testing.assert_array_equal(kind > 0, y == 1)
    assert set(np.unique(kind)) == set(range(len(ECG_CLASSES)))


def _one_record(a_scale=None, b_scale=None, rr_scale=None):
    """Normal 75 bpm record; beat 2 (R at 2.0 s) altered by the scales.

    rr_scale multiplies the R-R intervals that end and start at that beat.
    """
    n_beats = 6
    a = np.tile([1.2, -5.0, 30.0, -7.5, 0.75], (1, n_beats, 1))
    b = np.tile([0.25, 0.1, 0.1, 0.1, 0.4], (1, n_beats, 1))
    rr = np.full((1, n_beats), 0.8)
    if a_scale is not None:
        a[0, 2] *= a_scale
    if b_scale is not None:
        b[0, 2] *= b_scale
    if rr_scale is not None:
        rr[0, 1:3] *= rr_scale
    return ecgsyn(a, b, rr, 3.2, 500.0, np.array([-np.pi]), baseline_mv=0.0)[0]


def test_ecg_abnormal_beats_have_their_clinical_signature():
    normal = _one_record()
    beat = slice(int(1.6 * 500), int(2.4 * 500))  # third beat, 1.6-2.4 s
    t_wave = slice(int((1.6 + 0.4 + 0.22) * 500), int((1.6 + 0.4 + 0.35) * 500))
    inverted = _one_record(a_scale=[1, 1, 1, 1, -1])
    assert normal[t_wave].max() > 0.2 and inverted[t_wave].min() < -0.2  # mV
    wide = _one_record(a_scale=[1, 1 / 4, 1 / 4, 1 / 4, 1], b_scale=[1, 2, 2, 2, 1])

    def r_width(sig):  # samples above half the R peak
        seg = sig[beat]
        return np.count_nonzero(seg > 0.5 * seg.max())

    assert r_width(wide) > 1.6 * r_width(normal)
    early = _one_record(rr_scale=[0.6, 1.4])

    def r_peaks(sig):  # s
        top = (sig[1:-1] > sig[:-2]) & (sig[1:-1] >= sig[2:]) & (sig[1:-1] > 0.7)
        return (np.flatnonzero(top) + 1) / 500

    np.testing.assert_allclose(np.diff(r_peaks(normal)), 0.8, atol=0.004)
    np.testing.assert_allclose(np.diff(r_peaks(early)), [0.8, 0.48, 1.12], atol=0.004)


# --------------------------------------------------------------------- SHD


def write_shd(path, times, units, labels):
    with h5py.File(path, "w") as f:
        vt = h5py.vlen_dtype(np.dtype("float16"))
        vu = h5py.vlen_dtype(np.dtype("uint16"))
        f.create_dataset("spikes/times", data=np.array(times, dtype=object), dtype=vt)
        f.create_dataset("spikes/units", data=np.array(units, dtype=object), dtype=vu)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))


def test_load_shd_bins_spikes_into_time_and_channels(tmp_path):
    path = tmp_path / "tiny_shd.h5"
    times = [np.array([0.0, 0.0125, 0.5, 1.2]), np.array([0.999]), np.array([])]
    units = [np.array([0, 699, 350, 3]), np.array([10]), np.array([])]
    write_shd(path, times, units, [3, 19, 0])
    x, y = load_shd(path, max_time_s=1.0, dt=0.01)
    assert x.shape == (3, 100, 700) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [3, 19, 0])
    expected = np.zeros_like(x)
    expected[0, 0, 0] = expected[0, 1, 699] = expected[0, 50, 350] = 1  # 1.2 s is dropped
    expected[1, 99, 10] = 1
    np.testing.assert_array_equal(x, expected)
    pooled, _ = load_shd(path, max_time_s=1.0, dt=0.01, n_channels=70)
    assert pooled.shape == (3, 100, 70)
    assert pooled[0, 1, 69] == 1 and pooled[0, 50, 35] == 1 and pooled[1, 99, 1] == 1
    assert pooled.sum() == 4
    first, _ = load_shd(path, max_samples=1)
    assert first.shape[0] == 1


def test_load_shd_refuses_a_file_without_the_shd_groups(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=np.zeros(2, dtype=np.uint8))
    with pytest.raises(FileFormatError):
        load_shd(path)


# ------------------------------------------------------------------ handwritten digits


def test_the_handwritten_digits_are_the_1797_of_sklearn():
    from pycircuits.network.tasks import DIGITS_SAMPLES, load_digits
    x, y = load_digits()
    assert x.shape == (DIGITS_SAMPLES, 64) == (1797, 64) and y.shape == (1797,)
    assert sorted(set(y.tolist())) == list(range(10))
    assert np.bincount(y).min() >= 170  # 174..183 of each digit
    assert x.min() == -1.0 and x.max() == 1.0  # 0..16 grey levels on [-1, 1]
    assert len(np.unique(x)) == 17


def test_digit_splits_are_deterministic_disjoint_and_refuse_too_many():
    from pycircuits.errors import UsageError
    from pycircuits.network.tasks import digits_task, load_digits
    a, b, c = digits_task(3, 1437, 360), digits_task(3, 1437, 360), digits_task(4, 1437, 360)
    for u, v in zip(a, b, strict=True):
        assert np.array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    x_all, _ = load_digits()
    rows = {r.tobytes(): i for i, r in enumerate(x_all)}
    train = {rows[r.tobytes()] for r in a[0]}
    test = {rows[r.tobytes()] for r in a[2]}
    # the UCI set holds a few identical images; apart from those the two sets share no sample
    assert len(train) >= 1400 and len(test) >= 350 and len(train & test) <= 5
    with pytest.raises(UsageError, match="1797 samples"):
        digits_task(0, 1500, 400)
    with pytest.raises(UsageError, match="glyphs"):
        digits_task(0, 10, 10, source="mnist")


def test_glyph_digits_remain_for_tiny_tasks():
    from pycircuits.network.tasks import digits_task
    xtr, ytr, xte, yte, perm = digits_task(0, 5000, 20, source="glyphs")
    assert xtr.shape == (5000, 64) and set(ytr.tolist()) == set(range(10)) and xte.shape == (20, 64)
    assert sorted(perm) == list(range(64))


def test_without_sklearn_the_digits_name_the_extra(tmp_path):
    import subprocess
    import sys
    (tmp_path / "sklearn").mkdir()
    (tmp_path / "sklearn" / "__init__.py").write_text("raise ImportError('not installed')\n")
    code = "from pycircuits.network.tasks import load_digits; load_digits()"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert "pip install 'pycircuits[studies]'" in r.stderr
    r = subprocess.run([sys.executable, "-m", "pycircuits", "network", "run", "crossbar", "--quick", "-o",
                        str(tmp_path / "x")], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["pycircuits: error: the handwritten digits come with scikit-learn: "
                                             "pip install 'pycircuits[studies]'"]
