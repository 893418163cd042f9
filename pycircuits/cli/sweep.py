"""``pycircuits sweep``: the command-line face of :func:`pycircuits.sweep.sweep`.

It parses, calls the library and prints a summary; every
check lives in the library, so errors come back as one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from ..errors import SimulationError, UsageError
from ..spice.ngshared import DEFAULT_THREADS
from .options import _threads_option, circuit_name, complete_circuit, threads_value


def _number(text: str | None, what: str, kind: type = int) -> Any:
    if text is None:
        return None
    from ..params import parse_number
    try:
        value = parse_number(text, what)
    except UsageError:
        raise UsageError(f"{what}: expected a number, got {text!r}") from None
    if kind is int:
        if value != int(value):
            raise UsageError(f"{what}: expected an integer, got {text}")
        return int(value)
    return value


def _merge_vary(from_file: dict[str, Any], from_cli: tuple[str, ...]) -> list[Any]:
    """Axes of the sweep file, then those of --vary (which replace a file axis of the same name)."""
    cli = {}
    for item in from_cli:
        name, sep, _ = item.partition("=")
        if not sep:
            raise UsageError(f"--vary expects NAME=lin:A:B:N|log:A:B:N|list:a,b,c, got {item!r}")
        if name.strip() in cli:
            raise UsageError(f"--vary {name.strip()}: parameter swept twice")
        cli[name.strip()] = item
    out: list[Any] = [(k, v) for k, v in from_file.items() if k not in cli]
    return [f"{k}={v}" if isinstance(v, str) else (k, v) for k, v in out] + list(cli.values())


def _as_vary(items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if isinstance(item, tuple):
            out[item[0]] = item[1]
        else:
            name, _, spec = item.partition("=")
            out[name.strip()] = spec
    return out


@click.command("sweep")
@click.argument("circuit", required=False, callback=circuit_name, shell_complete=complete_circuit)
@click.option("--vary", multiple=True, metavar="NAME=SPEC",
              help="sweep a parameter: lin:A:B:N | log:A:B:N | list:a,b,c (repeat for a grid; first outermost)")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="set a base parameter")
@click.option("--mc", metavar="N", help="Monte Carlo samples per grid point (the circuit's sampler)")
@click.option("--vary-mc", "vary_mc", multiple=True, metavar="NAME=DIST",
              help="draw a parameter per sample: lognormal:SIGMA | normal:REL% | normal:ABS | uniform:A:B")
@click.option("--allow-control", is_flag=True, help="run a deck's .control block at every point")
@click.option("--seed", metavar="S", help="seed of the Monte Carlo draws  [default: 0]")
@click.option("--corner", "corners", multiple=True, metavar="C[,C...]", help="process corners  [default: tt]")
@click.option("--pdk", default=None, help="MOS model set: generic130 | sky130  [default: generic130]")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), help="TOML sweep file (options add to it)")
@click.option("--jobs", metavar="N", help="local worker processes  [default: one per CPU]")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler instead")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="cache folder  [default: the user cache folder]")
@click.option("--no-cache", is_flag=True, help="neither read nor write the cache")
@click.option("--keep-waveforms", is_flag=True, help="store waveforms (resampled on a common grid)")
@click.option("--timeout", "timeout_s", metavar="SECONDS", default="300", show_default=True,
              help="per-point limit (local workers)")
@click.option("--recycle", metavar="N", default="500", show_default=True,
              help="restart a worker after N analyses (bounds libngspice's memory)")
@click.option("--batch-size", metavar="N",
              help="points per worker task  [default: a quarter of each worker's share; >= 100 on Dask]")
@_threads_option
@click.option("--backend", type=click.Choice(["session", "batch", "vacask"]), default=None,
              help="engine of every point: session (load once, alterparam per point), batch (ngspice -b per "
                   "point) or vacask (the vacask extra)  [default: session]")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="SWEEP.nc",
              help="dataset to write (a CSV of the scalar measures goes beside it)")
def sweep_cmd(circuit: str | None, vary: tuple[str, ...], params: tuple[str, ...], mc: str | None,
              vary_mc: tuple[str, ...], allow_control: bool, seed: str | None, corners: tuple[str, ...],
              pdk: str | None, plan_file: str | None,
              jobs: str | None, scheduler: str | None, cache_dir: str | None, no_cache: bool,
              keep_waveforms: bool, timeout_s: str, recycle: str, batch_size: str | None,
              ngspice_threads: str | None, backend: str | None, output: str | None) -> None:
    """Sweep CIRCUIT over parameters, Monte Carlo samples and corners; write SWEEP.nc and SWEEP.csv."""
    from ..params import parse_assignments
    from ..sweep import load_plan_file, sweep
    from ..sweep.dataset import csv_path
    spec: dict[str, Any] = load_plan_file(plan_file) if plan_file else {}
    if circuit and spec.get("circuit") and spec["circuit"] != circuit and spec.get("circuit_as_written") != circuit:
        raise UsageError(f"circuit {circuit} given, but the sweep file is for {spec['circuit']}")
    circuit = circuit or spec.get("circuit")
    if not circuit:
        raise UsageError("no circuit given (pycircuits sweep CIRCUIT ... or circuit = \"...\" in --plan)")
    if output is None:
        raise UsageError("no output given: -o SWEEP.nc")
    from ..sweep.dataset import check_writable
    check_writable(output, inputs=(plan_file, circuit if Path(str(circuit)).is_file() else None))
    if no_cache and cache_dir:
        raise UsageError("give --cache DIR or --no-cache, not both")
    base = {k: (",".join(map(str, v)) if isinstance(v, list) else v) for k, v in spec.get("params", {}).items()}
    base.update(parse_assignments(params))
    ds = sweep(circuit, _as_vary(_merge_vary(spec.get("vary", {}), vary)), base,
               mc=_number(mc, "--mc") if mc is not None else spec.get("mc", 0),
               seed=_number(seed, "--seed") if seed is not None else spec.get("seed", 0),
               corners=list(corners) or spec.get("corners"),
               pdk=pdk or spec.get("pdk", "generic130"), jobs=_number(jobs, "--jobs"), scheduler=scheduler,
               cache=False if no_cache else (cache_dir or True), keep_waveforms=keep_waveforms,
               timeout_s=_number(timeout_s, "--timeout", float), recycle=_number(recycle, "--recycle"),
               ngspice_threads=threads_value(ngspice_threads) or spec.get("ngspice_threads", DEFAULT_THREADS),
               batch_size=_number(batch_size, "--batch-size") if batch_size is not None else spec.get("batch_size"),
               output=output, vary_mc={**spec.get("vary_mc", {}), **_as_vary(list(vary_mc))},
               allow_control=allow_control or spec.get("allow_control", False),
               backend=backend or spec.get("backend", "session"))
    for line in summary_lines(ds):
        click.echo(line)
    click.echo(f"wrote {output} and {csv_path(output)}")
    a = ds.attrs
    if a["n_points"] and a["n_failed"] == a["n_points"]:
        first = next(str(e) for e in ds["error"].values.ravel() if e)
        raise SimulationError(f"all {a['n_points']} points failed; first error: {first}")


def _engine_line(a) -> str:
    backend = a.get("backend", "session")
    return {"session": "ngspice", "batch": "ngspice -b"}.get(backend, f"{backend} ({a.get('backend_version', '')})")


def summary_lines(ds) -> list[str]:
    """What a sweep did, for humans: counts, time, rate, first failures."""
    a = ds.attrs
    rate = a["n_points"] / a["wall_time_s"] if a["wall_time_s"] > 0 else 0.0
    lines = [f"sweep {a['circuit']}: {a['n_points']} points ({a['n_computed']} computed, {a['n_cached']} cached, "
             f"{a['n_failed']} failed) in {a['wall_time_s']:.1f} s, {rate:.1f} points/s",
             f"{_engine_line(a)}: {a['n_runs']} runs, {a['n_loads']} circuit loads, {a['n_batches']} batches of "
             f"up to {a.get('batch_size', '?')} points on {a['executor']}"
             + (f", {a.get('ngspice_threads', 1)} OpenMP thread(s) per worker"
                if a.get("backend", "session") != "vacask" else "")]
    if a["n_failed"]:
        dims = list(ds["error"].dims)
        errors = ds["error"].values
        shown = 0
        for idx in np.ndindex(errors.shape):
            if not errors[idx]:
                continue
            where = ", ".join(f"{d}={_coord(ds, d, i)}" for d, i in zip(dims, idx, strict=True)) or "the point"
            lines.append(f"  failed: {where}: {errors[idx]}")
            shown += 1
            if shown == 3:
                break
        if a["n_failed"] > shown:
            lines.append(f"  ... and {a['n_failed'] - shown} more (see the error column of the CSV)")
    return lines


def _coord(ds, dim: str, i: int) -> str:
    v = ds[dim].values[i] if dim in ds.coords else i
    return f"{v:g}" if isinstance(v, float) else str(v)


commands = [sweep_cmd]

__all__ = ["commands", "summary_lines", "sweep_cmd"]
