"""Waveforms: the typed result of one ngspice analysis, whichever backend ran it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_UNIT_BY_PREFIX = {"v": "V", "i": "A"}
_SCALE_UNITS = {"time": "s", "frequency": "Hz", "v-sweep": "V", "i-sweep": "A",
                "temp-sweep": "degC", "res-sweep": "Ohm"}


def canonical_name(name: str) -> str:
    """Normalise a vector name from either backend to ``v(node)`` / ``i(source)``.

    libngspice names node voltages ``out`` and branch currents ``v1#branch``;
    raw files name them ``v(out)`` and ``i(v1)``.  Both map to the raw-file form,
    lower case, so that every caller uses one spelling.
    """
    n = name.strip().lower()
    if n in _SCALE_UNITS:
        return n
    m = re.fullmatch(r"i\((.+)\)", n)
    if m:
        return f"i({m[1]})"
    if n.endswith("#branch"):
        return f"i({n[: -len('#branch')]})"
    m = re.fullmatch(r"v\((.+)\)", n)
    if m:
        return f"v({m[1]})"
    return f"v({n})"


def netlist_hash(netlist: str) -> str:
    """SHA-256 of the netlist text (hex), used for provenance and caching."""
    return hashlib.sha256(netlist.encode()).hexdigest()


@dataclass
class Waveforms(Mapping):
    """Named numpy vectors of one analysis, with units and provenance.

    Index with a canonical name (``w["v(out)"]``, ``w["i(vdd)"]``, ``w["time"]``)
    or a bare node name (``w["out"]`` means ``v(out)``).  ``scale`` names the
    independent vector (``time`` for a transient).
    """

    analysis: str
    vectors: dict[str, np.ndarray]
    units: dict[str, str]
    scale: str
    ngspice_version: str = ""
    netlist_hash: str = ""
    wall_time_s: float = 0.0
    analysis_time_s: float | None = None
    warnings: list[str] = field(default_factory=list)
    backend: str = ""
    # `.meas` results ngspice printed (name -> value), and the reason of each that failed
    meas: dict[str, float] = field(default_factory=dict)
    meas_failed: dict[str, str] = field(default_factory=dict)

    def _key(self, name: str) -> str:
        if name in self.vectors:
            return name
        key = canonical_name(name)
        if key not in self.vectors:
            raise KeyError(f"no vector {name!r}; have {', '.join(sorted(self.vectors))}")
        return key

    def __getitem__(self, name: str) -> np.ndarray:
        return self.vectors[self._key(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    def __contains__(self, name: object) -> bool:
        try:
            self._key(str(name))
        except KeyError:
            return False
        return True

    @property
    def x(self) -> np.ndarray:
        """The independent vector (time, frequency or sweep values)."""
        return self.vectors[self.scale]

    def unit(self, name: str) -> str:
        """The SI unit of a vector."""
        return self.units.get(self._key(name), "")

    @classmethod
    def from_vectors(cls, analysis: str, raw: Mapping[str, np.ndarray], **meta) -> Waveforms:
        """Build from backend vectors with backend names; the scale is found by name."""
        vectors: dict[str, np.ndarray] = {}
        units: dict[str, str] = {}
        for name, data in raw.items():
            key = canonical_name(name)
            arr = np.asarray(data)
            if np.iscomplexobj(arr) and not np.any(arr.imag):
                arr = arr.real.copy()
            vectors[key] = arr
            units[key] = _SCALE_UNITS.get(key) or _UNIT_BY_PREFIX.get(key[0], "")
        scale = next((k for k in _SCALE_UNITS if k in vectors), "")
        if scale and np.iscomplexobj(vectors[scale]):
            # A frequency axis is real. ngspice 39 writes AC and noise scales as complex numbers
            # whose imaginary parts are uninitialised memory (1e-246 to 1e297): keep the real part.
            vectors[scale] = vectors[scale].real.copy()
        return cls(analysis=analysis, vectors=vectors, units=units, scale=scale, **meta)

    def to_npz(self, path: str | Path) -> None:
        """Save vectors and provenance to a ``.npz`` file."""
        meta = {"analysis": self.analysis, "scale": self.scale,
                "ngspice_version": self.ngspice_version, "netlist_hash": self.netlist_hash,
                "backend": self.backend}
        arrays = {f"vec:{k}": v for k, v in self.vectors.items()}
        arrays.update({f"unit:{k}": np.array(u) for k, u in self.units.items()})
        arrays.update({f"meta:{k}": np.array(v) for k, v in meta.items()})
        np.savez(path, **arrays)

    def to_dataset(self):
        """An xarray Dataset with the scale as coordinate and units as attrs."""
        import xarray as xr
        coord = self.scale or "index"
        x = self.vectors[self.scale] if self.scale else np.arange(len(next(iter(self.vectors.values()))))
        data = {}
        for k, v in self.vectors.items():
            if k == self.scale:
                continue
            name = k.replace("(", "_").replace(")", "").replace("#", "_").replace(".", "_")
            data[name] = xr.DataArray(v, dims=(coord,), attrs={"units": self.units.get(k, ""),
                                                              "spice_name": k})
        ds = xr.Dataset(data, coords={coord: xr.DataArray(x, dims=(coord,),
                                                         attrs={"units": self.units.get(self.scale, "")})})
        ds.attrs.update({"analysis": self.analysis, "ngspice_version": self.ngspice_version,
                         "netlist_hash": self.netlist_hash, "backend": self.backend,
                         "wall_time_s": self.wall_time_s})
        return ds
