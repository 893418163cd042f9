"""pycircuits: circuit-level SPICE co-simulation for neuromorphic hardware.

Python generates parameterised ngspice netlists (DenRAM dendrites, PCM-trace,
memristive/memcapacitive stacks, switched-capacitor minGRU cores), runs them,
extracts transfer curves and feeds them to a NumPy network simulator.

The public API, importable from here (each loaded on first use, so that
``import pycircuits.network`` never loads the engine):

* :func:`run_circuit` -- generate, simulate and measure one circuit;
* :func:`sweep` / :func:`load_dataset` -- sweeps and Monte Carlo into NetCDF datasets;
* :class:`TransferCurve` -- a characterised relation with its spread and provenance;
* :class:`HardwareModel` -- a network mapped onto simulated chips through curves;
* :class:`Session` -- the persistent in-process ngspice engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_API = {
    "run_circuit": "pycircuits.circuits.run",
    "sweep": "pycircuits.sweep",
    "load_dataset": "pycircuits.sweep",
    "TransferCurve": "pycircuits.extract.curve",
    "HardwareModel": "pycircuits.network.hardware",
    "Session": "pycircuits.spice",
}

__all__ = ["HardwareModel", "Session", "TransferCurve", "__version__", "load_dataset", "run_circuit", "sweep"]


def __getattr__(name: str) -> Any:
    if name == "sweep":
        # the subpackage of the same name is callable as sweep(): importing it binds it here
        return import_module("pycircuits.sweep")
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pycircuits' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
