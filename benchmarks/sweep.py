"""Sweep benchmark: per-point cost of a 200-point sky130 inverter sweep, four ways, as ratios.

  (a) a fresh `ngspice -b` per point (re-loads the PDK every point; extrapolated from a few points);
  (b) PySpice-style: load the circuit into libngspice again for every point (extrapolated);
  (c) `pycircuits.sweep` with one worker process (load once per worker, alterparam per point), no cache;
  (d) the same with two workers.
Then a 2,000-point Monte Carlo of `rc` (sigma_r = 0.1) and its rate in points/s.
Prints numbers and ratios; asserts nothing.

    python benchmarks/sweep.py [--points 200] [--sub 5] [--mc 2000]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import numpy as np

from pycircuits.circuits import generate
from pycircuits.pdk import sky130_library
from pycircuits.sweep import sweep

INVERTER = {"n_stages": 1, "n_steps": 250}


def with_wn(netlist: str, wn: float) -> str:
    return re.sub(r"^\.param wn=\S+$", f".param wn={wn!r}", netlist, flags=re.MULTILINE)


def per_point_batch(netlist: str, widths: list[float]) -> tuple[float, float]:
    """(a): seconds per point of `ngspice -b`, and ngspice's own analysis time per point."""
    from pycircuits.spice import run_batch
    t0 = time.perf_counter()
    analysis = [run_batch(with_wn(netlist, wn)).analysis_time_s or 0.0 for wn in widths]
    return (time.perf_counter() - t0) / len(widths), statistics.mean(analysis)


def per_point_reload(netlist: str, widths: list[float]) -> float:
    """(b): seconds per point when every point loads its netlist into libngspice again."""
    from pycircuits.spice.ngshared import NgShared
    ng = NgShared.get()
    t0 = time.perf_counter()
    for wn in widths:
        ng.remove_circuits()
        ng.load(with_wn(netlist, wn))
        ng.command("run")
        ng.free_plots()
    elapsed = time.perf_counter() - t0
    ng.remove_circuits()
    ng.loaded_hash = None
    return elapsed / len(widths)


def analysis_time(netlist: str, widths: list[float]) -> float:
    """ngspice's own analysis time per point (Session re-runs, the floor of any sweep)."""
    from pycircuits.spice import Session
    s = Session()
    s.run(netlist, {"wn": widths[0]})
    return statistics.mean(s.run(netlist, {"wn": wn}).analysis_time_s for wn in widths)


def per_point_sweep(points: int, jobs: int) -> tuple[float, dict]:
    t0 = time.perf_counter()
    ds = sweep("inverter", {"wn": f"lin:1u:10u:{points}"}, INVERTER, pdk="sky130", jobs=jobs,
               cache=False, progress=False)
    wall = time.perf_counter() - t0
    assert ds.attrs["n_failed"] == 0, ds.error.values
    return wall / points, ds.attrs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--sub", type=int, default=5, help="points run by (a) and (b), extrapolated")
    ap.add_argument("--mc", type=int, default=2000)
    args = ap.parse_args()

    if sky130_library() is None:
        print("sky130 models not installed: skipping the inverter part")
    else:
        netlist = str(generate("inverter", INVERTER, pdk="sky130")[2])
        widths = np.linspace(1e-6, 10e-6, args.points).tolist()
        sub = widths[:: max(1, args.points // args.sub)][: args.sub]
        t_a, t_an_batch = per_point_batch(netlist, sub)
        t_b = per_point_reload(netlist, sub)
        t_an = analysis_time(netlist, widths[:20])
        t_c, a_c = per_point_sweep(args.points, 1)
        t_d, a_d = per_point_sweep(args.points, 2)
        print(f"sky130 inverter (1 stage, n_steps=250), {args.points} points; (a), (b) on {len(sub)} points")
        print(f"  (a) ngspice -b per point          {t_a * 1e3:9.1f} ms/point  -> {t_a * args.points:7.1f} s")
        print(f"  (b) re-load per point (PySpice)   {t_b * 1e3:9.1f} ms/point  -> {t_b * args.points:7.1f} s")
        print(f"  (c) sweep --jobs 1                {t_c * 1e3:9.1f} ms/point  ({t_c * args.points:.1f} s, "
              f"{a_c['n_loads']} loads, {a_c['n_batches']} batches)")
        print(f"  (d) sweep --jobs 2                {t_d * 1e3:9.1f} ms/point  ({t_d * args.points:.1f} s, "
              f"{a_d['n_loads']} loads, {a_d['n_batches']} batches)")
        print(f"  ngspice analysis time             {t_an * 1e3:9.1f} ms/point  (ngspice -b reports "
              f"{t_an_batch * 1e3:.1f} ms)")
        print(f"  ratios: a/c = {t_a / t_c:.1f}x   b/c = {t_b / t_c:.1f}x   c/d = {t_c / t_d:.2f}x   "
              f"c / analysis = {t_c / t_an:.2f}")

    t0 = time.perf_counter()
    ds = sweep("rc", params={"sigma_r": 0.1}, mc=args.mc, seed=1, cache=False, progress=False)
    wall = time.perf_counter() - t0
    tau = ds.tau_s.values
    print(f"rc Monte Carlo, {args.mc} points (sigma_r=0.1, {ds.attrs['executor']}): {wall:.1f} s, "
          f"{args.mc / wall:.1f} points/s; tau median {np.nanmedian(tau) * 1e6:.3f} us, "
          f"spread (5-95 %) {np.nanquantile(tau, 0.05) * 1e6:.3f}-{np.nanquantile(tau, 0.95) * 1e6:.3f} us")


if __name__ == "__main__":
    main()
