"""Engines benchmark: ngspice batch, ngspice session and VACASK on the same decks, as ratios.

For each circuit (``rc``, ``rram-iv``, the ``inverter`` on generic130 and on
sky130 (``inverter:sky130``), ``denram`` with its 4
synapses and with 64, ``memstack``, ``pcm-trace``, the ``scgru`` core, and
the ``crossbar`` read at an operating point at 32x32 and 128x128 cells,
where VACASK's KLU meets ngspice's Sparse 1.3) and each engine, the median over
``--repeats`` runs (one run where a run takes over 5 s) of:

* wall time of one run as a sweep point pays it (batch and vacask: a fresh
  subprocess, deck written, models loaded, raw file read; session: the
  circuit already loaded, re-run with ``alterparam`` + ``reset`` + ``run``);
* the engine's own analysis time (ngspice's "Total analysis time", VACASK's
  "Elapsed time" of the analysis);
* the number of time points, and the analysis time per time point.

Ratios are against ngspice batch.  The Verilog-A models are compiled once
before timing (the cache), so no row pays a compilation.  VACASK runs
denram with the trapezoidal rule where ngspice runs gear (see
:mod:`pycircuits.spice.vacask`).

    python benchmarks/engines.py [--repeats 5] [--circuits rc,rram-iv,inverter,denram,denram:64,crossbar:32,...]
"""

from __future__ import annotations

import argparse
import statistics

from pycircuits.circuits import generate
from pycircuits.spice import default_session, run_batch
from pycircuits.spice.vacask import run_vacask

CIRCUITS = ("rc", "rram-iv", "inverter", "inverter:sky130", "denram", "denram:64", "memstack", "pcm-trace", "scgru",
            "crossbar:32", "crossbar:128")
SLOW_S = 5.0  # a run longer than this is timed once (its warm-up run is the measurement)
ENGINES = ("batch", "session", "vacask")


def _runner(engine: str, netlist: str):
    """A function running ``netlist`` once on ``engine`` and returning its Waveforms."""
    if engine == "batch":
        return lambda: run_batch(netlist)
    if engine == "vacask":
        return lambda: run_vacask(netlist)
    session = default_session(1)
    session.run(netlist)  # loaded once: the following runs are re-runs, as in a sweep batch
    return lambda: session.run(netlist)


def _deck(circuit: str) -> str:
    """``NAME``, ``NAME:sky130`` (on the sky130 PDK), ``crossbar:N`` (an N x N array of 1R cells read
    at an operating point) or
    ``denram:N`` (a branch of N synapses, delays 1-8 MOhm, inputs spread over 0.5-9.5 us)."""
    name, _, size = circuit.partition(":")
    if size == "sky130":
        return str(generate(name, {}, pdk="sky130")[2])
    if name == "denram" and size:
        n = int(size)
        values = {"n_syn": n, "t_in": tuple(0.5e-6 + 9e-6 * k / (n - 1) for k in range(n)),
                  "r_delay": tuple(1e6 * 2 ** (3 * k / (n - 1)) for k in range(n)),
                  "r_weight": (500e3,) * n}
        return str(generate(name, values)[2])
    return str(generate(name, {"size": int(size)} if size else {})[2])


def measure(circuit: str, engine: str, repeats: int) -> dict[str, float]:
    """Median wall and analysis time (s) of ``repeats`` runs, the points, and per-point time (s)."""
    run = _runner(engine, _deck(circuit))
    first = run()  # warm-up: model compilation, page cache, libngspice start
    runs = [first] if first.wall_time_s > SLOW_S else [run() for _ in range(repeats)]
    walls, analyses, points = [], [], 0
    for w in runs:
        walls.append(w.wall_time_s)
        analyses.append(w.analysis_time_s if w.analysis_time_s is not None else float("nan"))
        points = len(w.x) if w.scale else 1  # an operating point is one point
    wall, analysis = statistics.median(walls), statistics.median(analyses)
    return {"wall_s": wall, "analysis_s": analysis, "points": points, "per_point_s": analysis / points,
            "wall_per_point_s": wall / points}


def main() -> None:
    """Print one table row per circuit and engine."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--circuits", default=",".join(CIRCUITS))
    args = ap.parse_args()
    print(f"{'circuit':10s} {'engine':8s} {'points':>7s} {'wall ms':>9s} {'analysis ms':>12s} "
          f"{'us/point':>9s} {'wall/batch':>11s} {'analysis/batch':>15s}")
    for circuit in args.circuits.split(","):
        rows = {engine: measure(circuit, engine, args.repeats) for engine in ENGINES}
        base = rows["batch"]
        for engine, r in rows.items():
            print(f"{circuit:10s} {engine:8s} {r['points']:7d} {r['wall_s'] * 1e3:9.1f} "
                  f"{r['analysis_s'] * 1e3:12.2f} {r['per_point_s'] * 1e6:9.2f} "
                  f"{r['wall_s'] / base['wall_s']:11.2f} {r['analysis_s'] / base['analysis_s']:15.2f}")


if __name__ == "__main__":
    main()
