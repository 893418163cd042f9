"""``pycircuits regress``: a circuit against traces recorded from its software twin."""

from __future__ import annotations

import sys

import click

from ..errors import UsageError
from .options import _params_option


@click.command()
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
    from .. import regress as rg
    from ..params import parse_assignments
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


commands = [regress]
