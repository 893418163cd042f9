"""The ``pycircuits`` command line: a thin click layer over the library.

Errors print one line on stderr and exit with 2 for bad input, 1 for a failed
simulation or regression, 0 for success.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import PycircuitsError, UsageError


class _Group(click.Group):
    """Turns our exceptions into one stderr line and the right exit status."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PycircuitsError as exc:
            click.echo(f"pycircuits: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("pycircuits: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="pycircuits")
def main() -> None:
    """Circuit-level SPICE co-simulation for neuromorphic hardware."""


def _params_option(f):
    return click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                        help="set a parameter (numbers take SPICE suffixes: 10k, 1meg, 2.5p)")(f)


def _pdk_options(f):
    f = click.option("--corner", default="tt", show_default=True, help="process corner")(f)
    return click.option("--pdk", default="generic130", show_default=True,
                        help="MOS model set: generic130 | sky130")(f)


@main.command()
def doctor() -> None:
    """Report ngspice, its library, the backends and the PDKs found."""
    from .doctor import report
    ok = report(click.echo)
    sys.exit(0 if ok else 2)


@main.command("list")
@click.argument("circuit", required=False)
def list_(circuit: str | None) -> None:
    """List circuits, or one circuit's parameters and measures."""
    from . import circuits
    from .params import specs
    if circuit is None:
        for name in circuits.names():
            click.echo(f"{name:14s} {circuits.get(name).doc}")
        return
    defn = circuits.get(circuit)
    click.echo(f"{defn.name}: {defn.doc}\n\nparameters:")
    click.echo(f"  {'name':18s} {'default':>14s} {'unit':6s} {'range':24s} doc")
    for s in specs(defn.params):
        default = ",".join(map(str, s.default)) if isinstance(s.default, tuple) else str(s.default)
        click.echo(f"  {s.name:18s} {default:>14s} {s.unit:6s} {s.range_text():24s} {s.doc}")
    click.echo("\nmeasures:")
    for name, doc in defn.measures.items():
        click.echo(f"  {name:22s} {doc}")


@main.command()
@click.argument("circuit")
@_params_option
@_pdk_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the netlist here")
@click.option("--relative-models", is_flag=True,
              help="write model paths relative to the output file (netlists kept in a repository)")
def netlist(circuit: str, params: tuple[str, ...], pdk: str, corner: str, output: str | None,
            relative_models: bool) -> None:
    """Print or write the netlist of CIRCUIT with its parameters."""
    from .circuits import generate, relocate_models
    from .params import parse_assignments
    _, _, net = generate(circuit, parse_assignments(params), pdk, corner)
    text = str(net)
    if output:
        if relative_models:
            text = relocate_models(text, output)
        _write_text(Path(output), text)
    else:
        click.echo(text, nl=False)


def _write_text(path: Path, text: str) -> None:
    """Write atomically; an unwritable path is bad input (exit 2)."""
    from .io import atomic_write_text
    atomic_write_text(path, text)


@main.command()
@click.argument("target")
@_params_option
@_pdk_options
@click.option("--backend", type=click.Choice(["session", "batch"]), default="session", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="save waveforms (.nc or .npz)")
@click.option("--raw", "raw", type=click.Path(dir_okay=False), help="keep ngspice's raw file (batch backend)")
@click.option("--plot", "plot", type=click.Path(dir_okay=False), help="PNG of the key waveforms")
@click.option("--json", "as_json", is_flag=True, help="print the measures as JSON")
def run(target: str, params: tuple[str, ...], pdk: str, corner: str, backend: str,
        output: str | None, raw: str | None, plot: str | None, as_json: bool) -> None:
    """Simulate CIRCUIT (or a netlist FILE.cir) and print its measures."""
    from .params import parse_assignments
    from .run import run_circuit, run_netlist_file
    values = parse_assignments(params)
    if target.endswith((".cir", ".sp", ".spice", ".net")) or Path(target).is_file():
        result = run_netlist_file(Path(target), values, backend=backend, raw=raw)
    else:
        result = run_circuit(target, values, pdk=pdk, corner=corner, backend=backend, raw=raw)
    if output:
        result.save(Path(output))
    if plot:
        result.plot(Path(plot))
    if as_json:
        click.echo(json.dumps(result.measures_jsonable(), indent=1))
    else:
        for line in result.summary_lines():
            click.echo(line)


@main.command()
@click.argument("circuit")
@click.option("--traces", type=click.Path(dir_okay=False), help="recorded software trace (.npz) to replay")
@click.option("--record", "record", is_flag=True, help="record a trace from the software twin instead")
@click.option("-o", "--output", type=click.Path(), help="report folder (replay) or trace file (--record)")
@_params_option
@click.option("--n-in", default=8, show_default=True, help="--record: inputs")
@click.option("--n-hidden", default=2, show_default=True, help="--record: hidden units")
@click.option("--n-steps", default=100, show_default=True, help="--record: steps")
@click.option("--seed", default=1, show_default=True, help="--record: seed of weights and inputs")
@click.option("--weights", type=click.Path(dir_okay=False), help="--record: weights .npz instead of random")
def regress(circuit, traces, record, output, params, n_in, n_hidden, n_steps, seed, weights) -> None:
    """Replay a recorded software trace through CIRCUIT and compare every step (exit 1 when outside tolerance)."""
    from . import regress as rg
    from .params import parse_assignments
    if record:
        if circuit != "scgru":
            raise UsageError(f"traces are recorded for scgru, not {circuit}")
        if not output:
            raise UsageError("give the trace file with -o FILE.npz")
        trace = rg.record_random(n_in, n_hidden, n_steps, seed, weights_file=weights)
        rg.save_trace(output, trace)
        click.echo(f"recorded {n_steps} steps of the software minGRU ({trace.weights.n_in} inputs, "
                   f"{trace.weights.n_hidden} units) -> {output}")
        return
    if not traces:
        raise UsageError("give the trace file with --traces FILE.npz (or --record to make one)")
    report = rg.regress(circuit, traces, output, parse_assignments(params))
    s = report.summary()
    click.echo(f"{circuit} vs software over {s['steps']} steps: max error {s['max_err_lsb']:.3f} LSB, "
               f"RMS {s['rms_err_lsb']:.3f} LSB, outputs agree on {100 * s['output_agreement']:.1f} % of steps")
    if s["first_failing_step"] is not None:
        click.echo(f"first failing step: {s['first_failing_step']}")
    click.echo("PASS" if s["passed"] else "FAIL")
    if output:
        click.echo(f"report in {output}/ (summary.json, steps.csv, overlay.png)")
    sys.exit(0 if s["passed"] else 1)


@main.command()
@click.option("-o", "--output", default="out", show_default=True, type=click.Path(file_okay=False),
              help="folder for the results")
@click.option("--mc", default=20, show_default=True, help="Monte Carlo samples per resistance in the sweep")
@click.option("--quick", is_flag=True, help="a small sweep and a quick network run (seconds, for tests)")
@click.option("--jobs", type=int, default=None, help="sweep worker processes (default: cores)")
def demo(output: str, mc: int, quick: bool, jobs: int | None) -> None:
    """Run the whole flow on the embedded defaults and write every result to OUTPUT."""
    from .demo import run_demo
    run_demo(Path(output), click.echo, mc=mc, quick=quick, jobs=jobs)


def _register_optional(group: click.Group) -> None:
    """Attach sub-commands that live in their own modules, when present."""
    import importlib
    for mod, attr in (("pycircuits.cli_sweep", "commands"), ("pycircuits.cli_network", "commands"),
                      ("pycircuits.cli_extract", "commands")):
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        for cmd in getattr(module, attr):
            group.add_command(cmd)


_register_optional(main)


def entry() -> None:
    """Console-script entry point: every error, click's own usage errors included, is one line."""
    try:
        # Without standalone mode click returns the status of ctx.exit() instead of exiting.
        status = main.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"pycircuits: error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("pycircuits: interrupted", err=True)
        sys.exit(130)
    except UsageError as exc:  # raised outside a command (should not happen)
        click.echo(f"pycircuits: error: {exc}", err=True)
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    entry()
