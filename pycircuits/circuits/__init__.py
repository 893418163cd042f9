"""Circuit generators, one module per block; each module registers its circuit.

Modules in this package are imported on first use of the registry, so adding
a block is adding a module that calls :func:`register`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Mapping
from typing import Any

from ..errors import UsageError
from ..params import make_params
from ..pdk import get_pdk
from .base import REGISTRY, CircuitDef, Netlist, pwl, register, relocate_models

_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in pkgutil.iter_modules(__path__):
        if mod.name not in ("base", "deck") and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    _loaded = True


def names() -> list[str]:
    """Names of every registered circuit, sorted."""
    _load_all()
    return sorted(REGISTRY)


def get(name: str) -> CircuitDef:
    """The circuit called ``name``, or the deck file ``name`` names; :class:`UsageError` otherwise.

    A registered name always means the circuit.  A deck is named by a path
    that says it is one: a deck suffix (``.cir``, ``.sp``, ``.spice``...) or a
    folder in it (``./rc``).
    """
    from .deck import deck_circuit, is_deck_name
    _load_all()
    if name in REGISTRY:
        return REGISTRY[name]
    if is_deck_name(name):
        return deck_circuit(name)
    hint = f"; a file of that name is here: give it as ./{name} to run it as a deck" \
        if os.path.isfile(name) else ""
    raise UsageError(f"unknown circuit {name!r}; known: {', '.join(sorted(REGISTRY))}{hint}")


def default_corner(defn: CircuitDef) -> str:
    """The corner a circuit runs at when none is asked for: ``tt``, or the one a deck selects."""
    return defn.extra.get("corner", "") if "deck" in defn.extra else "tt"


def check_corner(defn: CircuitDef, pdk: str, corner: str) -> str:
    """The corner if the circuit can run at it (on ``pdk``, or in a deck's corner library)."""
    from .deck import check_corner as deck_corner
    if "deck" in defn.extra:
        return deck_corner(defn, corner)
    get_pdk(pdk).check_corner(corner)
    return corner


def generate(name: str, values: Mapping[str, Any] | None = None, pdk: str = "generic130",
             corner: str | None = None) -> tuple[CircuitDef, Any, Netlist | str]:
    """Validate ``values`` for circuit ``name`` and build its netlist on ``pdk``/``corner``.

    A deck (see :func:`get`) brings its own models: ``pdk`` is not used and
    ``corner`` switches its corner library (None: the circuit's default).
    """
    defn = get(name)
    params = make_params(defn.params, values)
    corner = default_corner(defn) if corner is None else corner
    check_corner(defn, pdk, corner)
    the_pdk = None if "deck" in defn.extra else get_pdk(pdk)
    return defn, params, defn.build(params, the_pdk, corner)


__all__ = ["REGISTRY", "CircuitDef", "Netlist", "check_corner",
           "default_corner", "generate", "get", "names", "pwl", "register", "relocate_models"]
