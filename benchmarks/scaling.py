"""Scaling benchmark: how the cost of a `crossbar` array grows with its size, measured.

For square 1R arrays of N = 8, 16, 32, 64, 128 (wires of 2 Ohm/um at 100 nm pitch, so
every cell has its own word- and bit-line nodes), in a `.op` read and a 100-step `.tran`
pulse train, each size in a fresh process:
  gen     our Python: building the deck text (median of 3);
  load    loading it into the Session (libngspice parse and setup);
  first   the first run: ngspice's own analysis time (the `run` command);
  rerun   a re-run after `alterparam v_read=...`: Session wall time (alterparam, reset, run,
          vector fetch, destroy) plus the circuit's measures; `ours` is what the re-run costs
          beyond ngspice's `run`, as a share of it (target at 128 x 128: <= 10 %);
  rss     the process's peak resident set (ru_maxrss);
  eqs     ngspice's circuit equations (unknowns), and the non-zeroes before/after fill-in.
ngspice's own statistics (`rusage all`) split the first run's analysis into matrix load,
reorder, factor and solve. Then the fitted exponent of each column against the number of
unknowns (least squares in log-log over N >= 16; the 8 x 8 array is all fixed cost).
Then the same 128 x 128 deck built through PySpice `Circuit` objects, against our text
writer. Then what `.options klu` does in this ngspice build. Then a Monte Carlo of 50
samples of a 64 x 64 array on 2 workers.

The `.tran` at 128 x 128 re-factors the 33k-unknown matrix at every time point; it is
run only with `--tran-max 128` (it takes tens of minutes here).

    python benchmarks/scaling.py [--sizes 8,16,32,64,128] [--tran-max 64] [--no-mc] [--no-pyspice]
Prints numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

BASE = {"r_wire_per_m": 2e6, "seed": 1}
STATS = {"Circuit Equations": "eqs", "Circuit original non-zeroes": "nnz", "Circuit total non-zeroes": "nnz_fill",
         "Total analysis time (seconds)": "t_total", "Matrix load time": "t_mload", "Matrix reorder time": "t_reorder",
         "Matrix factor time": "t_factor", "Matrix solve time": "t_solve", "Transient timepoints": "timepoints",
         "Transient load time": "t_tload", "Transient factor time": "t_tfactor", "Transient solve time": "t_tsolve"}


def rusage_stats() -> dict[str, float]:
    """ngspice's `rusage all` figures of the last run, by our short names."""
    from pycircuits.spice.ngshared import NgShared
    out = {}
    for line in NgShared.get().command("rusage all", check=False):
        key, _, value = line.partition("=")
        if key.strip() in STATS:
            try:
                out[STATS[key.strip()]] = float(value.split()[0])
            except (ValueError, IndexError):
                pass
    return out


def one(n: int, analysis: str) -> dict[str, float]:
    """Everything about one size, in this (fresh) process."""
    from pycircuits.circuits import generate
    from pycircuits.spice import Session
    values = {**BASE, "rows": n, "cols": n, "analysis": analysis}
    gens = []
    generate("crossbar", {**values, "rows": 2, "cols": 2})  # imports and first-call costs out of the way
    for _ in range(3):
        t0 = time.perf_counter()
        defn, p, deck = generate("crossbar", values)
        gens.append(time.perf_counter() - t0)
    s = Session()
    t0 = time.perf_counter()
    s.load(deck)
    t_load = time.perf_counter() - t0
    w = s.run(deck)
    first = rusage_stats()
    out = {"n": n, "gen": statistics.median(gens), "load": t_load, "first": w.analysis_time_s,
           "lines": deck.count("\n"), **first}
    from dataclasses import replace
    p2 = replace(p, v_read=0.25)
    t0 = time.perf_counter()
    w = s.run(deck, {"v_read": 0.25})
    t_run = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = defn.measure(w, p2)
    t_measure = time.perf_counter() - t0
    out.update({f"re_{k}": v for k, v in s.last_phases.items()})
    out.update(rerun=t_run + t_measure, re_measure=t_measure, re_analysis=w.analysis_time_s,
               rel_error_mean=float(np.mean(m["rel_error"])),
               rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def child(n: int, analysis: str) -> dict[str, float]:
    r = subprocess.run([sys.executable, __file__, "--one", str(n), analysis], capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def fit(xs, ys) -> float:
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    ok = (xs > 0) & (ys > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(xs[ok]), np.log(ys[ok]), 1)[0])


COLUMNS = [("gen", "gen s", 1, ".3f"), ("load", "load s", 1, ".3f"), ("first", "first s", 1, ".3f"),
           ("t_reorder", "reord s", 1, ".3f"), ("t_factor", "factor s", 1, ".3f"), ("t_solve", "solve s", 1, ".3f"),
           ("rerun", "rerun s", 1, ".3f"), ("re_reset", "reset s", 1, ".3f"), ("re_fetch", "fetch s", 1, ".4f"),
           ("re_measure", "meas s", 1, ".4f"), ("rss", "rss MiB", 1, ".0f"), ("nnz_fill", "nnz+fill", 1, ".0f")]


def table(rows: list[dict], analysis: str) -> None:
    print(f"\n{analysis}: square 1R arrays, 2 Ohm/um wires, 100 nm pitch (each size in a fresh process)")
    cols = COLUMNS if analysis == "op" else COLUMNS[:3] + [("t_tfactor", "tfact s", 1, ".3f"),
                                                           ("timepoints", "tpoints", 1, ".0f")] + COLUMNS[6:]
    print(f"{'N':>5} {'eqs':>7} " + " ".join(f"{h:>9}" for _, h, _, _ in cols) + f" {'ours %':>7}")
    for r in rows:
        ours = (r["rerun"] - r["re_run"]) / r["re_run"] * 100
        print(f"{r['n']:>5} {r['eqs']:>7.0f} " + " ".join(f"{r.get(k, float('nan')):>9{f}}" for k, _, _, f in cols)
              + f" {ours:>7.1f}")
    big = [r for r in rows if r["n"] >= 16]
    eqs = [r["eqs"] for r in big]
    print(f"{'exponent vs eqs (N >= 16)':>14} " + " ".join(
        f"{fit(eqs, [r.get(k, np.nan) for r in big]):>9.2f}" for k, _, _, _ in cols))
    last = rows[-1]
    rest = last["rerun"] - last["re_run"]
    print(f"at N = {last['n']}: a re-run is {last['rerun']:.3f} s, of which ngspice's run {last['re_run']:.3f} s; "
          f"beyond it {rest * 1e3:.1f} ms ({rest / last['re_run'] * 100:.1f} %): "
          f"reset {last['re_reset'] * 1e3:.1f} ms, "
          f"fetch {last['re_fetch'] * 1e3:.1f} ms, measures {last['re_measure'] * 1e3:.1f} ms, "
          f"destroy {last['re_destroy'] * 1e3:.1f} ms")
    if analysis == "op":
        t = last.get("t_total", np.nan)
        print(f"  where ngspice's first-run analysis goes at N = {last['n']} ({t:.3f} s): matrix load "
              f"{last.get('t_mload', np.nan):.3f} s, reorder {last.get('t_reorder', np.nan):.3f} s, factor "
              f"{last.get('t_factor', np.nan):.3f} s, solve {last.get('t_solve', np.nan):.3f} s; fill-in "
              f"{last['nnz_fill'] / last['nnz']:.1f}x the original non-zeroes")


def pyspice_path(n: int) -> None:
    """The same elements as PySpice objects: the cost our text writer avoids."""
    from PySpice.Spice.Netlist import Circuit

    from pycircuits.circuits import generate
    generate("crossbar", {**BASE, "rows": 2, "cols": 2})  # imports and first-call costs out of the way
    t0 = time.perf_counter()
    _, _, deck = generate("crossbar", {**BASE, "rows": n, "cols": n})
    t_text = time.perf_counter() - t0
    t0 = time.perf_counter()
    c = Circuit(f"crossbar {n}x{n}")
    for line in deck.splitlines()[1:]:
        tok = line.split()
        if not tok or tok[0].startswith("."):
            continue
        kind, name = tok[0][0], tok[0][1:]
        if kind == "R":
            c.R(name, tok[1], tok[2], float(tok[3]))
        elif kind == "V":
            c.V(name, tok[1], tok[2], tok[3])
        elif kind == "C":
            c.C(name, tok[1], tok[2], float(tok[3]))
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    text = str(c)
    t_str = time.perf_counter() - t0
    print(f"\n{n} x {n} deck ({deck.count(chr(10))} lines): our text writer {t_text:.3f} s (validation, draw and "
          f"text); the same elements as PySpice Circuit objects {t_build:.2f} s to build + {t_str:.2f} s for str() "
          f"({len(text.splitlines())} lines): {(t_build + t_str) / t_text:.0f}x slower")


def klu_check() -> None:
    """What this ngspice does with `.options klu`: the matrix statistics of a 32 x 32 array with and without."""
    from pycircuits.circuits import generate
    from pycircuits.spice import Session
    _, _, deck = generate("crossbar", {**BASE, "rows": 32, "cols": 32})
    s = Session()
    res = {}
    for label, text in (("default", deck), ("klu", deck.replace(".op", ".options klu\n.op"))):
        w = s.run(text)
        res[label] = (w.analysis_time_s, rusage_stats(), w.warnings)
    from pycircuits.spice.ngshared import NgShared
    info = " ".join(NgShared.get().command("version -f", check=False))
    same = res["default"][1].get("nnz_fill") == res["klu"][1].get("nnz_fill")
    print(f"\nsolvers: {NgShared.get().version}; `.options klu` on a 32 x 32 array: analysis "
          f"{res['default'][0] * 1e3:.1f} ms without, {res['klu'][0] * 1e3:.1f} ms with; fill-in "
          f"{'identical (the option is ignored: Sparse 1.3 does the work)' if same else 'differs (KLU is in use)'}; "
          f"the build reports: {'KLU' if 'KLU' in info.upper() else 'no KLU'} "
          f"({'OSDI' if 'OSDI' in info.upper() else 'no OSDI'})")
    m = re.search(r"compiled with ([^\n]*)", info)
    if m:
        print(f"  {m[1]}")


def monte_carlo(n: int, samples: int, jobs: int) -> None:
    from pycircuits.sweep import sweep
    t0 = time.perf_counter()
    ds = sweep("crossbar", params={**BASE, "rows": n, "cols": n, "sigma_g": 0.3}, mc=samples, seed=1, jobs=jobs,
               cache=False, progress=False)
    wall = time.perf_counter() - t0
    err = ds.rel_error.values.reshape(samples, n)
    print(f"\nMonte Carlo: {samples} samples of a {n} x {n} array (sigma_g = 0.3), {jobs} workers: {wall:.1f} s "
          f"({wall / samples:.2f} s per sample, {ds.attrs.get('n_failed', 0)} failed); the dataset's rel_error is "
          f"{ds.rel_error.dims} {ds.rel_error.shape}: per sample, per column; mean error "
          f"{err.mean() * 100:.3f} %, spread of the per-sample mean {err.mean(axis=1).std() * 100:.4f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--one", nargs=2, metavar=("N", "ANALYSIS"), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="8,16,32,64,128")
    ap.add_argument("--tran-max", type=int, default=64, help="largest N for the .tran (default 64)")
    ap.add_argument("--no-mc", action="store_true")
    ap.add_argument("--no-pyspice", action="store_true")
    ap.add_argument("--mc-size", type=int, default=64)
    ap.add_argument("--mc-samples", type=int, default=50)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.one[1])))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    for analysis in ("op", "tran"):
        rows = []
        for n in sizes:
            if analysis == "tran" and n > args.tran_max:
                print(f"  (tran at N = {n} skipped: --tran-max {args.tran_max})")
                continue
            rows.append(child(n, analysis))
            print(f"  {analysis} N = {n}: done", flush=True)
        table(rows, analysis)
    if not args.no_pyspice:
        pyspice_path(max(sizes))
    klu_check()
    if not args.no_mc:
        monte_carlo(args.mc_size, args.mc_samples, 2)


if __name__ == "__main__":
    main()
