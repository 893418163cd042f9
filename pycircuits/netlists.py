"""Golden netlists: every registered circuit at its defaults on generic130.

``make netlists`` (``python -m pycircuits.netlists netlists``) writes
``netlists/<circuit>.cir`` with model paths relative to that folder, so the
files run in bare ``ngspice -b`` from a checkout.  A test regenerates them and
fails when a generator's output drifts from the checked-in file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .circuits import generate, names, relocate_models
from .io import atomic_write_text


def golden_text(circuit: str, target: Path) -> str:
    """The default netlist of ``circuit`` as it is written to ``target``."""
    _, _, net = generate(circuit)
    return relocate_models(str(net), target)


def write_all(folder: Path) -> list[Path]:
    """Write every circuit's golden netlist into ``folder``; return the paths."""
    out = []
    for name in names():
        path = folder / f"{name}.cir"
        atomic_write_text(path, golden_text(name, path))
        out.append(path)
    return out


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "netlists")):
        print(p)
