"""``hierarchy`` study: MTS-XOR with homogeneous vs hierarchical time constants.

Feed-forward and recurrent LIF networks with one tau for every layer against
a hierarchy (short taus first, long ones last), fixed or trained: does
training make a hierarchy, and does a hierarchy help?
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.network.hardware import HardwareModel
from pycircuits.network.layers import LIF, Dense, LeakyIntegrator, RecurrentLIF
from pycircuits.network.tasks import MTS_DT_S, mts_xor
from pycircuits.network.training import Sequential, evaluate, train

from .registry import Study, register
from .report import Row
from .report import pct as _pct
from .report import pyplot as _pyplot
from .report import row as _row
from .report import save as _save
from .report import seed_ints as _seed_ints
from .report import stat as _stat


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


STUDY = register(Study(
    name="hierarchy",
    doc="MTS-XOR: homogeneous vs hierarchical time constants; does training make a hierarchy?",
    runner=_run_hierarchy,
    config=_HierarchyConfig(),
    quick=_HIERARCHY_QUICK,
))
