"""What every circuit generator shares: the netlist type and the registry entry.

A generator is a pure function ``build(params, pdk, corner) -> Netlist`` of a
typed :class:`~pycircuits.params.Params` object.  :class:`Netlist` is a PySpice
``Circuit`` (users can compose it into their own testbenches) whose ``str()``
is a standalone deck: models, ``.param`` lines, elements, options, the
analysis and ``.end`` -- it runs in bare ``ngspice -b``.

Swept scalar values are written as ``.param NAME=VALUE`` lines and referenced
as ``{NAME}`` so that a loaded circuit can be re-run with ``alterparam``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySpice.Spice.Netlist import Circuit

from ..params import Params, fmt
from ..pdk import DEVICEMODELS, Pdk
from ..spice.deck import rewrite_model_paths
from ..spice.waveforms import Waveforms


class Netlist(Circuit):
    """A PySpice ``Circuit`` that prints as a complete ngspice deck.

    ``analysis`` is the analysis line (``.tran 1e-06 0.005``), ``options`` the
    ``.options`` settings; model files are written as given (absolute paths),
    quoted so that paths with spaces survive.
    """

    def __init__(self, title: str, analysis: str = "", options: Mapping[str, Any] | None = None):
        super().__init__(title)
        self.analysis = analysis
        self.options = dict(options or {})
        self.saves: list[str] = []
        self.prints: list[str] = []  # vectors bare `ngspice -b` prints (default: all)

    def param(self, name: str, value: float) -> str:
        """Declare ``.param name=value`` and return the ``{name}`` reference."""
        self.parameter(name, fmt(value))
        return "{" + name + "}"

    def _str_libs(self, simulator=None):  # noqa: ARG002 - PySpice signature
        return "".join(f'.lib "{lib}" {section or ""}'.rstrip() + "\n" for lib, section in self._libs)

    def _str_includes(self, simulator=None):  # noqa: ARG002 - PySpice signature
        return "".join(f'.include "{path}"\n' for path in self._includes)

    def str(self, simulator=None) -> str:  # noqa: A003 - PySpice's name
        text = super().str(simulator)
        tail = []
        if self.options:
            opts = " ".join(k if v is True else f"{k}={fmt(v) if not isinstance(v, str) else v}"
                            for k, v in self.options.items())
            tail.append(f".options {opts}")
        if self.saves:
            tail.append(".save " + " ".join(self.saves))
        if self.analysis:
            tail.append(self.analysis)
            kind = self.analysis.split()[0].lstrip(".").lower()
            if kind in ("tran", "dc", "ac"):
                # Bare `ngspice -b deck.cir` runs no analysis without a .print
                # line; with -r it writes the raw file and prints nothing more.
                tail.append(f".print {kind} {' '.join(self.prints) or 'all'}")
        tail.append(".end")
        return text + "\n".join(tail) + "\n"


def pwl(points: list[tuple[float, float]]) -> str:
    """A ``PWL(...)`` source value from (time s, value) pairs, numbers via :func:`fmt`."""
    return "PWL(" + " ".join(f"{fmt(t)} {fmt(v)}" for t, v in points) + ")"


def relocate_models(netlist: str, target: str | Path) -> str:
    """Rewrite model paths under the package's devicemodels/ relative to ``target``'s folder.

    Used for netlists written to files that travel with the repository (the
    golden netlists): ngspice resolves a relative ``.lib``/``.include`` path
    against the folder of the netlist that names it.
    """
    rel = os.path.relpath(DEVICEMODELS, Path(target).resolve().parent)
    prefix = f"{DEVICEMODELS}/"
    return rewrite_model_paths(netlist, lambda p: f"{rel}/{p[len(prefix):]}" if p.startswith(prefix) else None)


Measure = Callable[[Waveforms, Any], dict[str, Any]]


@dataclass(frozen=True)
class CircuitDef:
    """A registered circuit: its parameters, generator, measures and plot.

    ``measures`` documents each named output as ``name -> "unit: meaning"``;
    ``measure(waveforms, params)`` computes them (floats or 1-D arrays).
    ``monte_carlo(params, rng)`` draws one device-to-device sample: it returns
    parameter overrides (literal numbers) computed from the circuit's
    ``variability=True`` parameters with the ``numpy.random.Generator`` given,
    so that a seeded sweep gives the same numbers whatever the scheduling.
    """

    name: str
    doc: str
    params: type[Params]
    build: Callable[[Any, Pdk, str], Netlist]
    measure: Measure
    measures: dict[str, str]
    plot: Callable[[Waveforms, Any, Any], None] | None = None
    monte_carlo: Callable[[Any, Any], dict[str, Any]] | None = None
    pdk_required: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def is_deck(defn: CircuitDef) -> bool:
    """Whether a circuit is a user's deck (:mod:`pycircuits.circuits.deck`) rather than a generator."""
    return "deck" in defn.extra


REGISTRY: dict[str, CircuitDef] = {}


def register(defn: CircuitDef) -> CircuitDef:
    """Add a circuit to the registry (each module registers its own at import)."""
    REGISTRY[defn.name] = defn
    return defn
