"""Circuit generators, one module per block; each module registers its circuit.

Modules in this package are imported on first use of the registry, so adding
a block is adding a module that calls :func:`register`.

Installed packages add circuits through the entry-point group
``pycircuits.circuits`` (:data:`ENTRY_POINT_GROUP`): each entry point is a
:class:`CircuitDef`, or a function returning one (or a list of them).  They
are loaded with the built-in circuits, in every process that looks a circuit
up (sweep workers and Dask workers too, where the package must be installed
as well).  A plugin that cannot be loaded, or that takes a built-in name, is
skipped with one line on stderr and does not stop the other circuits.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import UsageError
from ..params import make_params
from ..pdk import get_pdk
from .base import REGISTRY, CircuitDef, Netlist, is_deck, pwl, register, relocate_models

ENTRY_POINT_GROUP = "pycircuits.circuits"
PLUGINS: dict[str, str] = {}  # circuit name -> "distribution version (entry point)"
PLUGIN_ERRORS: list[str] = []  # one line per entry point that could not be loaded
_CIRCUIT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in pkgutil.iter_modules(__path__):
        if mod.name not in ("base", "deck") and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    _load_plugins()


def _load_plugins() -> None:
    from importlib.metadata import entry_points
    builtin = set(REGISTRY)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "?"
        try:
            obj = ep.load()
            made = obj if isinstance(obj, CircuitDef) else obj() if callable(obj) else obj
            defs = list(made) if isinstance(made, (list, tuple)) else [made]
            for defn in defs:
                if not isinstance(defn, CircuitDef):
                    raise TypeError(f"gave a {type(defn).__name__}, not a CircuitDef")
                if not _CIRCUIT_NAME.match(defn.name):
                    raise ValueError(f"circuit name {defn.name!r} is not lower-case letters, digits, - and _")
                if defn.name in builtin or (defn.name in PLUGINS and REGISTRY.get(defn.name) is not defn):
                    raise ValueError(f"circuit name {defn.name!r} is taken")
                REGISTRY[defn.name] = defn
                PLUGINS[defn.name] = f"{dist} ({ep.value})"
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the built-in circuits
            line = f"circuit plugin {ep.name} = {ep.value} ({dist}) skipped: {type(exc).__name__}: {exc}"
            PLUGIN_ERRORS.append(" ".join(line.split()))
            sys.stderr.write(f"pycircuits: warning: {PLUGIN_ERRORS[-1]}\n")


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
    return defn.extra.get("corner", "") if is_deck(defn) else "tt"


def check_corner(defn: CircuitDef, pdk: str, corner: str) -> str:
    """The corner if the circuit can run at it (on ``pdk``, or in a deck's corner library)."""
    from .deck import check_corner as deck_corner
    if is_deck(defn):
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
    the_pdk = None if is_deck(defn) else get_pdk(pdk)
    return defn, params, defn.build(params, the_pdk, corner)


__all__ = ["ENTRY_POINT_GROUP", "PLUGINS", "PLUGIN_ERRORS", "REGISTRY", "CircuitDef", "Netlist", "check_corner",
           "default_corner", "generate", "get", "is_deck", "names", "pwl", "register", "relocate_models"]
