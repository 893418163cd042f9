"""``pycircuits demo``: the whole flow on the embedded defaults."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("-o", "--output", default="out", show_default=True, type=click.Path(file_okay=False),
              help="folder for the results")
@click.option("--mc", default=20, show_default=True, help="Monte Carlo samples per resistance in the sweep")
@click.option("--quick", is_flag=True, help="a small sweep and a quick network run (seconds, for tests)")
@click.option("--jobs", type=int, default=None, help="sweep worker processes (default: cores)")
def demo(output: str, mc: int, quick: bool, jobs: int | None) -> None:
    """Run the whole flow on the embedded defaults and write every result to OUTPUT."""
    from ..flows import run_demo
    run_demo(Path(output), click.echo, mc=mc, quick=quick, jobs=jobs)


commands = [demo]
