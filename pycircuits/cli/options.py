"""Options several commands share."""

from __future__ import annotations

import click


def _params_option(f):
    return click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                        help="set a parameter (numbers take SPICE suffixes: 10k, 1meg, 2.5p)")(f)


def _pdk_options(f):
    f = click.option("--corner", default=None,
                     help="process corner  [default: tt; a deck: the section it selects]")(f)
    return click.option("--pdk", default="generic130", show_default=True,
                        help="MOS model set: generic130 | sky130")(f)


def _threads_option(f):
    return click.option("--ngspice-threads", "ngspice_threads", metavar="N",
                        help="ngspice's OpenMP threads per process (BSIM device evaluation)  [default: 1]")(f)


def threads_value(text: str | None) -> int | None:
    """The --ngspice-threads value checked (None when not given)."""
    if text is None:
        return None
    from ..errors import UsageError
    from ..spice.ngshared import MAX_THREADS, check_threads
    try:
        return check_threads(float(text))
    except (ValueError, UsageError):
        raise UsageError(f"--ngspice-threads: expected an integer from 1 to {MAX_THREADS}, got {text!r}") from None


def circuit_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A CIRCUIT argument: a built-in name that is also a file here gets one line saying which runs."""
    import os
    if value and "/" not in value and os.path.isfile(value):
        from .. import circuits
        if value in circuits.names():
            click.echo(f"note: {value} is the built-in circuit; to use the file {value} here, give it as "
                       f"./{value}", err=True)
    return value


def complete_circuit(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Shell completion of a CIRCUIT argument: the built-in and plugin circuits, then deck files."""
    from click.shell_completion import CompletionItem

    from .. import circuits
    items = [CompletionItem(n) for n in circuits.names() if n.startswith(incomplete)]
    return [*items, CompletionItem(incomplete, type="file")]
