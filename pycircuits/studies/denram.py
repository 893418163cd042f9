"""``denram`` study: DenRAM dendritic delays and RRAM weights against ideal networks and a recurrent SNN.

RRAM delays (the ``denram-delay`` curve) and weights (16 levels with the
programming spread) on ``delay_pattern`` and the ECG task, with forward
weight noise k = 0 / 0.1 / 0.2, against ideal software and a recurrent SNN
with the same number of weights; energy per inference from the
``denram-energy`` curve beside a digital SNN's synaptic operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.network.hardware import DENRAM_DT_S, DENRAM_MAX_DELAY_S, HardwareModel, chip_rng, chip_seeds
from pycircuits.network.interchange import save_study_networks
from pycircuits.network.layers import DelayedDense, Dense, LeakyIntegrator, RecurrentLIF
from pycircuits.network.tasks import delay_pattern, ecg_anomaly
from pycircuits.network.training import Sequential, evaluate, train

from .registry import Study, register
from .report import Row
from .report import pct as _pct
from .report import pyplot as _pyplot
from .report import row as _row
from .report import save as _save
from .report import sci as _sci
from .report import seed_ints as _seed_ints
from .report import stat as _stat

DENRAM_TAU_S = 0.02  # s, DenRAM soma time constant *(published)*
DENRAM_TAPS = 16  # delays per input channel *(published)*
DENRAM_NOISE = (0.0, 0.1, 0.2)  # forward weight noise k *(published protocol)*
DENRAM_SHD = {0.0: 0.90, 0.1: 0.87, 0.2: 0.78}  # SHD accuracy at k *(published)*
# Energy of one synaptic operation of the comparison SNN: Loihi's synaptic
# spike op, 23.6 pJ (Davies et al., IEEE Micro 2018) -- a digital
# neuromorphic reference point, not a 130 nm analog number.
SNN_E_SYNOP_J = 23.6e-12
FLOAT_BITS = 32  # bits per weight of the software SNN
MTS_DT_S = 0.01  # s, MTS-XOR step *(published)*
ECG_FS_HZ = 400.0  # Hz, ECG sampling: a whole number of samples per 5 ms bin

# ------------------------------------------------------------------ DenRAM


@dataclass(frozen=True)
class _DenramConfig:
    n_channels: int = 6  # delay_pattern channels
    n_classes: int = 20
    jitter_steps: int = 3
    n_train: int = 1024
    n_test: int = 512
    epochs: int = 20
    ecg_train: int = 512
    ecg_test: int = 256
    ecg_epochs: int = 15
    n_chips: int = 5
    snn_tau_s: float = 0.1  # hidden LIF tau of the comparison SNN (choose)
    lr: float = 0.01
    batch_size: int = 32


_DENRAM_QUICK = _DenramConfig(n_train=160, n_test=80, epochs=3, ecg_train=64, ecg_test=48, ecg_epochs=2, n_chips=2)


def _denram_model(n_in: int, n_out: int, delays: np.ndarray, k: float, init_seed: int) -> Sequential:
    """DenRAM: 16 fixed delays per input -> weights -> clipped leaky soma, max readout."""
    return Sequential(
        [
            DelayedDense(n_in, n_out, delays, rng=init_seed, init_scale=0.1, weight_noise=k),
            LeakyIntegrator(n_out, DENRAM_TAU_S, DENRAM_DT_S, clip_nonneg=True, readout="max"),
        ]
    )


def _snn_hidden(n_in: int, n_out: int, n_params: int) -> int:
    """Hidden size of a recurrent SNN whose weight count is closest to ``n_params``."""
    h = np.arange(1, 512)
    return int(h[np.argmin(np.abs(n_in * h + h * (h - 1) + h * n_out - n_params))])


def _snn_model(n_in: int, n_hidden: int, n_out: int, tau_s: float, init_seed: int) -> Sequential:
    """Recurrent LIF layer -> dense readout -> leaky integrator, max over time."""
    return Sequential(
        [
            RecurrentLIF(n_in, n_hidden, tau_s, DENRAM_DT_S, rng=init_seed, init_scale_in=1.0),
            Dense(n_hidden, n_out, rng=init_seed + 1),
            LeakyIntegrator(n_out, DENRAM_TAU_S, DENRAM_DT_S, readout="max"),
        ]
    )


def _n_weights(model: Sequential) -> int:
    n = 0
    for layer in model.layers:
        for name, p in layer.params.items():
            if name.startswith("W"):
                n += p.size - (layer.n if name == "W_rec" else 0)  # the zero diagonal is no device
    return n


def _pad(x: np.ndarray, steps: int) -> np.ndarray:
    # late arrivals (up to the longest delay) must still reach the soma
    return np.pad(x, ((0, 0), (0, steps), (0, 0)))


def _denram_task(cfg: _DenramConfig, task: str, seeds: list[int], max_delay_s: float) -> tuple[np.ndarray, ...]:
    pad = int(np.ceil(max_delay_s / DENRAM_DT_S - 1e-9))
    if task == "pattern":
        kw = {"jitter_steps": cfg.jitter_steps, "pattern_seed": seeds[0]}
        x, y = delay_pattern(cfg.n_train, cfg.n_channels, cfg.n_classes, seeds[1], **kw)
        xt, yt = delay_pattern(cfg.n_test, cfg.n_channels, cfg.n_classes, seeds[2], **kw)
    else:
        x, y = ecg_anomaly(cfg.ecg_train, seeds[3], dt=DENRAM_DT_S, fs_hz=ECG_FS_HZ)
        xt, yt = ecg_anomaly(cfg.ecg_test, seeds[4], dt=DENRAM_DT_S, fs_hz=ECG_FS_HZ)
    return _pad(x, pad), y, _pad(xt, pad), yt


def _denram_task_runs(
    cfg: _DenramConfig,
    hw: HardwareModel,
    task: str,
    data: tuple[np.ndarray, ...],
    chips: list[np.random.SeedSequence],
    train_seed: int,
    keep: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Per chip: draw its delays, train at each noise k, evaluate ideal and on the chip.

    ``keep`` receives the first chip's network trained at k = 0 (``"model"``) and that chip (``"chip"``).
    """
    x, y, xt, yt = data
    n_in, n_out = x.shape[2], int(max(y.max(), yt.max())) + 1
    epochs = cfg.epochs if task == "pattern" else cfg.ecg_epochs
    # the chip's own delays are trained for (DenRAM: they are read out once),
    # so only weights and the soma's tau are mapped
    hw_chip = hw.replace(delay_curve=None)
    out: dict[str, list[float]] = {}
    task_key = 100 + ("pattern", "ecg").index(task)
    for c, chip in enumerate(chips):
        delays = hw.draw_delays((n_in, DENRAM_TAPS), DENRAM_DT_S, chip_rng(chip, task_key))
        for k in DENRAM_NOISE:
            model = _denram_model(n_in, n_out, delays, k, init_seed=train_seed + c)
            train(model, x, y, epochs, cfg.batch_size, cfg.lr, rng=train_seed + c)
            out.setdefault(f"ideal/k={k:g}", []).append(evaluate(model, xt, yt))
            acc = hw_chip.replace(weight_noise=k).evaluate(model, xt, yt, [chip], DENRAM_DT_S)
            out.setdefault(f"hardware/k={k:g}", []).append(float(acc[0]))
            if k == 0:
                if keep is not None and c == 0:
                    keep.update(model=model, chip=chip)
                # the same weights on a chip whose delay devices are programmed
                # to the trained delays (curve.inverse -> curve.sample)
                acc = hw.evaluate(model, xt, yt, [chip], DENRAM_DT_S)
                out.setdefault("reprogrammed_delays/k=0", []).append(float(acc[0]))
        out.setdefault("delays_ms", []).extend((delays * DENRAM_DT_S * 1e3).ravel().tolist())
    return out


def _event_counts(model: Sequential, x: np.ndarray) -> tuple[float, float]:
    """Mean input spikes and hidden spikes per sample of an SNN model."""
    hidden = model.layers[0].forward(x)
    return float(np.count_nonzero(x)) / x.shape[0], float(hidden.sum()) / x.shape[0]


def _run_denram(hw: HardwareModel, cfg: _DenramConfig, seed: int, out_dir: Path) -> tuple[dict, list[Row], list]:
    # the soma's own mismatch is not part of this experiment
    hw = hw.replace(tau_curve=None, tau_sigma=0.0, vth_curve=None, vth_sigma=0.0)
    seeds = _seed_ints(seed, 8)
    chips = chip_seeds(seeds[5], cfg.n_chips)
    metrics: dict[str, Any] = {}
    rows: list[Row] = []
    runs = {}
    kept: dict[str, Any] = {}
    for task in ("pattern", "ecg"):
        data = _denram_task(cfg, task, seeds, hw.max_delay_s or DENRAM_MAX_DELAY_S)
        runs[task] = _denram_task_runs(cfg, hw, task, data, chips, seeds[6] % 100_000,
                                       kept if task == "pattern" else None)
        metrics.update({f"{task}/{key}": _stat(v) for key, v in runs[task].items() if "/" in key})
        metrics.update(_snn_and_costs(hw, cfg, task, data, seeds))
        rows += _denram_rows(task, metrics, hw.energy_per_event_j())
    # the delay-pattern network, ideal and on chip 0 with its delays programmed through the delay curve
    files = save_study_networks(out_dir, "denram", DENRAM_DT_S, kept["model"], hw, kept["chip"])
    _plot_denram(metrics, runs, out_dir, files)
    return metrics, rows, files


def _snn_and_costs(
    hw: HardwareModel, cfg: _DenramConfig, task: str, data: tuple[np.ndarray, ...], seeds: list[int]
) -> dict[str, Any]:
    """A recurrent SNN with about as many weights, and both networks' memory and energy."""
    x, y, xt, yt = data
    n_in, n_out = x.shape[2], int(max(y.max(), yt.max())) + 1
    n_den = n_in * DENRAM_TAPS * n_out
    hidden = _snn_hidden(n_in, n_out, n_den)
    epochs = cfg.epochs if task == "pattern" else cfg.ecg_epochs
    acc, events = [], []
    for c in range(cfg.n_chips):  # as many SNN seeds as DenRAM chips
        snn = _snn_model(n_in, hidden, n_out, cfg.snn_tau_s, init_seed=seeds[7] % 100_000 + 2 * c)
        train(snn, x, y, epochs, cfg.batch_size, cfg.lr, rng=seeds[6] % 100_000 + c, grad_clip=1.0)
        acc.append(evaluate(snn, xt, yt))
        events.append(_event_counts(snn, xt))
    in_spikes = float(np.count_nonzero(xt)) / xt.shape[0]
    ev_den = in_spikes * DENRAM_TAPS * n_out  # every delayed pulse reads one weight per output
    ev_snn = [e_in * hidden + e_h * (hidden - 1 + n_out) for e_in, e_h in events]
    e_event = hw.energy_per_event_j()
    bits = int(np.ceil(np.log2(2 * (hw.weight_levels or 2**31) - 1)))  # sign + level of a pair
    return {
        f"{task}/snn/accuracy": _stat(acc),
        f"{task}/params": {"denram": n_den, "snn": _n_weights(snn), "snn_hidden": hidden},
        f"{task}/weight_memory_bits": {
            "denram": n_den * bits,
            "denram_bits_per_weight": bits,
            "snn": _n_weights(snn) * FLOAT_BITS,
        },
        f"{task}/synaptic_events": {"denram": ev_den, "snn": _stat(ev_snn)},
        f"{task}/energy_per_inference_j": {
            "denram": None if e_event is None else ev_den * e_event,
            "denram_energy_per_event_j": e_event,
            "snn": float(np.mean(ev_snn)) * SNN_E_SYNOP_J,
            "snn_energy_per_synop_j": SNN_E_SYNOP_J,
        },
    }


def _denram_rows(task: str, m: dict[str, Any], e_event: float | None) -> list[Row]:
    name = "delay_pattern" if task == "pattern" else "ECG anomaly"
    rows = []
    for k in DENRAM_NOISE:
        pub = f"SHD {100 * DENRAM_SHD[k]:.0f} % (context)" if task == "pattern" else ""
        rows.append(_row(f"{name}: ideal, trained with k={k:g}", _pct(m[f"{task}/ideal/k={k:g}"])))
        rows.append(_row(f"{name}: hardware, weight noise {100 * k:.0f} %", _pct(m[f"{task}/hardware/k={k:g}"]), pub))
    rows.append(_row(f"{name}: delays re-programmed to targets, k=0", _pct(m[f"{task}/reprogrammed_delays/k=0"])))
    rows.append(_row(f"{name}: recurrent SNN (no delays)", _pct(m[f"{task}/snn/accuracy"])))
    p, b = m[f"{task}/params"], m[f"{task}/weight_memory_bits"]
    rows.append(_row(f"{name}: weights DenRAM / SNN", f"{p['denram']} / {p['snn']} (SNN {p['snn_hidden']} hidden)"))
    ratio = b["snn"] / b["denram"]
    rows.append(
        _row(
            f"{name}: weight memory DenRAM / SNN",
            f"{b['denram']} bit ({b['denram_bits_per_weight']}-bit) / {b['snn']} bit (32-bit): {ratio:.1f}x",
            "35x less memory (ECG/KWS)",
        )
    )
    ev, en = m[f"{task}/synaptic_events"], m[f"{task}/energy_per_inference_j"]
    events = f"{ev['denram']:.0f} / {ev['snn']['mean']:.0f}"
    rows.append(_row(f"{name}: synaptic events / inference DenRAM / SNN", events))
    den = "no energy curve" if e_event is None else _sci(en["denram"], "J")
    energy = f"{den} / {_sci(en['snn'], 'J')} (23.6 pJ/synop)"
    rows.append(_row(f"{name}: energy / inference DenRAM / SNN", energy, "5x less power"))
    return rows


def _plot_denram(m: dict[str, Any], runs: dict[str, Any], out_dir: Path, files: list[str]) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ks = np.array(DENRAM_NOISE) * 100
    for ax, task in zip(axes, ("pattern", "ecg"), strict=True):
        for kind, style in (("ideal", "o-"), ("hardware", "s-")):
            mean = [m[f"{task}/{kind}/k={k:g}"]["mean"] for k in DENRAM_NOISE]
            std = [m[f"{task}/{kind}/k={k:g}"]["std"] for k in DENRAM_NOISE]
            ax.errorbar(ks, mean, yerr=std, fmt=style, capsize=3, label=kind)
        if task == "pattern":
            ax.plot(ks, [DENRAM_SHD[k] for k in DENRAM_NOISE], "k--", label="published (SHD)")
        ax.axhline(m[f"{task}/snn/accuracy"]["mean"], color="C3", ls=":", label="recurrent SNN")
        ax.set_xlabel("weight noise k [% of max|w|]")
        ax.set_ylabel("test accuracy")
        ax.set_title("delay_pattern" if task == "pattern" else "ECG anomaly")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, out_dir / "denram_accuracy.png", files)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(runs["pattern"]["delays_ms"], bins=40)
    ax.set_xlabel("delay [ms]")
    ax.set_ylabel("delay elements")
    ax.set_title("delays drawn on the chips")
    _save(fig, out_dir / "denram_delays.png", files)


STUDY = register(Study(
    name="denram",
    doc="DenRAM delays + RRAM weights on delay_pattern and ECG; ideal vs chips; vs a recurrent SNN",
    runner=_run_denram,
    config=_DenramConfig(),
    quick=_DENRAM_QUICK,
    hw_options={"weight_levels": 16, "tau_sigma": 0.0, "vth_sigma": 0.0},
    uses=("delay", "weight", "weight_levels", "energy"),
))
