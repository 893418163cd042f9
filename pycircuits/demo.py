"""``pycircuits demo``: the flow on the embedded generic130 defaults, results in one folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .run import run_circuit

DEMO_CIRCUITS = ("rc", "rram-iv")


def run_demo(out: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Run each demo circuit, save its waveforms (.nc) and a PNG; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DEMO_CIRCUITS:
        res = run_circuit(name)
        nc, png = out / f"{name}.nc", out / f"{name}.png"
        res.save(nc)
        res.plot(png)
        written += [nc, png]
        for line in res.summary_lines():
            echo(line)
    return written
