"""Network-level experiments on simulated chips: ``denram``, ``hierarchy``, ``nhc``.

Each experiment is a function of (curves folder, output folder, quick, seed).
It trains the networks, maps them onto simulated chips
(:class:`~pycircuits.network.hardware.HardwareModel`, one
``numpy.random.SeedSequence`` per chip), writes ``metrics.json`` (mean, std
and the per-seed/per-chip values of every metric, the curve sources and the
configuration) and PNG plots into the output folder, and returns a table of
rows ``{"metric", "ours", "published"}`` that the command line prints.

A run is a deterministic function of ``seed`` (for one BLAS threading
setting); ``quick=True`` shrinks data, epochs, seeds and chips so that a run
takes seconds (tests), the full run gives the reported numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.errors import UsageError
from pycircuits.network.hardware import (
    DENRAM_DT_S,
    DENRAM_MAX_DELAY_S,
    FALLBACK_WEIGHT_SIGMA,
    HardwareModel,
    chip_rng,
    chip_seeds,
)
from pycircuits.network.layers import LIF, DelayedDense, Dense, LeakyIntegrator, RecurrentLIF
from pycircuits.network.tasks import delay_pattern, ecg_anomaly, mts_xor
from pycircuits.network.training import Sequential, evaluate, train

from . import memstack_rsnn as _memstack_rsnn
from . import metaplastic as _metaplastic
from . import mingru_qat as _mingru_qat
from . import pcm_trace as _pcm_trace
from . import s4d as _s4d
from .report import Row, format_table
from .report import pct as _pct
from .report import pyplot as _pyplot
from .report import row as _row
from .report import save as _save
from .report import sci as _sci
from .report import seed_ints as _seed_ints
from .report import stat as _stat
from .report import write_json as _write_json

__all__ = ["EXPERIMENTS", "experiment_names", "format_table", "run_experiment"]

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


# ------------------------------------------------------------------ helpers


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
) -> dict[str, Any]:
    """Per chip: draw its delays, train at each noise k, evaluate ideal and on the chip."""
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
    for task in ("pattern", "ecg"):
        data = _denram_task(cfg, task, seeds, hw.max_delay_s or DENRAM_MAX_DELAY_S)
        runs[task] = _denram_task_runs(cfg, hw, task, data, chips, seeds[6] % 100_000)
        metrics.update({f"{task}/{key}": _stat(v) for key, v in runs[task].items() if "/" in key})
        metrics.update(_snn_and_costs(hw, cfg, task, data, seeds))
        rows += _denram_rows(task, metrics, hw.energy_per_event_j())
    files: list[str] = []
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


# --------------------------------------------------------------- hierarchy


@dataclass(frozen=True)
class _HierarchyConfig:
    n_train: int = 2048
    n_test: int = 1024
    epochs: int = 20
    n_seeds: int = 5
    n_hidden: int = 10  # units per layer *(published)*
    tau_homogeneous_s: float = 0.3  # *(published)* tau_mem
    tau_hierarchy_s: tuple[float, ...] = (0.1, 0.3, 0.9)  # same geometric mean, fast -> slow (choose)
    tau_out_s: float = 0.05  # *(published)*
    lr: float = 0.005
    batch_size: int = 32
    architectures: tuple[str, ...] = ("feedforward", "recurrent")


_HIERARCHY_QUICK = _HierarchyConfig(n_train=96, n_test=64, epochs=2, n_seeds=2, architectures=("feedforward",))


def _hierarchy_model(
    arch: str, taus: tuple[float, ...], trainable: bool, cfg: _HierarchyConfig, init_seed: int
) -> Sequential:
    """MTS-XOR network: LIF layers (tau per layer) -> dense -> leaky integrator per step."""
    layers: list = []
    n_in, h = 40, cfg.n_hidden
    for i, tau in enumerate(taus):
        scale = 1 / np.sqrt(8) if i == 0 else None  # first layer: sparse 40-channel input
        if arch == "recurrent":
            layers.append(
                RecurrentLIF(n_in, h, tau, MTS_DT_S, trainable_tau=trainable, rng=init_seed + i, init_scale_in=scale)
            )
        else:
            dense = Dense(n_in, h, rng=init_seed + i, init_scale=scale)
            layers += [dense, LIF(h, tau, MTS_DT_S, trainable_tau=trainable)]
        n_in = h
    layers += [Dense(h, 2, rng=init_seed + 9), LeakyIntegrator(2, cfg.tau_out_s, MTS_DT_S, readout="none")]
    return Sequential(layers)


def _run_hierarchy(hw: HardwareModel, cfg: _HierarchyConfig, seed: int, out_dir: Path) -> tuple[dict, list[Row], list]:
    s = _seed_ints(seed, 3)
    x, y = mts_xor(cfg.n_train, s[0])
    xt, yt = mts_xor(cfg.n_test, s[1])
    n_layers = len(cfg.tau_hierarchy_s)
    homo = (cfg.tau_homogeneous_s,) * n_layers
    metrics: dict[str, Any] = {}
    rows: list[Row] = []
    for arch in cfg.architectures:
        acc: dict[str, list[float]] = {"homogeneous": [], "hierarchical": [], "trained": []}
        taus_trained = []
        for r in range(cfg.n_seeds):
            init, tr = s[2] % 100_000 + 10 * r, r
            for cond, taus, trainable in (
                ("homogeneous", homo, False),
                ("hierarchical", cfg.tau_hierarchy_s, False),
                ("trained", homo, True),
            ):
                model = _hierarchy_model(arch, taus, trainable, cfg, init)
                train(model, x, y, cfg.epochs, cfg.batch_size, cfg.lr, rng=tr, grad_clip=1.0)
                acc[cond].append(evaluate(model, xt, yt))
                if trainable:
                    taus_trained.append([float(lay.tau.mean()) for lay in model.layers if isinstance(lay, LIF)])
        per_layer = np.asarray(taus_trained)  # (seeds, layers)
        increasing = np.all(np.diff(per_layer, axis=1) > 0, axis=1)
        for cond, vals in acc.items():
            metrics[f"{arch}/{cond}"] = _stat(vals)
        gain = np.asarray(acc["hierarchical"]) - np.asarray(acc["homogeneous"])
        metrics[f"{arch}/gain_hierarchical"] = _stat(gain)
        metrics[f"{arch}/trained_tau_per_layer_s"] = {
            "mean": per_layer.mean(axis=0).tolist(),
            "std": per_layer.std(axis=0).tolist(),
            "values": per_layer.tolist(),
        }
        metrics[f"{arch}/hierarchy_emerged_fraction"] = float(increasing.mean())
        rows += [
            _row(f"MTS-XOR {arch}: homogeneous tau {cfg.tau_homogeneous_s:g} s", _pct(metrics[f"{arch}/homogeneous"])),
            _row(
                f"MTS-XOR {arch}: hierarchical tau {'/'.join(f'{t:g}' for t in cfg.tau_hierarchy_s)} s",
                _pct(metrics[f"{arch}/hierarchical"]),
            ),
            _row(
                f"MTS-XOR {arch}: gain of the hierarchy",
                f"{_pct(metrics[f'{arch}/gain_hierarchical'])} (median {100 * np.median(gain):+.1f})",
                "up to +4.1 %",
            ),
            _row(f"MTS-XOR {arch}: tau trained from homogeneous", _pct(metrics[f"{arch}/trained"])),
            _row(
                f"MTS-XOR {arch}: trained mean tau per layer (in -> out)",
                " / ".join(f"{t:.3f}" for t in per_layer.mean(axis=0)) + " s",
                "hierarchy emerges",
            ),
            _row(
                f"MTS-XOR {arch}: seeds whose trained tau increase with depth",
                f"{int(increasing.sum())}/{len(increasing)}",
            ),
        ]
    files: list[str] = []
    _plot_hierarchy(metrics, cfg, out_dir, files)
    return metrics, rows, files


def _plot_hierarchy(m: dict[str, Any], cfg: _HierarchyConfig, out_dir: Path, files: list[str]) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    conds = ("homogeneous", "hierarchical", "trained")
    for j, arch in enumerate(cfg.architectures):
        for i, cond in enumerate(conds):
            vals = m[f"{arch}/{cond}"]["values"]
            pos = i + 0.25 * (j - (len(cfg.architectures) - 1) / 2)
            axes[0].scatter(np.full(len(vals), pos), vals, color=f"C{j}", alpha=0.6, label=arch if i == 0 else None)
            axes[0].errorbar(pos, np.mean(vals), yerr=np.std(vals), fmt="_", color="k", capsize=4)
        tau = m[f"{arch}/trained_tau_per_layer_s"]
        layers = np.arange(1, len(tau["mean"]) + 1)
        axes[1].errorbar(layers, tau["mean"], yerr=tau["std"], fmt="o-", capsize=3, label=f"{arch}, trained")
    axes[1].plot(np.arange(1, len(cfg.tau_hierarchy_s) + 1), cfg.tau_hierarchy_s, "k--", label="hierarchical init")
    axes[0].set_xticks(range(len(conds)), conds)
    axes[0].set_ylabel("MTS-XOR test accuracy")
    axes[0].legend(fontsize=8)
    axes[1].set_xticks(range(1, len(cfg.tau_hierarchy_s) + 1))
    axes[1].set_xlabel("layer (input -> output)")
    axes[1].set_ylabel("mean tau [s]")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    _save(fig, out_dir / "hierarchy.png", files)


# --------------------------------------------------------------------- NHC


@dataclass(frozen=True)
class _NhcConfig:
    n_train: int = 2048
    n_test: int = 1024
    epochs: int = 10
    n_chips: int = 10
    n_hidden: int = 32
    taus_s: tuple[float, float] = (0.05, 0.3)  # fast -> slow (choose)
    lr: float = 0.005
    batch_size: int = 32


_NHC_QUICK = _NhcConfig(n_train=96, n_test=64, epochs=2, n_chips=2, n_hidden=16)


def _nhc_model(cfg: _NhcConfig, taus: list[Any], vths: list[Any], init_seed: int) -> Sequential:
    """Two recurrent LIF layers -> dense -> per-step leaky readout (MTS-XOR)."""
    h = cfg.n_hidden
    l1 = RecurrentLIF(40, h, taus[0], MTS_DT_S, rng=init_seed, init_scale_in=1 / np.sqrt(8))
    l2 = RecurrentLIF(h, h, taus[1], MTS_DT_S, rng=init_seed + 1)
    l1.v_th, l2.v_th = vths
    return Sequential([l1, l2, Dense(h, 2, rng=init_seed + 2), LeakyIntegrator(2, 0.05, MTS_DT_S, readout="none")])


def _run_nhc(hw: HardwareModel, cfg: _NhcConfig, seed: int, out_dir: Path) -> tuple[dict, list[Row], list]:
    s = _seed_ints(seed, 4)
    x, y = mts_xor(cfg.n_train, s[0])
    xt, yt = mts_xor(cfg.n_test, s[1])
    chips = chip_seeds(s[2], cfg.n_chips)
    init, tr = s[3] % 100_000, 0
    nominal = _nhc_model(cfg, list(cfg.taus_s), [1.0, 1.0], init)
    train(nominal, x, y, cfg.epochs, cfg.batch_size, cfg.lr, rng=tr, grad_clip=1.0)
    ideal = evaluate(nominal, xt, yt)
    # the weights' programming spread is only known once they are programmed,
    # so calibrated models are deployed with the weights mapped and the
    # neurons as measured
    hw_weights = hw.replace(tau_curve=None, tau_sigma=0.0, vth_curve=None, vth_sigma=0.0)
    unc, cal, measured_tau_cv = [], [], []
    for chip in chips:
        unc.append(float(hw.evaluate(nominal, xt, yt, [chip], MTS_DT_S)[0]))
        # calibration: measure the chip's per-neuron tau and v_th (and the
        # readout's tau), train a fresh network with them
        measured = hw.map_network(nominal, chip, MTS_DT_S)
        lifs = [lay for lay in measured.layers if isinstance(lay, LIF)]
        measured_tau_cv.append(float(np.mean([np.std(lay.tau) / np.mean(lay.tau) for lay in lifs])))
        model = _nhc_model(cfg, [lay.tau.copy() for lay in lifs], [lay.v_th for lay in lifs], init)
        model.layers[-1].tau = measured.layers[-1].tau.copy()
        train(model, x, y, cfg.epochs, cfg.batch_size, cfg.lr, rng=tr, grad_clip=1.0)
        cal.append(float(hw_weights.evaluate(model, xt, yt, [chip], MTS_DT_S)[0]))
    lost, regained = ideal - np.mean(unc), np.mean(cal) - np.mean(unc)
    recovery = float(regained / lost) if lost > 0 else float("nan")
    recovered = f"{100 * recovery:.0f} %" if lost > 0 else "n/a (no accuracy lost)"
    metrics = {
        "ideal": ideal,
        "uncalibrated": _stat(unc),
        "calibrated": _stat(cal),
        "recovered_fraction": recovery,
        "chip_tau_cv": _stat(measured_tau_cv),
    }
    rows = [
        _row("MTS-XOR 2x recurrent LIF: ideal (no heterogeneity)", f"{100 * ideal:.1f} %"),
        _row(f"trained ignoring heterogeneity, on {cfg.n_chips} chips", _pct(metrics["uncalibrated"])),
        _row(f"trained with the chip's heterogeneity, on {cfg.n_chips} chips", _pct(metrics["calibrated"])),
        _row(
            "fraction of the lost accuracy recovered",
            recovered,
            "target >= 50 % (NHC: calibration corrects heterogeneity)",
        ),
        _row("per-neuron tau spread on the chips (CV)", _pct(metrics["chip_tau_cv"])),
    ]
    files: list[str] = []
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    idx = np.arange(cfg.n_chips)
    ax.plot(idx, unc, "o", label="trained ignoring heterogeneity")
    ax.plot(idx, cal, "s", label="trained with the chip's heterogeneity")
    ax.axhline(ideal, color="k", ls="--", label="ideal network")
    ax.set_xlabel("simulated chip")
    ax.set_ylabel("MTS-XOR test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, out_dir / "nhc.png", files)
    return metrics, rows, files


# ------------------------------------------------------------------- entry


_Runner = Callable[[HardwareModel, Any, int, Path], tuple[dict, list[Row], list]]

# name -> (runner, full config, quick config, hardware-model options, one-line doc)
EXPERIMENTS: dict[str, tuple[_Runner, Any, Any, dict[str, Any], str]] = {
    "denram": (
        _run_denram,
        _DenramConfig(),
        _DENRAM_QUICK,
        {"weight_levels": 16, "tau_sigma": 0.0, "vth_sigma": 0.0},
        "DenRAM delays + RRAM weights on delay_pattern and ECG; ideal vs chips; vs a recurrent SNN",
    ),
    "hierarchy": (
        _run_hierarchy,
        _HierarchyConfig(),
        _HIERARCHY_QUICK,
        {},
        "MTS-XOR: homogeneous vs hierarchical time constants; does training make a hierarchy?",
    ),
    "nhc": (
        _run_nhc,
        _NhcConfig(),
        _NHC_QUICK,
        # the recurrent SNN is built of memstack cells: their weight curve
        {"weight_levels": None, "weight_sigma": FALLBACK_WEIGHT_SIGMA, "files": {"weight": "memstack-weight.json"}},
        "train ignoring vs including the chip's heterogeneity (tau, v_th, weights) on simulated chips",
    ),
}


def experiment_names() -> list[str]:
    """Names of the experiments, sorted."""
    return sorted(EXPERIMENTS)


def run_experiment(
    name: str,
    curves_dir: str | PathLike[str] | None = None,
    out_dir: str | PathLike[str] | None = None,
    quick: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Run experiment ``name``; write metrics.json and PNGs into ``out_dir``.

    ``curves_dir``: folder of TransferCurve JSON files (see
    :data:`pycircuits.network.hardware.CURVE_FILES`; fallbacks when missing).
    ``out_dir`` defaults to ``out/network/NAME``.  Returns ``{"experiment",
    "quick", "seed", "sources", "metrics", "table", "files"}``; ``table`` is a
    list of rows ``{"metric", "ours", "published"}``.  Unknown name ->
    :class:`~pycircuits.errors.UsageError`.
    """
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; known: {', '.join(experiment_names())}")
    if curves_dir is not None and not Path(curves_dir).is_dir():
        raise UsageError(f"curves folder {curves_dir} does not exist")
    runner, full, fast, hw_options, _ = EXPERIMENTS[name]
    cfg = fast if quick else full
    hw = HardwareModel.from_curves(curves_dir, **hw_options)
    out = Path("out") / "network" / name if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics, table, files = runner(hw, cfg, seed, out)
    sources = {k: v for k, v in hw.sources.items() if _uses(name, k)}
    payload = {
        "experiment": name,
        "quick": quick,
        "seed": seed,
        "sources": sources,
        "config": asdict(cfg),
        "metrics": metrics,
        "table": table,
    }
    _write_json(out / "metrics.json", payload)
    files.append(str(out / "metrics.json"))
    return {**payload, "files": files}


_USES: dict[str, set[str]] = {
    "denram": {"delay", "weight", "weight_levels", "energy"},
    "hierarchy": set(),
    "nhc": {"weight", "tau", "vth"},
}


def register(module: Any) -> None:
    """Add the experiment defined by ``module``.

    The module defines ``NAME``, ``runner(hw, cfg, seed, out_dir) -> (metrics,
    table, files)``, ``Config`` (a frozen dataclass: the full run), ``QUICK``
    (the ``--quick`` configuration), ``HW_OPTIONS`` (keyword arguments of
    :meth:`HardwareModel.from_curves`), ``DOC`` (one line) and ``USES`` (the
    hardware roles of ``hw.sources`` it reads).
    """
    EXPERIMENTS[module.NAME] = (module.runner, module.Config(), module.QUICK, dict(module.HW_OPTIONS), module.DOC)
    _USES[module.NAME] = set(module.USES)


for _module in (_metaplastic, _pcm_trace, _memstack_rsnn, _mingru_qat, _s4d):
    register(_module)


def _uses(name: str, role: str) -> bool:
    """Whether experiment ``name`` uses hardware effect ``role`` (for the sources line)."""
    return role in _USES.get(name, set())
