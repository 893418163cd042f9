"""Map a trained network onto simulated chips whose devices come from TransferCurves.

A :class:`HardwareModel` says how each kind of network parameter is realised
on a chip, and with which device-to-device spread:

- **Delays** (DenRAM delay elements): target delay (s) -> device setting x
  through ``delay_curve.inverse`` -> one device draw ``delay_curve.sample(x)``
  -> actual delay -> rounded to the chip's time step ``dt`` and clipped to
  the representable range ``delay_range_s``.
- **Weights**: each layer's largest ``|w|`` is the full-scale conductance.
  ``|w|`` is rounded to one of ``weight_levels`` conductance levels (16 =
  4 bit per device); a signed weight is a differential pair ``G+ - G-`` with
  the unused device left at level 0.  Every device gets a programming draw:
  from ``weight_curve`` (its spread at the programmed level) or a log-normal
  relative ``weight_sigma``.  ``weight_noise = k`` adds DenRAM's noise model,
  ``N(0, (k max|w|)^2)`` on every existing weight, frozen per chip.
- **Crossbar reads** (``crossbar``): Dense layers tiled onto RRAM arrays,
  their weights as the arrays' IR drop realises them
  (:class:`~pycircuits.network.tiling.CrossbarTiling`), after the weights'
  own programming.
- **Time constants** and **thresholds**: per-neuron heterogeneity, as ratios
  drawn from ``tau_curve`` / ``vth_curve`` (their relative spread) or the
  relative sigmas ``tau_sigma`` (log-normal) / ``vth_sigma`` (normal).
  A per-neuron synaptic gain mismatch is the same thing as a threshold
  mismatch (scale V by the gain), so ``vth`` covers both.

A simulated chip is a ``numpy.random.SeedSequence``; every parameter of every
layer draws from its own child key, so a chip is reproducible and adding a
source of variability does not change the other draws.

Curves are read from a folder by name (:data:`CURVE_FILES`); a missing
``denram-delay`` curve falls back to the published DenRAM model
(:func:`fallback_delay_curve`), the others to documented relative spreads,
and :attr:`HardwareModel.sources` records which was used.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from pycircuits.errors import FileFormatError, UsageError
from pycircuits.extract.curve import TransferCurve
from pycircuits.network.layers import (
    LIF,
    DelayedDense,
    DelayedSynapses,
    Dense,
    LeakyIntegrator,
    RecurrentLIF,
)
from pycircuits.network.tiling import CrossbarTiling
from pycircuits.network.training import Sequential, evaluate

__all__ = [
    "CURVE_FILES",
    "DENRAM_C_DELAY_F",
    "DENRAM_DT_S",
    "DENRAM_MAX_DELAY_S",
    "DENRAM_R_HRS_OHM",
    "DENRAM_R_HRS_SIGMA",
    "FALLBACK_TAU_SIGMA",
    "FALLBACK_VTH_SIGMA",
    "FALLBACK_WEIGHT_SIGMA",
    "HardwareModel",
    "chip_rng",
    "chip_seeds",
    "fallback_delay_curve",
]

# Files looked up in a --curves folder, by role.
CURVE_FILES = {
    "delay": "denram-delay.json",  # delay (s) vs delay-device setting (e.g. R_delay, Ohm)
    "weight": "denram-weight.json",  # EPSC charge (C) or conductance vs weight-device setting
    "energy": "denram-energy.json",  # energy per input spike (J) vs device setting
    "tau": "memstack-tau.json",  # neuron time constant (s) vs device setting: relative spread used
    "vth": "neuron-vth.json",  # neuron threshold (V) vs setting: relative spread used
}

# DenRAM delay model of the authors' code (2312.08960) *(published)*:
# tau = R_HRS * C, R_HRS log-normal, delays rounded to dt and clipped.
DENRAM_C_DELAY_F = 1e-12  # F
DENRAM_R_HRS_OHM = 500e9  # Ohm, median of the log-normal R_HRS
DENRAM_R_HRS_SIGMA = 0.4  # sigma of ln(R_HRS)
DENRAM_DT_S = 5e-3  # s, network time step
DENRAM_MAX_DELAY_S = 1.0  # s, delays clipped to [0, 1] s

# Relative spreads used when no curve is given *(choose)*: typical of
# subthreshold mixed-signal neurons (tens of % in time constants, ~10-20 %
# in thresholds and synaptic gains) and of multi-level RRAM after
# program-and-verify (~10 %).
FALLBACK_TAU_SIGMA = 0.3  # sigma of ln(tau)
FALLBACK_VTH_SIGMA = 0.2  # relative std of v_th
FALLBACK_WEIGHT_SIGMA = 0.1  # sigma of ln(G) per programmed device

_Z95 = 1.6448536269514722  # z of the 95th percentile of N(0, 1)
_Z75 = 0.6744897501960817  # z of the 75th percentile

# child keys of a chip's SeedSequence, one per kind of parameter
_KEY = {"delays": 0, "W": 1, "W_in": 2, "W_rec": 3, "tau": 4, "v_th": 5, "crossbar": 6}


def fallback_delay_curve() -> TransferCurve:
    """The published DenRAM delay model as a TransferCurve (no SPICE).

    x: R_delay in Ohm (1 GOhm-2 TOhm, log grid); y: delay = R * C in s with
    C = 1 pF; 5/25/75/95 % bands of a log-normal with sigma 0.4, so
    ``sample`` draws delay * exp(0.4 z).  ``extra["x_nominal"]`` = 500 GOhm,
    the median HRS that DenRAM's delay elements sit at.
    """
    r = np.geomspace(1e9, 2e12, 34)  # Ohm
    y = r * DENRAM_C_DELAY_F
    s = DENRAM_R_HRS_SIGMA
    bands = {5: y * np.exp(-_Z95 * s), 25: y * np.exp(-_Z75 * s), 75: y * np.exp(_Z75 * s), 95: y * np.exp(_Z95 * s)}
    return TransferCurve(
        "denram-delay",
        r,
        "Ohm",
        y,
        "s",
        bands,
        x_name="R_delay",
        y_name="delay",
        recipe="fallback: DenRAM published model tau = R_HRS * C",
        extra={"x_nominal": DENRAM_R_HRS_OHM, "c_delay_f": DENRAM_C_DELAY_F, "sigma_ln_r": s},
    )


def chip_seeds(seed: int, n_chips: int) -> list[np.random.SeedSequence]:
    """``n_chips`` independent simulated chips of experiment seed ``seed``."""
    return np.random.SeedSequence(seed).spawn(n_chips)


def chip_rng(chip: np.random.SeedSequence | int, *key: int) -> np.random.Generator:
    """A generator for one ``key`` (e.g. layer, parameter) of one chip, independent of other keys.

    :meth:`HardwareModel.map_network` uses keys ``(layer_index, kind)`` with
    ``kind`` < 100; other uses (e.g. drawing a chip's delays) take keys >= 100.
    """
    ss = chip if isinstance(chip, np.random.SeedSequence) else np.random.SeedSequence(chip)
    return np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, *key)))


def _load(folder: Path | None, name: str) -> TransferCurve | None:
    if folder is None:
        return None
    path = folder / name
    return TransferCurve.from_json(path) if path.is_file() else None


def _check_usable(curve: TransferCurve, path: Path, role: str) -> None:
    """Refuse (one line) a curve a mapping cannot use: fewer than two finite medians, or none positive.

    Delays, charges, conductances, time constants, thresholds and energies are
    positive; an all-NaN or all-zero curve (a measure that failed at every
    point) would map every device to nothing.
    """
    y = curve.y[np.isfinite(curve.y)]
    if y.size < 2:
        raise FileFormatError(f"{path}: the {role} curve has {y.size} finite median(s); re-extract it from a sweep "
                              "whose measure did not fail")
    if not np.all(y > 0):
        raise FileFormatError(f"{path}: the {role} curve has medians <= 0 ({y.min():g}); a {role} is positive")


def _median_range(curve: TransferCurve) -> tuple[float, float]:
    """(min, max) of the curve's finite median, in y units."""
    y = curve.y[np.isfinite(curve.y)]
    return float(y.min()), float(y.max())


def _relative_draw(curve: TransferCurve, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Device-to-device ratios sample/median of ``curve`` for each entry of ``target``.

    Where the target lies inside the curve's y range the spread at that value
    is used; outside it (a curve of a circuit at another time or voltage
    scale) the spread at the middle of the x grid.
    """
    lo, hi = _median_range(curve)
    inside = (target >= lo) & (target <= hi)
    xf = curve.x[np.isfinite(curve.y)]
    x_mid = np.sqrt(xf[0] * xf[-1]) if curve.log_x else 0.5 * (xf[0] + xf[-1])
    x = np.full(target.shape, x_mid)
    if np.any(inside) and curve.is_monotone:
        x[inside] = curve.inverse(target[inside])
    center = np.asarray(curve(x), dtype=float)
    return np.asarray(curve.sample(x, rng), dtype=float) / center


@dataclass(frozen=True)
class HardwareModel:
    """How a network's parameters are realised on a chip, with device spread.

    Every field left at its default is ideal: :meth:`ideal` maps a network to
    an exact copy.  ``sources`` names where each effect came from (a curve
    file, a published fallback, a chosen sigma); the experiments print it.
    """

    delay_curve: TransferCurve | None = None  # delay (s) vs device setting; None: exact delays
    delay_spread: bool = True  # draw devices with delay_curve.sample (False: the median)
    delay_range_s: tuple[float, float] | None = None  # representable delays, s; None: the (scaled) curve's
    delay_scale: float = 1.0  # the curve's delays times this: the delay capacitor scaled (delay ~ C)
    weight_levels: int | None = None  # conductance levels per device (16 = 4 bit); None: analog
    weight_curve: TransferCurve | None = None  # programmed quantity vs device setting, for the spread
    weight_sigma: float = 0.0  # sigma of ln(G) per device, used without weight_curve
    weight_noise: float = 0.0  # DenRAM's k: N(0, (k max|w|)^2) per weight, frozen per chip
    tau_curve: TransferCurve | None = None  # relative spread of time constants
    tau_sigma: float = 0.0  # sigma of ln(tau), used without tau_curve
    vth_curve: TransferCurve | None = None  # relative spread of thresholds
    vth_sigma: float = 0.0  # relative std of v_th, used without vth_curve
    energy_curve: TransferCurve | None = None  # energy per input spike (J); only reported
    crossbar: CrossbarTiling | None = None  # Dense layers tiled onto crossbars (IR drop); None: ideal reads
    sources: dict[str, str] = field(default_factory=dict)
    curves_dir: Path | None = None  # the --curves folder, for experiments' own curves (:meth:`curve`)

    def __post_init__(self) -> None:
        if self.weight_levels is not None and self.weight_levels < 2:
            raise ValueError(f"weight_levels must be >= 2, got {self.weight_levels}")
        for name in ("weight_sigma", "weight_noise", "tau_sigma", "vth_sigma"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not self.delay_scale > 0:
            raise ValueError(f"delay_scale must be > 0, got {self.delay_scale}")
        if self.delay_curve is not None and not self.delay_curve.is_monotone:
            raise ValueError(f"delay curve {self.delay_curve.name!r} is not monotone")

    # ----------------------------------------------------------------- build

    @classmethod
    def ideal(cls) -> HardwareModel:
        """Zero variability, analog weights, exact delays: maps a network to an exact copy."""
        return cls(sources={"all": "ideal (no variability)"})

    @classmethod
    def from_curves(
        cls,
        curves_dir: str | PathLike[str] | None,
        *,
        weight_levels: int | None = 16,
        weight_noise: float = 0.0,
        tau_sigma: float = FALLBACK_TAU_SIGMA,
        vth_sigma: float = FALLBACK_VTH_SIGMA,
        weight_sigma: float = 0.0,
        delay_max_s: float | None = DENRAM_MAX_DELAY_S,
        files: dict[str, str] | None = None,
    ) -> HardwareModel:
        """Load the curves of :data:`CURVE_FILES` found in ``curves_dir``, with fallbacks.

        Missing ``denram-delay`` -> :func:`fallback_delay_curve` (delays clipped
        to [0, 1] s as in DenRAM); missing weight / tau / vth curves -> the
        given relative sigmas (0 disables that effect); missing energy curve
        -> no energy estimate.  ``sources`` says which was used for each.
        A delay curve from SPICE keeps its shape and spread, and with
        ``delay_max_s`` its delays are scaled so that the longest is
        ``delay_max_s`` s: the delay capacitor is a design choice and delay is
        proportional to C in both DenRAM topologies (a default-sized
        testbench gives microseconds).  ``files`` overrides file names by
        role.  An unreadable or unusable curve file is a ``UsageError``.
        """
        folder = None if curves_dir is None else Path(curves_dir)
        names = {**CURVE_FILES, **(files or {})}
        curves = {role: _load(folder, names[role]) for role in CURVE_FILES}
        for role, c in curves.items():
            if c is not None:
                _check_usable(c, folder / names[role], role)
        src: dict[str, str] = {}
        delay, scale = curves["delay"], 1.0
        if delay is None:
            delay, delay_range = fallback_delay_curve(), (0.0, DENRAM_MAX_DELAY_S)
            src["delay"] = "fallback: DenRAM published (R_HRS log-normal 500 GOhm, sigma 0.4; C = 1 pF)"
        else:
            delay_range = None
            src["delay"] = f"curve {folder / names['delay']}"
            if delay_max_s is not None:
                scale = delay_max_s / _median_range(delay)[1]
                src["delay"] += f", delays x{scale:.3g} (delay capacitor x{scale:.3g}: longest {delay_max_s:g} s)"
        for role, sigma, what in (
            ("weight", weight_sigma, "ln G"),
            ("tau", tau_sigma, "ln tau"),
            ("vth", vth_sigma, "v_th/v_th0"),
        ):
            if curves[role] is not None and curves[role].has_spread:
                src[role] = f"curve {folder / names[role]} (relative spread)"
                continue
            why = f"no {names[role]}"
            if curves[role] is not None:  # a curve without Monte Carlo says nothing of device spread
                why = f"{folder / names[role]} has no Monte Carlo spread"
                curves[role] = None
            src[role] = f"relative sigma {sigma:g} of {what} ({why})" if sigma else f"none ({why})"
        src["weight_levels"] = "analog" if weight_levels is None else f"{weight_levels} levels per device, pairs"
        energy = curves["energy"]
        src["energy"] = f"curve {folder / names['energy']}" if energy is not None else "no energy curve"
        if energy is not None and scale != 1.0:
            src["energy"] += " (at the simulated delay capacitor)"
        kwargs = dict(
            delay_curve=delay,
            delay_range_s=delay_range,
            delay_scale=scale,
            weight_levels=weight_levels,
            weight_curve=curves["weight"],
            weight_sigma=weight_sigma,
            weight_noise=weight_noise,
            tau_curve=curves["tau"],
            tau_sigma=tau_sigma,
            vth_curve=curves["vth"],
            vth_sigma=vth_sigma,
            energy_curve=energy,
            sources=src,
            curves_dir=folder,
        )
        try:
            return cls(**kwargs)
        except ValueError as err:  # e.g. a non-monotone delay curve: bad input, one line
            raise UsageError(f"{folder}: {err}") from None

    def curve(self, filename: str) -> TransferCurve | None:
        """The curve ``filename`` of the ``--curves`` folder, or None when there is none.

        For curves an experiment reads itself (e.g. ``pcm-drift.json``, or
        ``"tdelay-vs-r"``, the name ``pycircuits extract curve`` gives, with
        ``.json`` implied); a corrupt file is a one-line
        :class:`~pycircuits.errors.FileFormatError`.
        """
        return _load(self.curves_dir, filename if filename.endswith(".json") else filename + ".json")

    def replace(self, **changes: object) -> HardwareModel:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # ---------------------------------------------------------------- delays

    def _curve_delay_range(self) -> tuple[float, float]:
        """(shortest, longest) median delay of the scaled curve, s."""
        lo, hi = _median_range(self.delay_curve)
        return lo * self.delay_scale, hi * self.delay_scale

    def _delay_bounds(self) -> tuple[float, float]:
        if self.delay_range_s is not None:
            return self.delay_range_s
        return self._curve_delay_range()

    @property
    def max_delay_s(self) -> float | None:
        """Longest delay a delay element can give, s (None without a delay curve)."""
        return None if self.delay_curve is None else self._delay_bounds()[1]

    def _quantize_delay(self, delay_s: np.ndarray, dt: float) -> np.ndarray:
        lo, hi = self._delay_bounds()
        steps = np.rint(np.asarray(delay_s, dtype=float) / dt)
        # the representable range in whole steps (1e-9 forgives float rounding of lo/dt)
        return np.clip(steps, np.ceil(lo / dt - 1e-9), np.floor(hi / dt + 1e-9)).astype(np.int64)

    def draw_delays(self, shape: int | tuple[int, ...], dt: float, rng: np.random.Generator | int) -> np.ndarray:
        """Delays (int steps of ``dt`` s) of delay elements left at their nominal setting.

        DenRAM's delays are not programmed: the delay devices sit in HRS and
        their device-to-device spread *is* the set of delays.  Nominal setting:
        ``delay_curve.extra["x_nominal"]``, else the x whose median delay is
        the middle of the representable range.  Shape ``shape``.
        """
        if self.delay_curve is None:
            raise ValueError("draw_delays needs a delay curve (HardwareModel.from_curves)")
        curve = self.delay_curve
        x_nom = curve.extra.get("x_nominal")
        if x_nom is None:
            lo, hi = self._curve_delay_range()
            r_lo, r_hi = self._delay_bounds()
            x_nom = curve.inverse(float(np.clip(0.5 * (r_lo + r_hi), lo, hi)) / self.delay_scale)
        size = (shape,) if isinstance(shape, int) else tuple(shape)
        drawn = np.asarray(curve.sample(float(x_nom), np.random.default_rng(rng), size=size)) * self.delay_scale
        return self._quantize_delay(drawn, dt)

    def map_delays(self, delays: np.ndarray, dt: float, rng: np.random.Generator | int) -> np.ndarray:
        """Realise target delays (int steps of ``dt`` s) on delay devices.

        target (s) -> ``x = curve.inverse(target)`` (targets held inside the
        curve's range) -> one draw ``curve.sample(x)`` per element (or the
        median without ``delay_spread``) -> rounded to ``dt``, clipped to the
        representable range.  Without a delay curve the delays are exact.
        Same shape as ``delays``.
        """
        d = np.asarray(delays)
        if self.delay_curve is None:
            return d.copy()
        curve = self.delay_curve
        lo, hi = self._curve_delay_range()
        target = np.clip(d * dt, lo, hi) / self.delay_scale  # in the curve's own units
        x = np.asarray(curve.inverse(target.ravel()), dtype=float).reshape(d.shape)
        actual = curve.sample(x, np.random.default_rng(rng)) if self.delay_spread else curve(x)
        return self._quantize_delay(np.asarray(actual, dtype=float) * self.delay_scale, dt)

    # --------------------------------------------------------------- weights

    @property
    def _weights_ideal(self) -> bool:
        return (
            self.weight_levels is None
            and self.weight_curve is None
            and self.weight_sigma == 0
            and self.weight_noise == 0
        )

    def _program(self, level: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Realised conductance of devices programmed to ``level`` in [0, 1] (full scale 1).

        With a monotone weight curve, level u asks for ``u * y_max`` (held at
        or above the weakest state ``y_min``; level 0 devices are left in that
        state) and each device draws from the curve there.  A non-monotone
        curve (e.g. charge vs programming pulses, saturating) only lends its
        relative spread.  Without one, devices at level > 0 get a log-normal
        ``weight_sigma``; level 0 is off.
        """
        if self.weight_curve is not None and not self.weight_curve.is_monotone:
            ratio = _relative_draw(self.weight_curve, np.full(level.shape, np.nan), rng)
            return level * ratio
        if self.weight_curve is not None:
            curve = self.weight_curve
            lo, hi = _median_range(curve)
            sign = 1.0 if hi > 0 else -1.0  # a curve of negative charge reads as magnitude
            y_lo, y_hi = sorted((abs(lo), abs(hi)))
            target = sign * np.clip(level * y_hi, y_lo, y_hi)
            # few distinct levels when quantised: invert each once
            uniq, inv = np.unique(target, return_inverse=True)
            x = np.asarray(curve.inverse(uniq), dtype=float)[inv.reshape(target.shape)]
            return np.abs(np.asarray(curve.sample(x, rng), dtype=float)) / y_hi
        if self.weight_sigma == 0:
            return level
        spread = np.exp(self.weight_sigma * rng.standard_normal(level.shape))
        return level * spread

    def map_weights(self, w: np.ndarray, rng: np.random.Generator | int) -> np.ndarray:
        """Realise a weight matrix on differential device pairs; same shape and dtype.

        Full scale = ``max|w|`` of this matrix (a per-array read gain).  See
        the module docstring for levels, spread and ``weight_noise``.
        """
        w = np.asarray(w)
        if self._weights_ideal:
            return w.copy()
        gen = np.random.default_rng(rng)
        w_max = float(np.max(np.abs(w)))
        if w_max == 0:
            return w.copy()
        u = np.abs(w.astype(np.float64)) / w_max
        if self.weight_levels is not None:
            u = np.rint(u * (self.weight_levels - 1)) / (self.weight_levels - 1)
        g_pos = self._program(np.where(w > 0, u, 0.0), gen)
        g_neg = self._program(np.where(w < 0, u, 0.0), gen)
        out = w_max * (g_pos - g_neg)
        if self.weight_noise:
            # DenRAM: noise of std k*max|w| on every weight that exists (w != 0)
            out = out + (w != 0) * (self.weight_noise * w_max) * gen.standard_normal(w.shape)
        return out.astype(w.dtype)

    # ------------------------------------------------------ neuron parameters

    def map_tau(self, tau: np.ndarray, rng: np.random.Generator | int) -> np.ndarray:
        """Per-neuron time constants (s) with device heterogeneity; same shape.

        Ratios from ``tau_curve`` (its relative spread), else ``tau * exp(tau_sigma z)``.
        """
        tau = np.asarray(tau)
        gen = np.random.default_rng(rng)
        if self.tau_curve is not None:
            ratio = _relative_draw(self.tau_curve, tau.astype(float), gen)
        elif self.tau_sigma:
            ratio = np.exp(self.tau_sigma * gen.standard_normal(tau.shape))
        else:
            return tau.copy()
        return (tau * ratio).astype(tau.dtype)

    def map_threshold(self, v_th: float | np.ndarray, n: int, rng: np.random.Generator | int) -> np.ndarray | float:
        """Per-neuron thresholds (n,) with heterogeneity; ``v_th`` unchanged when ideal.

        Ratios from ``vth_curve``, else ``1 + vth_sigma z``, held >= 0.1 (a
        threshold at or below zero would make a neuron fire on its own).
        """
        gen = np.random.default_rng(rng)
        base = np.broadcast_to(np.asarray(v_th, dtype=float), (n,))
        if self.vth_curve is not None:
            ratio = _relative_draw(self.vth_curve, base, gen)
        elif self.vth_sigma:
            ratio = 1.0 + self.vth_sigma * gen.standard_normal(n)
        else:
            return v_th
        return base * np.maximum(ratio, 0.1)

    # --------------------------------------------------------------- network

    @property
    def neurons_ideal(self) -> bool:
        """True when time constants and thresholds are mapped exactly."""
        return self.tau_curve is None and self.tau_sigma == 0 and self.vth_curve is None and self.vth_sigma == 0

    def map_network(self, model: Sequential, chip: np.random.SeedSequence | int, dt: float) -> Sequential:
        """A copy of ``model`` as realised on ``chip``; the model is not changed.

        ``dt`` (s) is the step of the delays of delay layers.  Forward weight
        noise is switched off in the copy: a chip's devices are programmed
        once, and the mapped weights already hold the draw.
        """
        hw = copy.deepcopy(model)
        for i, layer in enumerate(hw.layers):
            if isinstance(layer, (DelayedDense, DelayedSynapses)):
                layer.delays = self.map_delays(layer.delays, dt, chip_rng(chip, i, _KEY["delays"]))
            for name in ("W", "W_in", "W_rec"):
                if name in layer.params and isinstance(layer, (Dense, DelayedDense, RecurrentLIF)):
                    layer.params[name][...] = self.map_weights(layer.params[name], chip_rng(chip, i, _KEY[name]))
            if self.crossbar is not None and isinstance(layer, Dense):
                layer.params["W"][...] = self.crossbar.map_matrix(layer.params["W"],
                                                                  chip_rng(chip, i, _KEY["crossbar"]))
            if hasattr(layer, "weight_noise"):
                layer.weight_noise = 0.0
            if isinstance(layer, LIF):
                self._map_lif(layer, chip, i)
            elif isinstance(layer, LeakyIntegrator):
                layer.tau = self.map_tau(layer.tau, chip_rng(chip, i, _KEY["tau"]))
        return hw

    def _map_lif(self, layer: LIF, chip: np.random.SeedSequence | int, i: int) -> None:
        tau = self.map_tau(layer.tau, chip_rng(chip, i, _KEY["tau"]))
        if layer.trainable_tau:
            layer.params["tau"][...] = tau
        else:
            layer._tau_fixed = tau
        v_th = self.map_threshold(layer.v_th, layer.n, chip_rng(chip, i, _KEY["v_th"]))
        layer.v_th = v_th if np.ndim(v_th) == 0 else np.asarray(v_th, dtype=layer.dtype)

    def evaluate(
        self,
        model: Sequential,
        X: np.ndarray,
        y: np.ndarray,
        chips: Sequence[np.random.SeedSequence | int],
        dt: float,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Accuracy (fraction) of ``model`` mapped onto each chip, shape (n_chips,)."""
        return np.array([evaluate(self.map_network(model, c, dt), X, y, batch_size) for c in chips])

    def energy_per_event_j(self) -> float | None:
        """Energy of one synaptic event (J) from ``energy_curve``, or None without one.

        The curve's y is the energy per input spike of one synapse (delay
        element + weight read); the median over its x grid stands for the
        programmed range.
        """
        if self.energy_curve is None:
            return None
        return float(np.nanmedian(self.energy_curve.y))
