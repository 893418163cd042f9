"""``pycircuits network``: run the network-level experiments on simulated chips.

A thin click layer over :mod:`pycircuits.studies`.
"""

from __future__ import annotations

import click

__all__ = ["commands", "network_group"]


@click.group("network")
def network_group() -> None:
    """Network experiments: trained networks mapped onto simulated chips."""


@network_group.command("list")
def list_experiments() -> None:
    """List the experiments."""
    from ..studies import STUDIES, experiment_names

    for name in experiment_names():
        click.echo(f"{name:10s} {STUDIES[name].doc}")


@network_group.command("run")
@click.argument("name")
@click.option("--curves", "curves", type=click.Path(file_okay=False), default=None,
              help="folder of TransferCurve JSON files (denram-delay.json, ...); fallbacks when missing")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None,
              help="folder for metrics.json and the plots [default: out/network/NAME]")
@click.option("--quick", is_flag=True, help="small data, few epochs and chips: seconds instead of minutes")
@click.option("--seed", type=int, default=0, show_default=True, help="experiment seed (data, chips, training)")
def run(name: str, curves: str | None, output: str | None, quick: bool, seed: int) -> None:
    """Run experiment NAME and print its table (ours vs published)."""
    from ..studies import format_table, run_experiment

    result = run_experiment(name, curves_dir=curves, out_dir=output, quick=quick, seed=seed)
    click.echo(format_table(result["table"]))
    if result["sources"]:
        click.echo("\nhardware model sources:")
        for role, source in result["sources"].items():
            click.echo(f"  {role:14s} {source}")
    folder = output or f"out/network/{name}"
    click.echo(f"\nwrote {len(result['files'])} files to {folder}/")


commands = [network_group]
