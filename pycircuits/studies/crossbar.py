"""``crossbar`` study: what IR drop on tiled RRAM crossbars costs a trained network, by tile size and wire.

**Network.**  8x8 handwritten digits (:func:`~pycircuits.network.tasks.digits_task`),
each image a constant input current over ``n_steps`` steps of ``dt`` = 1 ms:
``Dense(64, n_hidden)`` -> :class:`~pycircuits.network.layers.LIF`
(tau 20 ms) -> ``Dense(n_hidden, 10)`` -> a
:class:`~pycircuits.network.layers.LeakyIntegrator` readout (mean over
time).  Trained in software (Adam, softmax cross-entropy), one network per
seed.

**Chip.**  Both Dense layers are tiled onto square 1R crossbars of ``tile``
cells a side (:class:`~pycircuits.network.tiling.CrossbarTiling`): inputs on
word lines, outputs on bit lines read at a virtual ground, each weight a
differential pair of cells between 1/1 MOhm and 1/10 kOhm, every wire
segment (one 100 nm pitch) ``r_wire_per_m * pitch``.  The arrays' IR drop
is solved exactly by the nodal twin (:func:`pycircuits.twins.crossbar.transfer`,
checked against ngspice in the tests): the cheaper route at these sizes (a
128 x 128 array: ~1 s in SciPy, ~43 s in ngspice 39, whose Sparse solver
spends 92 % of it reordering).  Weight programming is ideal, so the
accuracy lost is the wires' alone.  The table gives the test accuracy over
seeds for every tile size and wire resistance, and each configuration's
mean relative read error of an all-ones input (the MAC error the
``crossbar-irdrop`` recipes report).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.network.hardware import HardwareModel
from pycircuits.network.interchange import save_study_networks
from pycircuits.network.layers import LIF, Dense, LeakyIntegrator
from pycircuits.network.tasks import digits_task
from pycircuits.network.tiling import CrossbarTiling
from pycircuits.network.training import Sequential, evaluate, train

from .registry import Study, register
from .report import Row, pct, pyplot, row, save, seed_ints, stat

DT_S = 1e-3  # s, one network step *(choose)*
TAU_S = 0.02  # s, hidden LIF membrane *(choose)*
PITCH_M = 100e-9  # m, the crossbar circuit's default pitch
R_LRS, R_HRS = 10e3, 1e6  # Ohm, the crossbar circuit's defaults


@dataclass(frozen=True)
class CrossbarStudyConfig:
    n_seeds: int = 3
    n_train: int = 1437  # the 1,797 handwritten digits split 80/20 by the seed
    n_test: int = 360
    digits: str = "sklearn"  # the real handwritten digits (network.tasks.load_digits); "glyphs": synthetic
    n_hidden: int = 128
    n_steps: int = 8
    epochs: int = 10
    lr: float = 0.01
    batch_size: int = 64
    tiles: tuple[int, ...] = (16, 32, 64, 128)
    r_wire_per_m: tuple[float, ...] = (2e6, 2e7, 1e8)  # Ohm/m: 0.2, 2 and 10 Ohm per pitch


Config = CrossbarStudyConfig
QUICK = CrossbarStudyConfig(n_seeds=3, n_train=600, n_test=200, n_hidden=32, n_steps=4, epochs=6, lr=0.02,
                            tiles=(16, 32), r_wire_per_m=(2e6, 1e8))


def _model(cfg: CrossbarStudyConfig, init_seed: int) -> Sequential:
    return Sequential([Dense(64, cfg.n_hidden, rng=init_seed), LIF(cfg.n_hidden, TAU_S, DT_S),
                       Dense(cfg.n_hidden, 10, rng=init_seed + 1),
                       LeakyIntegrator(10, TAU_S, DT_S, readout="mean")])


def _as_currents(x: np.ndarray, n_steps: int) -> np.ndarray:
    return np.repeat(x[:, None, :].astype(np.float32), n_steps, axis=1)


def tiling(tile: int, r_wire_per_m: float) -> CrossbarTiling:
    """The study's arrays: ``tile`` a side, wires of ``r_wire_per_m`` at the circuit's pitch."""
    return CrossbarTiling(tile=tile, r_segment=r_wire_per_m * PITCH_M, r_lrs=R_LRS, r_hrs=R_HRS)


def read_error(t: CrossbarTiling, w: np.ndarray) -> float:
    """Mean relative error of the matrix's all-ones read: sum_i W_eff / sum_i W - 1 over outputs, by |.|"""
    ideal = np.abs(w).sum(axis=0)
    eff = t.map_matrix(np.abs(w)).sum(axis=0)  # magnitudes: every cell of one array, no cancellation
    return float(np.mean(eff / ideal - 1.0))


def runner(hw: HardwareModel, cfg: CrossbarStudyConfig, seed: int, out_dir: Path) -> tuple[dict, list[Row], list]:
    s = seed_ints(seed, cfg.n_seeds + 1)
    ideal, acc, err = [], {}, {}
    for k in range(cfg.n_seeds):
        xtr, ytr, xte, yte, _ = digits_task(s[0] + k, cfg.n_train, cfg.n_test, cfg.digits)
        xtr, xte = _as_currents(xtr, cfg.n_steps), _as_currents(xte, cfg.n_steps)
        net = _model(cfg, s[k + 1] % 100_000)
        train(net, xtr, ytr, cfg.epochs, cfg.batch_size, cfg.lr, rng=k)
        ideal.append(evaluate(net, xte, yte))
        for tile in cfg.tiles:
            for r in cfg.r_wire_per_m:
                t = tiling(tile, r)
                chip = hw.replace(crossbar=t).map_network(net, k, DT_S)
                acc.setdefault((tile, r), []).append(evaluate(chip, xte, yte))
                err.setdefault((tile, r), []).append(read_error(t, net.layers[0].params["W"]))
        if k == 0:  # the first seed's network, ideal and on the largest tiles with the worst wires
            files_net = save_study_networks(out_dir, "crossbar", DT_S, net,
                                            hw.replace(crossbar=tiling(cfg.tiles[-1], cfg.r_wire_per_m[-1])), k)
    metrics: dict[str, Any] = {"ideal": stat(ideal), "by_config": [
        {"tile": tile, "r_wire_per_m": r, "accuracy": stat(acc[tile, r]), "read_error_layer1": stat(err[tile, r])}
        for tile in cfg.tiles for r in cfg.r_wire_per_m]}
    rows = [row(f"digits SNN 64-{cfg.n_hidden}-10, ideal (software), {cfg.n_seeds} seeds", pct(stat(ideal)))]
    for tile in cfg.tiles:
        for r in cfg.r_wire_per_m:
            rows.append(row(f"tiles {tile}x{tile}, wire {r * 1e-6:g} Ohm/um: accuracy (layer-1 read error "
                            f"{100 * np.mean(err[tile, r]):.2f} %)", pct(stat(acc[tile, r]))))
    files: list[str] = list(files_net)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in cfg.r_wire_per_m:
        m = [np.mean(acc[t, r]) for t in cfg.tiles]
        sd = [np.std(acc[t, r]) for t in cfg.tiles]
        ax.errorbar(cfg.tiles, m, yerr=sd, marker="o", capsize=3, label=f"{r * 1e-6:g} Ohm/um")
    ax.axhline(np.mean(ideal), color="k", ls="--", label="ideal")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("crossbar tile side (cells)")
    ax.set_ylabel("digits test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out_dir / "crossbar.png", files)
    return metrics, rows, files


STUDY = register(Study(
    name="crossbar",
    doc="accuracy of a digits SNN tiled onto RRAM crossbars vs tile size and wire resistance (exact IR drop)",
    runner=runner, config=CrossbarStudyConfig(), quick=QUICK,
    hw_options={"weight_levels": None, "weight_sigma": 0.0, "tau_sigma": 0.0, "vth_sigma": 0.0}, uses=(),
))
