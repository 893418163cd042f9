"""Sweep benchmark: per-point cost of a 200-point sky130 inverter sweep, four ways, as ratios.

  (a) a fresh `ngspice -b` per point (re-loads the PDK every point; extrapolated from a few points);
  (b) PySpice-style: load the circuit into libngspice again for every point (extrapolated);
  (c) `pycircuits.sweep` with one worker process (load once per worker, alterparam per point), no cache;
  (d) the same with two workers;
  (c'), (d') the same on workers kept from the previous sweep (`keep_workers=True`), whose start
      and first load are paid once per process, with the marginal cost of a point (n and n/5 points).
Then a 2,000-point Monte Carlo of `rc` (sigma_r = 0.1) and its rate in points/s.
Then Dask: the same 2,000 `rc` points and 200 inverter points on a LocalCluster of two
one-thread worker processes (a real scheduler, `--scheduler`), against the local executor
with two processes, at several batch sizes: the per-point overhead of scheduling, as a
share of a point. The Dask runs are repeated once so that the workers' first load (which
the local executor pays in every sweep) is reported apart.
Then a deck against the built-in circuit it was written from: the same inverter (and `rc`)
netlist saved as a `.cir` file and swept as a user's deck, one worker, against the built-in
generator: a deck should cost what a built-in circuit of the same size costs.
Targets: (c) >= 150x faster per point than (a); two workers >= 1.8x one; Dask overhead <= 5 %.
Prints numbers and ratios; asserts nothing.

    python benchmarks/sweep.py [--points 200] [--sub 5] [--mc 2000] [--no-dask] [--no-deck]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

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


def per_point_sweep(points: int, jobs: int, keep: bool = False) -> tuple[float, dict]:
    """Seconds per point of a sweep; ``keep``: on workers kept from the previous sweep (warm)."""
    t0 = time.perf_counter()
    ds = sweep("inverter", {"wn": f"lin:1u:10u:{points}"}, INVERTER, pdk="sky130", jobs=jobs,
               cache=False, progress=False, keep_workers=keep)
    wall = time.perf_counter() - t0
    assert ds.attrs["n_failed"] == 0, ds.error.values
    return wall / points, ds.attrs


def warm_sweep(points: int, jobs: int, reps: int = 3) -> tuple[float, float]:
    """(seconds per point of the whole sweep, marginal seconds per point from n and n/5 points),
    medians of ``reps``, on workers kept between sweeps (``keep_workers``)."""
    from pycircuits.sweep import close_workers
    close_workers()
    per_point_sweep(points // 5, jobs, keep=True)  # start the workers, load the circuit
    whole, marginal = [], []
    for _ in range(reps):
        t_n, _ = per_point_sweep(points, jobs, keep=True)
        t_small, _ = per_point_sweep(points // 5, jobs, keep=True)
        whole.append(t_n)
        marginal.append((t_n * points - t_small * (points // 5)) / (points - points // 5))
    close_workers()
    return statistics.median(whole), statistics.median(marginal)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--sub", type=int, default=5, help="points run by (a) and (b), extrapolated")
    ap.add_argument("--mc", type=int, default=2000)
    ap.add_argument("--no-dask", action="store_true", help="skip the LocalCluster part")
    ap.add_argument("--no-deck", action="store_true", help="skip the deck against built-in part")
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
        cold = {jobs: [per_point_sweep(args.points, jobs) for _ in range(3)] for jobs in (1, 2)}
        t_c, a_c = sorted(cold[1], key=lambda x: x[0])[1]  # medians of 3
        t_d, a_d = sorted(cold[2], key=lambda x: x[0])[1]
        w_c, m_c = warm_sweep(args.points, 1)
        w_d, m_d = warm_sweep(args.points, 2)
        print(f"sky130 inverter (1 stage, n_steps=250), {args.points} points; (a), (b) on {len(sub)} points")
        print(f"  (a) ngspice -b per point          {t_a * 1e3:9.1f} ms/point  -> {t_a * args.points:7.1f} s")
        print(f"  (b) re-load per point (PySpice)   {t_b * 1e3:9.1f} ms/point  -> {t_b * args.points:7.1f} s")
        print("  new workers (a command line's sweep), medians of 3:")
        print(f"  (c) sweep --jobs 1                {t_c * 1e3:9.2f} ms/point  ({t_c * args.points:.2f} s, "
              f"{a_c['n_loads']} loads, {a_c['n_batches']} batches)")
        print(f"  (d) sweep --jobs 2                {t_d * 1e3:9.2f} ms/point  ({t_d * args.points:.2f} s, "
              f"{a_d['n_loads']} loads, {a_d['n_batches']} batches)")
        print("  workers kept from the previous sweep (sweep(..., keep_workers=True)), medians of 3:")
        print(f"  (c') jobs 1                       {w_c * 1e3:9.2f} ms/point  ({w_c * args.points:.2f} s; "
              f"marginal {m_c * 1e3:.2f} ms/point)")
        print(f"  (d') jobs 2                       {w_d * 1e3:9.2f} ms/point  ({w_d * args.points:.2f} s; "
              f"marginal {m_d * 1e3:.2f} ms/point)")
        print(f"  ngspice analysis time             {t_an * 1e3:9.2f} ms/point  (ngspice -b reports "
              f"{t_an_batch * 1e3:.1f} ms)")
        print(f"  ratios: a/c = {t_a / t_c:.1f}x (target >= 150)   b/c = {t_b / t_c:.1f}x   "
              f"c/d = {t_c / t_d:.2f}x   c'/d' = {w_c / w_d:.2f}x, marginal {m_c / m_d:.2f}x (target >= 1.8)   "
              f"c / analysis = {t_c / t_an:.2f}   c' / analysis = {w_c / t_an:.2f}")

    t0 = time.perf_counter()
    ds = sweep("rc", params={"sigma_r": 0.1}, mc=args.mc, seed=1, cache=False, progress=False, jobs=2)
    wall = time.perf_counter() - t0
    tau = ds.tau_s.values
    print(f"rc Monte Carlo, {args.mc} points (sigma_r=0.1, {ds.attrs['executor']}): {wall:.1f} s, "
          f"{args.mc / wall:.1f} points/s; tau median {np.nanmedian(tau) * 1e6:.3f} us, "
          f"spread (5-95 %) {np.nanquantile(tau, 0.05) * 1e6:.3f}-{np.nanquantile(tau, 0.95) * 1e6:.3f} us")
    if not args.no_deck:
        bench_deck(args.points, sky130_library() is not None)
    if not args.no_dask:
        bench_dask(args.mc, args.points, sky130_library() is not None)


def bench_deck(points: int, with_sky130: bool) -> None:
    """Per-point cost of a deck file against the built-in circuit whose netlist it is, one worker."""
    cases = [("rc", {}, "generic130", "r", f"log:1k:100k:{points}")]
    if with_sky130:
        cases.insert(0, ("inverter", INVERTER, "sky130", "wn", f"lin:1u:10u:{points}"))
    print(f"deck file against the built-in circuit it was written from, {points} points, --jobs 1:")
    with tempfile.TemporaryDirectory() as tmp:
        for name, params, pdk, axis, spec in cases:
            deck = Path(tmp) / f"{name}.cir"
            deck.write_text(str(generate(name, params, pdk=pdk)[2]))
            for _ in range(2):  # the second round is the one reported: both have their files cached
                t_builtin, ds_b = _timed_sweep(name, vary={axis: spec}, params=params, pdk=pdk, jobs=1, cache=False)
                t_deck, ds_d = _timed_sweep(str(deck), vary={axis: spec}, jobs=1, cache=False)
            print(f"  {name:9s} built-in {t_builtin / points * 1e3:7.2f} ms/point   deck {t_deck / points * 1e3:7.2f} "
                  f"ms/point   deck/built-in = {t_deck / t_builtin:.3f}   ({ds_d.attrs['n_loads']} deck loads)")


def _timed_sweep(circuit: str, **kw) -> tuple[float, dict]:
    t0 = time.perf_counter()
    ds = sweep(circuit, progress=False, **kw)
    wall = time.perf_counter() - t0
    assert ds.attrs["n_failed"] == 0, ds.error.values
    return wall, ds


def bench_dask(mc: int, points: int, with_sky130: bool, sizes: tuple = (1, 10, None)) -> None:
    """Per-point cost of Dask scheduling on a LocalCluster against the local executor (2 processes each).

    Each way runs n points and n/5 points; the difference over 4n/5 points is the marginal cost of a
    point, free of the fixed costs (starting the local processes, a worker's first load), which a
    long sweep amortises.  Overhead = Dask's marginal cost - the local one, as a share of the local one.
    """
    import distributed

    from pycircuits.sweep.runner import DASK_MIN_BATCH

    cases = [("rc", mc, lambda n: dict(params={"sigma_r": 0.1}, mc=n, seed=1))]
    if with_sky130:
        cases.append(("inverter", points,
                      lambda n: dict(vary={"wn": f"lin:1u:10u:{n}"}, params=INVERTER, pdk="sky130")))
    print(f"Dask LocalCluster (2 workers x 1 thread) against the local executor (--jobs 2); default batch "
          f"on Dask: max({DASK_MIN_BATCH}, a quarter of a worker's share); marginal ms per point "
          f"from n and n/5 points")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        for name, n, kw in cases:
            small = max(2, n // 5)
            local, ref = _timed_sweep(name, jobs=2, cache=False, **kw(n))
            local_small, _ = _timed_sweep(name, jobs=2, cache=False, **kw(small))
            per_local = (local - local_small) / (n - small)
            print(f"  {name}, {n} points: local {local / n * 1e3:.2f} ms/point overall ({local:.2f} s), "
                  f"marginal {per_local * 1e3:.2f} ms/point")
            for size in sizes:
                _timed_sweep(name, scheduler=address, cache=False, batch_size=size,
                             **kw(small))  # the workers load the deck
                wall, ds = _timed_sweep(name, scheduler=address, cache=False, batch_size=size, **kw(n))
                wall_small, _ = _timed_sweep(name, scheduler=address, cache=False, batch_size=size,
                                             **kw(small))
                per = (wall - wall_small) / (n - small)
                same = all(ds[k].values.tobytes() == ref[k].values.tobytes()
                           for k in ref.data_vars if ref[k].dtype.kind == "f")
                print(f"    dask batch {ds.attrs['batch_size']:>4} ({ds.attrs['n_batches']:>4} batches): "
                      f"{wall / n * 1e3:.2f} ms/point overall, marginal {per * 1e3:.2f} ms/point; overhead "
                      f"{(per - per_local) * 1e3:+.2f} ms/point = {(per - per_local) / per_local * 100:+.1f} % "
                      f"of a point; dataset bit-identical to local: {same}")


if __name__ == "__main__":
    main()
