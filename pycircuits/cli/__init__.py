"""The ``pycircuits`` command line: a thin click layer over the library.

One module per command group; each lists its commands in ``commands`` and is
registered here.  Errors print one line on stderr and exit with 2 for bad
input, 1 for a failed simulation or regression, 0 for success.
"""

from __future__ import annotations

import sys
import warnings

import click

from .. import __version__, progress
from ..errors import PycircuitsError, UsageError
from . import circuits, demo, doctor, extract, network, regress, report, sweep


def one_line(message: object) -> str:
    """An error as one line: control characters a user's input brought in (newlines...) shown escaped."""
    text = str(message)
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


class _Group(click.Group):
    """Turns our exceptions into one stderr line and the right exit status."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PycircuitsError as exc:
            click.echo(f"pycircuits: error: {one_line(exc)}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("pycircuits: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="pycircuits")
@click.option("-v", "--verbose", count=True,
              help="say more on stderr: -v the engine and cache used and ngspice's notes, -vv ngspice's output")
@click.option("-q", "--quiet", is_flag=True,
              help="no progress bars, and log records only for errors (warnings about the input stay)")
def main(verbose: int, quiet: bool) -> None:
    """Circuit-level SPICE co-simulation for neuromorphic hardware."""
    if verbose and quiet:
        raise UsageError("give -v or -q, not both")
    progress.configure(verbose, quiet)


for _module in (doctor, circuits, sweep, extract, network, regress, report, demo):
    for _command in _module.commands:
        main.add_command(_command)


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001 - warnings' hook
    """Our warnings as one line each; others as Python shows them."""
    from ..params import SuffixWarning
    if issubclass(category, SuffixWarning):
        click.echo(f"pycircuits: warning: {one_line(message)}", err=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def entry() -> None:
    """Console-script entry point: every error, click's own usage errors included, is one line."""
    warnings.showwarning = _show_warning
    try:
        # Without standalone mode click returns the status of ctx.exit() instead of exiting.
        status = main.main(prog_name="pycircuits", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"pycircuits: error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("pycircuits: interrupted", err=True)
        sys.exit(130)
    except UsageError as exc:  # raised outside a command (should not happen)
        click.echo(f"pycircuits: error: {one_line(exc)}", err=True)
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)
