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


def _network_file(source: str, network: str) -> str:
    """A run folder's network file (RUN_DIR/networks/NAME.npz), or the file given."""
    from pathlib import Path

    from ..errors import UsageError
    path = Path(source)
    if path.is_dir():
        folder = path / "networks"
        found = sorted(p.stem for p in folder.glob("*.npz")) if folder.is_dir() else []
        if not found:
            raise UsageError(f"{source} holds no trained network (networks/*.npz): run a study that writes one "
                             "(denram, crossbar) with -o there")
        if network not in found:
            raise UsageError(f"{source} has no network {network!r}; it has {', '.join(found)}")
        return str(folder / f"{network}.npz")
    if not path.is_file():
        raise UsageError(f"{source}: no such run folder or network file")
    return str(path)


@network_group.command("export")
@click.argument("source", metavar="RUN_DIR|NETWORK.npz")
@click.option("--network", default="ideal", show_default=True,
              help="which network of the run: ideal, or chipN (mapped onto simulated chip N)")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="the NIR file (.nir)")
def export(source: str, network: str, output: str) -> None:
    """Write a trained network as a NIR graph (snnTorch, Norse, Rockpool, Lava, Sinabs read it)."""
    from ..files import check_output
    from ..network.interchange import load_network, write_nir
    path = _network_file(source, network)
    check_output(output, suffixes=(".nir", ".h5", ".hdf5"), what="the NIR graph", inputs=(path,))
    model, meta = load_network(path)
    write_nir(model, output, float(meta["dt"]), meta)
    mapping = meta.get("mapping", {})
    how = f"mapped onto chip {mapping['chip']}" if mapping.get("mapped") else "ideal"
    curves = ", ".join(sorted(mapping.get("curves", {}))) or "none"
    click.echo(f"wrote {output}: {len(model.layers)} layers ({', '.join(type(x).__name__ for x in model.layers)}), "
               f"{how}; curves in its metadata: {curves}")


@network_group.command("import")
@click.argument("graph", metavar="NET.nir", type=click.Path(dir_okay=False))
@click.option("--dt", type=float, default=None, help="time step (s) for a graph that does not say its own")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="write our network file (.npz) of it")
def import_(graph: str, dt: float | None, output: str | None) -> None:
    """Read a NIR graph into our layers; print them (and write them with -o)."""
    from ..files import check_output
    from ..network.interchange import read_nir, save_network
    if output is not None:
        check_output(output, suffixes=".npz", what="the network file", inputs=(graph,))
    model, meta = read_nir(graph, dt)
    for i, layer in enumerate(model.layers):
        shapes = ", ".join(f"{k} {'x'.join(map(str, v.shape))}" for k, v in layer.params.items())
        click.echo(f"{i}: {type(layer).__name__}" + (f" ({shapes})" if shapes else ""))
    if output is not None:
        save_network(model, output, meta)
        click.echo(f"wrote {output}")


commands = [network_group]
