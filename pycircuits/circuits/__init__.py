"""Circuit generators, one module per block; each module registers its circuit.

Modules in this package are imported on first use of the registry, so adding
a block is adding a module that calls :func:`register`.
"""

from __future__ import annotations

import importlib
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
        if mod.name != "base" and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    _loaded = True


def names() -> list[str]:
    """Names of every registered circuit, sorted."""
    _load_all()
    return sorted(REGISTRY)


def get(name: str) -> CircuitDef:
    """The circuit called ``name``; :class:`UsageError` listing the known ones otherwise."""
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown circuit {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def generate(name: str, values: Mapping[str, Any] | None = None, pdk: str = "generic130",
             corner: str = "tt") -> tuple[CircuitDef, Any, Netlist]:
    """Validate ``values`` for circuit ``name`` and build its netlist on ``pdk``/``corner``."""
    defn = get(name)
    params = make_params(defn.params, values)
    the_pdk = get_pdk(pdk)
    the_pdk.check_corner(corner)
    return defn, params, defn.build(params, the_pdk, corner)


__all__ = ["REGISTRY", "CircuitDef", "Netlist", "generate", "get", "names", "pwl", "register",
           "relocate_models"]
