"""``nhc`` study: training that includes the chip's heterogeneity recovers what ignoring it loses.

Recurrent LIF networks on MTS-XOR mapped onto simulated chips (per-neuron
tau and v_th spread, memstack weights): trained ignoring the heterogeneity,
then retrained with each chip's measured neurons.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.network.hardware import FALLBACK_WEIGHT_SIGMA, HardwareModel, chip_seeds
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


STUDY = register(Study(
    name="nhc",
    doc="train ignoring vs including the chip's heterogeneity (tau, v_th, weights) on simulated chips",
    runner=_run_nhc,
    config=_NhcConfig(),
    quick=_NHC_QUICK,
    # the recurrent SNN is built of memstack cells: their weight curve
    hw_options={"weight_levels": None, "weight_sigma": FALLBACK_WEIGHT_SIGMA,
                "files": {"weight": "memstack-weight.json"}},
    uses=("weight", "tau", "vth"),
))
