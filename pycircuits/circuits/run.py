"""One simulation of one circuit: generate, run on a backend, measure, save, plot."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FileFormatError, ParameterError, UsageError
from .io import atomic_write
from .params import fmt, parse_number
from .spice import Waveforms, run_batch, simulate


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
        return {k: _jsonable(v) for k, v in self.measures.items()}

    def summary_lines(self) -> list[str]:
        """Human-readable lines: one per measure, arrays shortened."""
        lines = [f"{self.name}: {self.waveforms.analysis} analysis, {len(self.waveforms.x)} points, "
                 f"{self.waveforms.wall_time_s * 1e3:.1f} ms ({self.waveforms.backend})"]
        for k, v in self.measures.items():
            lines.append(f"  {k:24s} {_short(v)}")
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
                         "params": json.dumps(_jsonable(self.params.as_dict()) if self.params else {}),
                         "netlist": self.netlist})
        return ds

    def save(self, path: Path) -> None:
        """Save to ``.nc`` (NetCDF via xarray/h5netcdf) or ``.npz``."""
        suffix = path.suffix.lower()
        if suffix == ".nc":
            atomic_write(path, lambda p: self.to_dataset().to_netcdf(p, engine="h5netcdf"))
        elif suffix == ".npz":
            def write(p: Path) -> None:
                with open(p, "wb") as fh:
                    self.waveforms.to_npz(fh)
            atomic_write(path, write)
        else:
            raise UsageError(f"cannot save to {path}: use a .nc or .npz file name")

    def plot(self, path: Path) -> None:
        """PNG of the key waveforms (the circuit's own plot when it has one)."""
        from .plots import plot_run
        plot_run(self, path)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_jsonable(x) for x in np.asarray(v).tolist()] if not isinstance(v, (list, tuple)) \
            else [_jsonable(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def _short(v: Any) -> str:
    arr = np.asarray(v)
    if arr.ndim == 0:
        return f"{float(arr):.6g}" if arr.dtype.kind in "fiu" else str(v)
    shown = ", ".join(f"{x:.4g}" for x in arr.ravel()[:6])
    return f"[{shown}{', ...' if arr.size > 6 else ''}] ({arr.size} values)"


def execute(netlist: str, backend: str, raw: str | None = None) -> Waveforms:
    """Run a netlist on a backend; ``raw`` keeps the raw file (batch backend only)."""
    if raw:
        if backend != "batch":
            raise UsageError("--raw keeps ngspice's own raw file: use it with --backend batch")
        return run_batch(netlist, raw_out=raw)
    return simulate(netlist, backend=backend)


def run_circuit(name: str, values: Mapping[str, Any] | None = None, pdk: str = "generic130",
                corner: str = "tt", backend: str = "session", raw: str | None = None) -> RunResult:
    """Generate circuit ``name`` with ``values``, simulate it and compute its measures."""
    from .circuits import generate
    defn, params, net = generate(name, values, pdk, corner)
    text = str(net)
    waves = execute(text, backend, raw)
    return RunResult(name=name, netlist=text, waveforms=waves, measures=defn.measure(waves, params),
                     params=params, pdk=pdk, corner=corner)


def set_netlist_params(text: str, values: Mapping[str, Any]) -> str:
    """Replace the values of existing ``.param NAME=VALUE`` lines (numbers only)."""
    for name, raw in values.items():
        value = fmt(parse_number(raw, name))
        pattern = re.compile(rf"^(\.param\s+{re.escape(name)}\s*=\s*)\S+\s*$", re.IGNORECASE | re.MULTILINE)
        text, n = pattern.subn(lambda m, v=value: m[1] + v, text)
        if n == 0:
            raise ParameterError(f"the netlist has no '.param {name}=...' line to set")
    return text


def run_netlist_file(path: Path, values: Mapping[str, Any] | None = None, backend: str = "session",
                     raw: str | None = None) -> RunResult:
    """Run a netlist file as it is, with ``.param`` values overridden by ``values``."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read netlist {path}: {getattr(exc, 'strerror', exc)}") from None
    text = absolutize_includes(set_netlist_params(text, values or {}), path.resolve().parent)
    return RunResult(name=path.name, netlist=text, waveforms=execute(text, backend, raw))


def absolutize_includes(text: str, base: Path) -> str:
    """Make relative ``.lib``/``.include`` paths absolute against ``base``.

    ngspice -b resolves them against the netlist's folder, but a netlist
    loaded into libngspice from memory has no folder: this keeps both alike.
    """
    def repl(m: re.Match) -> str:
        p = Path(m[2])
        return f'{m[1]}"{p if p.is_absolute() else (base / p).resolve()}"{m[3]}'

    return re.sub(r'^(\.(?:lib|include|inc)\s+)"?([^"\s]+)"?(.*)$', repl, text,
                  flags=re.MULTILINE | re.IGNORECASE)
