"""Engine benchmark: per-point cost of the ways to run a sweep point, side by side, as ratios.

On the sky130 inverter (one stage):
  (a) `ngspice -b` subprocess per point, re-loading the PDK every point (spicelib's way);
  (b) PySpice-style `load_circuit` per point in the shared library (re-parses the PDK);
  (c) our Session: load once, `alterparam` + `reset` + `run` per point;
  (d) ngspice's own analysis time (the floor).
On the tiny `rc` circuit: Session vs batch subprocess per run.
Memory: resident-set growth over N consecutive `rc` runs in one Session.

    python benchmarks/engine.py [--points 20] [--memory-runs 10000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

from pycircuits.circuits import generate
from pycircuits.pdk import sky130_library
from pycircuits.spice import Session, run_batch
from pycircuits.spice.ngshared import NgShared


def rss_mb() -> float:
    """Resident set size of this process (MiB), from /proc."""
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def with_wn(netlist: str, wn: float) -> str:
    return re.sub(r"^\.param wn=\S+$", f".param wn={wn!r}", netlist, flags=re.MULTILINE)


def bench_sky130(points: int) -> None:
    # ~250 time steps: an analysis of a few tens of ms, as in a typical sweep point
    _, _, net = generate("inverter", {"n_stages": 1, "n_steps": 250}, pdk="sky130")
    netlist = str(net)
    widths = [1e-6 * (1 + 0.05 * k) for k in range(points)]
    n_sub = max(3, points // 5)  # the slow ways on fewer points: each costs seconds

    t0 = time.perf_counter()
    for wn in widths[:n_sub]:
        run_batch(with_wn(netlist, wn))
    t_a = (time.perf_counter() - t0) / n_sub

    ng = NgShared.get()
    t0 = time.perf_counter()
    for wn in widths[:n_sub]:
        ng.remove_circuits()  # without this PySpice's way also leaks (issue 246)
        ng.load(with_wn(netlist, wn))
        ng.command("run")
        ng.free_plots()
    t_b = (time.perf_counter() - t0) / n_sub
    ng.remove_circuits()
    ng.loaded_hash = None

    s = Session()
    s.run(netlist, {"wn": widths[0]})  # the one load
    per_point, analysis = [], []
    for wn in widths:
        w = s.run(netlist, {"wn": wn})
        per_point.append(w.wall_time_s)
        analysis.append(w.analysis_time_s)
    t_c = statistics.mean(per_point)
    t_d = statistics.mean(analysis)
    print(f"sky130 inverter, {points} points ({n_sub} for a and b)")
    print(f"  (a) ngspice -b per point          {t_a * 1e3:9.1f} ms")
    print(f"  (b) load_circuit per point        {t_b * 1e3:9.1f} ms")
    print(f"  (c) Session alterparam re-run     {t_c * 1e3:9.1f} ms")
    print(f"  (d) ngspice analysis time alone   {t_d * 1e3:9.1f} ms")
    print(f"  ratio a/c = {t_a / t_c:.1f}x   b/c = {t_b / t_c:.1f}x   c/d = {t_c / t_d:.2f}")


def bench_rc(runs: int) -> None:
    _, _, net = generate("rc", {"n_steps": 200})  # the tiny circuit: ~200 time points
    netlist = str(net)
    s = Session()
    s.run(netlist)
    t0 = time.perf_counter()
    for k in range(runs):
        s.run(netlist, {"r": 10e3 + k})
    t_s = (time.perf_counter() - t0) / runs
    t0 = time.perf_counter()
    for _ in range(max(5, runs // 10)):
        run_batch(netlist)
    t_b = (time.perf_counter() - t0) / max(5, runs // 10)
    print(f"rc circuit: Session {t_s * 1e3:.2f} ms/run, batch {t_b * 1e3:.2f} ms/run, ratio {t_b / t_s:.1f}x")


def bench_memory(runs: int) -> None:
    _, _, net = generate("rc")
    netlist = str(net)
    s = Session()
    for _ in range(50):  # warm-up: allocator pools, first plots
        s.run(netlist, {"r": 10e3})
    start = rss_mb()
    for k in range(runs):
        s.run(netlist, {"r": 10e3 + (k % 100)})
    grown = rss_mb() - start
    print(f"memory: {runs} rc runs in one Session grew RSS by {grown:.1f} MiB (start {start:.0f} MiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--rc-runs", type=int, default=200)
    ap.add_argument("--memory-runs", type=int, default=10_000)
    args = ap.parse_args()
    if sky130_library() is not None:
        bench_sky130(args.points)
    else:
        print("sky130 models not installed: skipping the PDK comparison")
    bench_rc(args.rc_runs)
    bench_memory(args.memory_runs)


if __name__ == "__main__":
    main()
