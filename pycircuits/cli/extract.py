"""``pycircuits extract`` and ``pycircuits plot``: sweeps to TransferCurves, and figures of both."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ..errors import UsageError


@click.command("extract")
@click.argument("recipe_name", required=False, metavar="RECIPE")
@click.argument("sweep_file", required=False, type=click.Path(dir_okay=False), metavar="[SWEEP.nc]")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="curve file (.json)")
@click.option("--list", "list_", is_flag=True, help="list the recipes")
@click.option("--run", "run_", is_flag=True, help="run the sweep the recipe needs first")
@click.option("--mc", default=50, show_default=True, help="Monte Carlo samples per point with --run")
@click.option("--seed", default=1, show_default=True, help="Monte Carlo seed with --run")
@click.option("--jobs", type=int, default=None, help="worker processes with --run (default: cores)")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="override a sweep parameter")
@click.option("--sweep-out", type=click.Path(dir_okay=False), help="with --run, also keep the sweep dataset")
@click.option("--x", "x_param", metavar="PARAM", help="extract curve: the swept parameter on x")
@click.option("--y", "y_measure", metavar="MEASURE", help="extract curve: the measure on y")
@click.option("--log-x", is_flag=True, help="extract curve: interpolate the curve in log(x)")
@click.option("--name", help="extract curve: the curve's name (default MEASURE-vs-PARAM)")
def extract_cmd(recipe_name, sweep_file, output, list_, run_, mc, seed, jobs, params, sweep_out,
                x_param, y_measure, log_x, name) -> None:
    """Make a TransferCurve (JSON) from SWEEP.nc with RECIPE, or run its sweep first (--run).

    RECIPE "curve" takes any sweep, of a built-in circuit or a deck:
    pycircuits extract curve SWEEP.nc --x PARAM --y MEASURE [--log-x] -o CURVE.json
    """
    from ..extract.recipes import build_curve, generic_recipe, get_recipe, recipe_names
    from ..flows import run_recipe_sweep
    from ..params import parse_assignments
    if list_:
        click.echo(f"{'curve':16s} any measure against any swept parameter (--x PARAM --y MEASURE) [any circuit]")
        for name in recipe_names():
            r = get_recipe(name)
            click.echo(f"{name:16s} {r.doc} [circuit {r.circuit}]")
        return
    if not recipe_name:
        raise UsageError("name a recipe (pycircuits extract --list shows them)")
    generic = recipe_name == "curve"
    if not generic and (x_param or y_measure or log_x or name):
        raise UsageError("--x, --y, --log-x and --name belong to: pycircuits extract curve SWEEP.nc --x PARAM "
                         "--y MEASURE")
    if generic and (run_ or not (sweep_file and x_param and y_measure)):
        raise UsageError("usage: pycircuits extract curve SWEEP.nc --x PARAM --y MEASURE [--log-x] -o CURVE.json")
    r = None if generic else get_recipe(recipe_name)
    if not output:
        raise UsageError("give the curve file with -o CURVE.json")
    from ..files import check_output
    from ..sweep.dataset import csv_path
    check_output(output, suffixes=".json", what="a curve",
                 inputs=(sweep_file, csv_path(sweep_file) if sweep_file else None), outputs=(sweep_out,))
    if sweep_out:
        from ..sweep.dataset import check_writable
        check_writable(sweep_out)
    if generic:
        from ..sweep import load_dataset
        ds = load_dataset(sweep_file)
        r = generic_recipe(ds, x_param, y_measure, log_x=True if log_x else None, name=name)
    elif run_:
        if sweep_file:
            raise UsageError("give either a sweep file or --run, not both")
        ds = run_recipe_sweep(r, mc=mc, seed=seed, jobs=jobs, overrides=parse_assignments(params),
                              output=sweep_out)
    else:
        if not sweep_file:
            raise UsageError(f"give the sweep dataset, or --run to simulate it (recipe {r.name} needs a sweep "
                             f"of {r.circuit})")
        from ..sweep import load_dataset
        ds = load_dataset(sweep_file)
    curve = build_curve(r, ds)
    curve.to_json(output)
    finite = curve.y[np.isfinite(curve.y)]
    y_range = f"y {finite.min():.4g}..{finite.max():.4g} {curve.y_unit}".rstrip() if finite.size else "no finite y"
    missing = f" ({len(curve.y) - finite.size} x points without a finite median)" if finite.size < len(curve.y) else ""
    click.echo(f"{r.name}: {len(curve.x)} points, x {curve.x[0]:.4g}..{curve.x[-1]:.4g} {curve.x_unit}".rstrip()
               + f", {y_range}{missing} -> {output}")
    for k, v in curve.extra.items():
        click.echo(f"  {k} = {v}")


@click.command("plot")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="PNG file (default: FILE with .png)")
@click.option("--measure", help="for a sweep: the measure to draw (default: the first)")
def plot_cmd(file: str, output: str | None, measure: str | None) -> None:
    """Draw a TransferCurve (.json, with its spread and law) or a sweep (.nc, measure vs parameter)."""
    from ..files import check_output
    from ..flows import plot_curve_file, plot_sweep_file
    path = Path(file)
    out = Path(output) if output else path.with_suffix(".png")
    check_output(out, suffixes=".png", what="a plot", inputs=(path,))
    if path.suffix == ".json":
        plot_curve_file(path, out)
    elif path.suffix == ".nc":
        plot_sweep_file(path, out, measure)
    else:
        raise UsageError(f"cannot plot {path.name}: give a curve (.json) or a sweep (.nc)")
    click.echo(f"wrote {out}")


commands = [extract_cmd, plot_cmd]
