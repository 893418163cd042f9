"""Engine benchmark: per-point cost of the ways to run a sweep point, side by side, as ratios.

On the sky130 inverter (one stage, 250 steps):
  (a) `ngspice -b` subprocess per point, re-loading the PDK every point (spicelib's way);
  (b) PySpice-style `load_circuit` per point in the shared library (re-parses the PDK);
  (c) our Session: load once, `alterparam` + `reset` + `run` per point, with ngspice's
      OpenMP threads at 2 (ngspice's own default) and at 1 (ours);
  (d) the floor: ngspice's own analysis time with one thread (the `run` command alone,
      and ngspice's `rusage` statistics).
(c) runs three ways: on the deck as written; on the deck cut down to the PDK cards the
circuit uses (pycircuits.spice.reduce), which `reset` re-parses; and on that deck with
its binned models cut to the bins the transistors take (pycircuits.spice.bins): the
Session's default, which re-loads the deck when a width needs other bins.
Where a re-run's time goes (alterparam, reset, run, vector fetch, destroy, Python).
The first load in a fresh process (libngspice start + PDK load + first run) against
`ngspice -b` on the same deck: with the deck as written, with the reduction computed
(empty cache folder) and with the reduced deck found in the on-disk cache.
On the tiny `rc` circuit: Session vs batch subprocess per run.
Memory: resident-set growth over N consecutive `rc` runs in one Session.

    python benchmarks/engine.py [--points 20] [--memory-runs 10000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from pycircuits.circuits import generate
from pycircuits.pdk import sky130_library
from pycircuits.spice import Session, run_batch
from pycircuits.spice.bins import bin_deck
from pycircuits.spice.ngshared import NgShared
from pycircuits.spice.reduce import reduce_deck, reduce_text

INVERTER = {"n_stages": 1, "n_steps": 250}

_FIRST_LOAD = """
import sys, time
net = open(sys.argv[1]).read()
t0 = time.perf_counter()
from pycircuits.spice import Session
s = Session()
s.run(net)
print(time.perf_counter() - t0)
"""


def rss_mb() -> float:
    """Resident set size of this process (MiB), from /proc."""
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def with_wn(netlist: str, wn: float) -> str:
    return re.sub(r"^\.param wn=\S+$", f".param wn={wn!r}", netlist, flags=re.MULTILINE)


def med(xs) -> float:
    return statistics.median(xs)


def rerun(s: Session, netlist: str, widths: list[float], threads: int) -> dict[str, float]:
    """Median re-run wall time, its phases, and ngspice's own analysis statistics at ``threads``."""
    s.load(netlist)  # as this Session hands it over: reduced or whole
    s.threads = threads
    s.run(netlist, {"wn": widths[-1]})  # takes the thread count (a reset)
    walls, phases, rusage = [], [], []
    loads = s.loads
    for wn in widths:
        w = s.run(netlist, {"wn": wn})
        walls.append(w.wall_time_s)
        phases.append(dict(s.last_phases))
        text = " ".join(NgShared.get().command("rusage time", check=False))
        m = re.search(r"= *([0-9.eE+-]+)", text)
        if m:
            rusage.append(float(m[1]))
    out = {k: med([p[k] for p in phases]) for k in phases[0]}
    out["wall"] = med(walls)
    out["python"] = out["wall"] - sum(med([p[k] for p in phases]) for k in phases[0])
    out["rusage"] = med(rusage) if rusage else float("nan")
    out["loads"] = s.loads - loads
    return out


def first_load(netlist: str) -> dict[str, float]:
    """Seconds, medians of 3: a fresh process's first Session run (deck as written; reduction
    computed in an empty cache folder; reduction read from the cache), and `ngspice -b`."""
    out: dict[str, list[float]] = {"whole": [], "cold": [], "warm": [], "batch": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "deck.cir")
        with open(path, "w") as fh:
            fh.write(netlist)

        def ours(**env: str) -> float:
            res = subprocess.run([sys.executable, "-c", _FIRST_LOAD, path], capture_output=True, text=True,
                                 check=True, env={**os.environ, **env})
            return float(res.stdout.split()[-1])

        for k in range(3):
            out["whole"].append(ours(PYCIRCUITS_REDUCE_DECKS="0"))
            cache = os.path.join(tmp, f"cache{k}")
            out["cold"].append(ours(XDG_CACHE_HOME=cache))
            out["warm"].append(ours(XDG_CACHE_HOME=cache))
            t0 = time.perf_counter()
            subprocess.run(["ngspice", "-b", path], capture_output=True, check=True)
            out["batch"].append(time.perf_counter() - t0)
    return {k: med(v) for k, v in out.items()}


def bench_sky130(points: int) -> None:
    _, _, net = generate("inverter", INVERTER, pdk="sky130")
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

    whole = Session(reduce=False)
    two = rerun(whole, netlist, widths, 2)
    one_whole = rerun(whole, netlist, widths, 1)
    red_only = rerun(Session(reduce=True, prune_bins=False), netlist, widths, 1)
    s = Session(reduce=True, prune_bins=True)
    one = rerun(s, netlist, widths, 1)
    reloads = int(one.pop("loads"))
    red = reduce_deck(netlist, cache=False)
    bins = bin_deck(red.text)
    kept = [bins.count(bins.select({"wn": wn}))[0] for wn in widths]
    t0 = time.perf_counter()
    reduce_text(netlist, os.getcwd())  # the cut itself, neither memo nor disk cache
    t_red = time.perf_counter() - t0
    floor = one["run"]
    fl = first_load(netlist)
    print(f"sky130 inverter, {points} points ({n_sub} for a and b), medians")
    print(f"  (a) ngspice -b per point                  {t_a * 1e3:9.1f} ms")
    print(f"  (b) load_circuit per point                {t_b * 1e3:9.1f} ms")
    print(f"  (c) Session re-run, 2 threads, whole deck {two['wall'] * 1e3:9.2f} ms   "
          f"(run alone {two['run'] * 1e3:.2f} ms)")
    print(f"  (c) Session re-run, 1 thread, whole deck  {one_whole['wall'] * 1e3:9.2f} ms   "
          f"(reset {one_whole['reset'] * 1e3:.2f} ms)")
    print(f"  (c) Session re-run, 1 thread, reduced     {red_only['wall'] * 1e3:9.2f} ms   "
          f"(reset {red_only['reset'] * 1e3:.2f} ms; PYCIRCUITS_PRUNE_BINS=0)")
    print(f"  (c) Session re-run, 1 thread, reduced and bins cut {one['wall'] * 1e3:.2f} ms   "
          f"(reset {one['reset'] * 1e3:.2f} ms; the default; {reloads} re-loads for new bins in {points} runs)")
    print(f"  (d) floor: `run` alone, 1 thread          {floor * 1e3:9.2f} ms   (ngspice rusage: "
          f"{one['rusage'] * 1e3:.1f} ms, 1 ms resolution)")
    print(f"  the reduced deck: {red.kept_cards} of {red.kept_cards + red.removed_cards} "
          f"library cards kept from {len(red.files)} files, {len(red.text) / 1e3:.1f} kB of text "
          f"(whole deck's files {sum(os.path.getsize(f) for f in red.files) / 1e6:.1f} MB); "
          f"the cut takes {t_red * 1e3:.0f} ms uncached")
    print(f"  bins: {min(kept)}-{max(kept)} of {bins.count(())[1]} binned models kept per width, "
          f"{len(bins.text_for(bins.select({'wn': widths[0]}))) / 1e3:.1f} kB of text at wn = {widths[0]:.3g} m")
    print("  where a default re-run goes: " + ", ".join(
        f"{k} {one[k] * 1e3:.2f} ms" for k in ("load_and_alterparam", "reset", "run", "fetch", "destroy", "python")))
    print(f"  first load (fresh process: start + load + first run), ngspice -b {fl['batch']:.2f} s:")
    for key, what in (("whole", "deck as written"), ("cold", "reduced, empty cache"),
                      ("warm", "reduced, from the cache")):
        print(f"      {what:26s} {fl[key]:6.2f} s   ratio to ngspice -b {fl[key] / fl['batch']:.2f}")
    print(f"  ratios: a/c = {t_a / one['wall']:.0f}x   b/c = {t_b / one['wall']:.0f}x   "
          f"2-thread/1-thread = {two['wall'] / one_whole['wall']:.2f}x   "
          f"whole/default = {one_whole['wall'] / one['wall']:.2f}x   "
          f"reduced/default = {red_only['wall'] / one['wall']:.2f}x   "
          f"c/floor = {one['wall'] / floor:.2f}x (target <= 2)   re-run {one['wall'] * 1e3:.2f} ms (target <= 8)")


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
