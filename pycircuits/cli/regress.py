"""``pycircuits regress``: a circuit against traces recorded from its software twin."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import UsageError
from .options import _params_option, circuit_name, complete_circuit


@click.command()
@click.argument("circuit", metavar="CIRCUIT|FILE.cir", callback=circuit_name, shell_complete=complete_circuit)
@click.option("--traces", type=click.Path(dir_okay=False), help="recorded trace to replay (.csv or .npz)")
@click.option("--record", "record", is_flag=True, help="record a trace from the software twin instead")
@click.option("-o", "--output", type=click.Path(), help="report folder (replay) or trace file (--record)")
@_params_option
@click.option("--backend", type=click.Choice(["session", "batch"]), default="session", show_default=True,
              help="ngspice backend of the replay")
@click.option("--n-in", default=8, show_default=True, help="scgru --record: inputs")
@click.option("--n-hidden", default=2, show_default=True, help="scgru --record: hidden units")
@click.option("--n-steps", default=100, show_default=True, help="scgru --record: steps")
@click.option("--seed", default=1, show_default=True, help="scgru --record: seed of weights and inputs")
@click.option("--weights", type=click.Path(dir_okay=False), help="scgru --record: weights .npz instead of random")
@click.option("--gate-slope", default=1.0, show_default=True, help="scgru --record: hard-sigmoid slope of the gate")
@click.option("--h0", default=0.0, show_default=True, help="scgru --record: initial state of every unit")
def regress(circuit, traces, record, output, params, backend, n_in, n_hidden, n_steps, seed, weights,
            gate_slope, h0) -> None:
    """Replay a recorded trace through CIRCUIT (a circuit or a deck) and compare (exit 1 when outside tolerance).

    A trace table (CSV or NPZ, see pycircuits.regress.table) drives named sources of the circuit with its
    stimulus columns and compares its waveform and meas: columns, each within its tolerance. --record writes
    one from the software twin of denram, pcm-trace or memstack (-o T.csv), or scgru's step trace (-o T.npz).
    """
    from .. import regress as rg
    from ..params import parse_assignments
    from ..regress import records, table
    overrides = parse_assignments(params)
    if record:
        if not output:
            raise UsageError("give the trace file with -o FILE.csv|FILE.npz")
        if circuit == "scgru":
            for name, value, low in (("--n-in", n_in, 1), ("--n-hidden", n_hidden, 1), ("--n-steps", n_steps, 1),
                                     ("--seed", seed, 0)):
                if value < low:
                    raise UsageError(f"{name}: expected an integer of at least {low}, got {value}")
            if not (0.0 < gate_slope <= 16.0) or not (-1.0 <= h0 <= 1.0):
                raise UsageError(f"--gate-slope must be in (0, 16] and --h0 in [-1, 1], got {gate_slope:g} and {h0:g}")
            from ..files import check_output
            check_output(output, suffixes=".npz", what="an scgru trace")
            trace = rg.record_random(n_in, n_hidden, n_steps, seed, weights_file=weights, h0=h0, gate_slope=gate_slope)
            rg.save_trace(output, trace)
            click.echo(f"recorded {n_steps} steps of the software minGRU ({trace.weights.n_in} inputs, "
                       f"{trace.weights.n_hidden} units) -> {output}")
            return
        from ..files import check_output
        check_output(output, suffixes=(".csv", ".npz"), what="a trace")
        trace = records.record(circuit, overrides)
        table.save_table_trace(output, trace)
        cols = ", ".join(c.name for c in trace.columns)
        click.echo(f"recorded {circuit} from its software twin ({trace.provenance['model']}): {cols} -> {output}")
        return
    if not traces:
        raise UsageError("give the trace file with --traces FILE.csv|FILE.npz (or --record to make one)")
    if circuit == "scgru" and not table.is_table_trace(traces):
        _scgru(rg, circuit, traces, output, overrides)
        return
    trace = table.load_table_trace(traces)
    if output:
        from ..files import check_output
        for name in ("summary.json", "columns.csv", "overlay.png"):
            check_output(Path(output) / name, inputs=(traces,))
    report = table.replay(circuit, trace, overrides, backend=backend)
    def at(x: float, kind: str) -> str:
        return f"t={x:.6g} s" if kind == "waveform" else f"element {int(x)}"
    for r in report.results:
        first = "" if r.first_fail_at is None else f", first at {at(r.first_fail_at, r.kind)}"
        detail = r.reason or (f"max error {r.max_err:.4g} at {at(r.max_err_at, r.kind)} (tolerance abs {r.tol_abs:g} "
                              f"rel {r.tol_rel:g}), {r.n_fail} of {r.n} outside{first}")
        click.echo(f"  {'ok  ' if r.passed else 'FAIL'} {r.name:22s} {detail}")
    click.echo("PASS" if report.passed else "FAIL")
    if output:
        table.write_table_report(report, Path(output))
        click.echo(f"report in {output}/ (summary.json, columns.csv, overlay.png)")
    sys.exit(0 if report.passed else 1)


def _scgru(rg, circuit, traces, output, overrides) -> None:
    report = rg.regress(circuit, traces, output, overrides)
    s = report.summary()
    click.echo(f"{circuit} vs software over {s['steps']} steps: max error {s['max_err_lsb']:.3f} LSB, "
               f"RMS {s['rms_err_lsb']:.3f} LSB, outputs agree on {100 * s['output_agreement']:.1f} % of steps")
    if s["first_failing_step"] is not None:
        click.echo(f"first failing step: {s['first_failing_step']}")
    click.echo("PASS" if s["passed"] else "FAIL")
    if output:
        click.echo(f"report in {output}/ (summary.json, steps.csv, overlay.png)")
    sys.exit(0 if s["passed"] else 1)


commands = [regress]
