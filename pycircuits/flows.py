"""What crosses the stages: recipe sweeps, files to figures, golden netlists, the demo.

Each stage of the flow (circuits, spice, sweep, extract, network, studies)
knows only the stages below it; the functions here join several of them.

``run_demo`` (``pycircuits demo``) runs the whole flow on the embedded
generic130 defaults, into one folder:

1. the reference circuits (``rc``, ``rram-iv``): waveforms and plots;
2. the DenRAM branch netlist (runs in bare ``ngspice -b``);
3. a Monte Carlo sweep of its delay RRAM (log-normal HRS spread);
4. the ``denram-delay`` TransferCurve from that sweep, with the R*C*ln law;
5. the ``denram`` network experiment, ideal vs mapped through that curve;
6. ``report.md`` with every figure and table, and a summary on the terminal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import progress
from .circuits import generate, names, relocate_models
from .circuits.run import run_circuit
from .errors import FileFormatError, UsageError
from .extract.curve import TransferCurve
from .extract.recipes import Recipe, build_curve, get_recipe
from .files import atomic_write_text
from .htmlreport import write_report
from .plots import plot_curve, plot_sweep_figure

# Past this, matplotlib's tick arithmetic overflows; no physical curve comes near it.
DRAWABLE_MAGNITUDE = 1e300

# ------------------------------------------------------------------ recipe sweeps


def run_recipe_sweep(r: Recipe, mc: int = 50, seed: int = 1, jobs: int | None = None,
                     overrides: dict[str, Any] | None = None, **kwargs):
    """Run the sweep a recipe needs, with its defaults and ``mc`` Monte Carlo samples."""
    from .sweep import sweep
    spec = dict(r.default_sweep)
    vary = dict(spec.get("vary", {}))
    swept = sorted(set(overrides or {}) & set(vary))
    if swept:
        raise UsageError(f"-p {swept[0]}: recipe {r.name} sweeps {swept[0]} ({vary[swept[0]]}); run the sweep "
                         f"yourself (pycircuits sweep {r.circuit} --vary {swept[0]}=...) and extract from it")
    params = {k: v for k, v in {**spec.get("params", {}), **(overrides or {})}.items() if k not in vary}
    with progress.stage(r.name):
        return sweep(r.circuit, vary=vary, params=params, mc=mc if spec.get("mc", True) else 0,
                     seed=seed, jobs=jobs, **kwargs)


# ------------------------------------------------------------------ files to figures


def plot_curve_file(path: str | Path, out: str | Path) -> None:
    """PNG of a TransferCurve file: median, spread bands and the recipe's analytic law."""
    curve = TransferCurve.from_json(path)
    drawn = [curve.x, curve.y, *curve.percentiles.values()]
    if any(np.any(np.abs(a[np.isfinite(a)]) > DRAWABLE_MAGNITUDE) for a in drawn):
        raise FileFormatError(f"{path}: values beyond +-{DRAWABLE_MAGNITUDE:g} cannot be drawn "
                              "(the axes' spans overflow)")
    analytic = None
    if curve.recipe:
        try:
            r = get_recipe(curve.recipe)
        except UsageError:  # a curve from an unknown recipe still plots
            r = None
        if r is not None and r.analytic is not None:
            analytic = r.analytic(curve)
    plot_curve(curve, out, analytic)


def plot_sweep_file(path: str | Path, out: str | Path, measure: str | None = None) -> None:
    """PNG of a sweep dataset: a measure against the first swept parameter with its spread."""
    from .sweep import load_dataset
    plot_sweep_figure(load_dataset(path), out, measure, source=str(path))


# ------------------------------------------------------------------ golden netlists


def golden_text(circuit: str, target: Path) -> str:
    """The default netlist of ``circuit`` as it is written to ``target`` (model paths relative to it)."""
    _, _, net = generate(circuit)
    return relocate_models(str(net), target)


def write_golden_netlists(folder: Path) -> list[Path]:
    """Write every circuit's default netlist into ``folder`` (``make netlists``); return the paths."""
    out = []
    for name in names():
        path = folder / f"{name}.cir"
        atomic_write_text(path, golden_text(name, path))
        out.append(path)
    return out


# ------------------------------------------------------------------ the demo

DEMO_CIRCUITS = ("rc", "rram-iv")


def run_demo(out: Path, echo: Callable[[str], None] = print, mc: int = 20, quick: bool = False,
             jobs: int | None = None) -> list[Path]:
    """Run the flow; return the files written.  ``quick`` shrinks the sweep and the experiment."""
    if jobs is not None and (isinstance(jobs, bool) or int(jobs) != jobs or jobs < 1):
        raise UsageError(f"--jobs: expected a positive integer, got {jobs}")  # before anything is written
    if isinstance(mc, bool) or int(mc) != mc or mc < 2:
        raise UsageError(f"--mc: expected an integer of at least 2, got {mc}")
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    lines = ["# pycircuits demo", "", "Everything below was computed by `pycircuits demo` on the embedded "
             "generic130 defaults.", ""]

    echo("1/5 reference circuits")
    lines += ["## Reference circuits", ""]
    for name in DEMO_CIRCUITS:
        res = run_circuit(name)
        nc, png = out / f"{name}.nc", out / f"{name}.png"
        res.save(nc)
        res.plot(png)
        written += [nc, png]
        lines += [f"### {name}", "", f"![{name}]({png.name})", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in res.measures.items()] + [""]

    echo("2/5 DenRAM netlist")
    _, _, net = generate("denram")
    cir = atomic_write_text(out / "denram.cir", str(net))
    written.append(cir)
    lines += ["## DenRAM branch", "", f"Netlist: [`{cir.name}`]({cir.name}) (runs in bare `ngspice -b`).", ""]

    echo(f"3/5 Monte Carlo sweep of the delay RRAM ({mc} samples per point)")
    recipe = get_recipe("denram-delay")
    sweep_nc = out / "denram-delay-sweep.nc"
    ds = run_recipe_sweep(recipe, mc=2 if quick else mc, seed=1, jobs=jobs, output=sweep_nc)
    written += [sweep_nc, sweep_nc.with_suffix(".csv")]

    echo("4/5 denram-delay TransferCurve")
    curve = build_curve(recipe, ds)
    curves = out / "curves"
    curves.mkdir(exist_ok=True)
    curve_json = curves / "denram-delay.json"
    curve.to_json(curve_json)
    curve_png = out / "denram-delay.png"
    plot_curve_file(curve_json, curve_png)
    written += [curve_json, curve_png]
    law = recipe.analytic(curve) if recipe.analytic else None
    err = _law_error(ds, law) if law else float("nan")
    lines += ["### Delay vs RRAM resistance", "", f"![delay curve]({curve_png.name})", "",
              f"{len(curve.x)} resistances x {ds.attrs.get('mc', 0)} Monte Carlo samples; the delay "
              f"of every sample is within {100 * err:.1f} % of R*C*ln(VDD/(VDD-Vth)) at its drawn resistance "
              f"(sweep: {ds.attrs.get('n_points')} points, {ds.attrs.get('wall_time_s', 0):.1f} s).", ""]

    echo("5/5 DenRAM network: ideal vs mapped through the delay curve")
    table = _network(out, curves, quick, lines)
    report = atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    page, _ = write_report(out, out / "report.html")
    written += [report, page]

    echo("")
    echo(f"delay law: every sample within {100 * err:.1f} % of R*C*ln(VDD/(VDD-Vth)) over "
         f"{curve.x[0]:.3g}..{curve.x[-1]:.3g} Ohm")
    for row in table:
        echo("  " + row)
    echo(f"report: {report} and {page.name}, one file to mail ({time.perf_counter() - t0:.0f} s)")
    return written


def _law_error(ds, law) -> float:
    """Largest relative deviation of any sample's delay from the law at the resistance it drew."""
    delays = np.asarray(ds["delays_s"].isel(delays_s_index=0).values, dtype=float)
    if "mc_r_delay" in ds:
        r = np.asarray(ds["mc_r_delay"].values, dtype=float)
        r = r[..., 0] if r.ndim > delays.ndim else r
    else:
        r = np.broadcast_to(np.asarray(ds["r_delay"].values, dtype=float)[:, None], delays.shape)
    ok = np.isfinite(delays) & np.isfinite(r)
    return float(np.max(np.abs(delays[ok] / law(r[ok]) - 1)))


def _network(out: Path, curves: Path, quick: bool, lines: list[str]) -> list[str]:
    """Run the denram study on the demo's curve; add its table and figures."""
    from .studies import run_experiment
    exp_dir = out / "network-denram"
    result = run_experiment("denram", curves_dir=curves, out_dir=exp_dir, quick=quick, seed=0)
    rows = result.get("table", []) if isinstance(result, dict) else []
    lines += ["## DenRAM network on simulated hardware", ""]
    text_rows = []
    if rows:
        keys = list(rows[0].keys())
        lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        for r in rows:
            lines.append("| " + " | ".join(_fmt(r[k]) for k in keys) + " |")
            text_rows.append("  ".join(f"{_fmt(r[k])}" for k in keys))
        lines.append("")
    for png in sorted(exp_dir.glob("*.png")):
        lines += [f"![{png.stem}]({exp_dir.name}/{png.name})", ""]
    metrics = exp_dir / "metrics.json"
    if metrics.exists():
        lines += [f"Metrics: [`{exp_dir.name}/metrics.json`]({exp_dir.name}/metrics.json)", ""]
    return text_rows


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v[:6]) + (", ..." if len(v) > 6 else "") + "]"
    if hasattr(v, "tolist"):
        return _fmt(v.tolist())
    if isinstance(v, dict):
        return json.dumps(v)
    return str(v)
