"""Result cache: one ``.npz`` file per simulated point, keyed by a content hash.

The key is the SHA-256 of everything a point's result depends on: the
netlist text (``.param`` values included) with each ``.lib``/``.include`` path
replaced by the hash of that file's content (and of the files it includes),
the circuit whose measures are taken, the ngspice version and
:data:`MEASURE_CODE_VERSION`.  An entry holds the point's measures (scalars and
arrays), its error if it failed, optionally its waveforms, and JSON metadata;
it is written to a temporary file and renamed into place, so a sweep killed at
any moment leaves whole entries or none.  An entry that cannot be read is
treated as missing and overwritten.

Failures that say something about the circuit (ngspice refused the netlist,
did not converge) are cached; failures of the run itself (timeout, a worker
that died, a measure that raised) are not, so a re-run tries them again.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import FileFormatError
from ..spice.deck import model_references, rewrite_model_paths

MEASURE_CODE_VERSION = 1  # bump when any circuit's measure code changes its results
_LAYOUT = "sweep-v1"
_CACHEABLE_ERRORS = {"", "NetlistError", "ConvergenceError", "SimulationError"}


def default_cache_dir() -> Path:
    """The per-user cache folder (``platformdirs.user_cache_dir("pycircuits")``)."""
    import platformdirs
    return Path(platformdirs.user_cache_dir("pycircuits"))


@dataclass
class Entry:
    """What one point produced: measures, error, optional waveforms, metadata."""

    measures: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    error_type: str = ""
    waveforms: dict[str, np.ndarray] | None = None
    units: dict[str, str] = field(default_factory=dict)
    scale: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the point simulated and measured without error."""
        return not self.error

    @property
    def cacheable(self) -> bool:
        """Whether the result is a property of the circuit (not of this run's luck)."""
        return self.error_type in _CACHEABLE_ERRORS


# resolved path -> (digest, the (path, mtime_ns, size) of every file the digest read)
_digests: dict[str, tuple[str, tuple[tuple[str, int, int], ...]]] = {}
_checked: set[str] = set()  # digests whose files were checked unchanged since forget_checks()
_checked_as_named: dict[str, str] = {}  # the same, by the path as a netlist names it (no resolve())


def forget_checks() -> None:
    """Check model files again at their next use (a sweep calls this as it starts; a sweep's files hold still)."""
    _checked.clear()
    _checked_as_named.clear()


def _stat(path: str) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
        return path, st.st_mtime_ns, st.st_size
    except OSError:
        return path, -1, -1


def model_digest(path: Path) -> str:
    """SHA-256 of a model file and, recursively, of every file it includes.

    A missing file hashes to a marker of its path (ngspice will report it).
    Results are memoised with the size and mtime of every file they read,
    and re-used only while none of those files has changed (a file two
    ``.include`` levels down included).
    """
    named = str(path)
    if named in _checked_as_named:  # a sweep names the same file at every point
        return _checked_as_named[named]
    resolved = str(Path(path).resolve())
    memo = _digests.get(resolved)
    if memo is not None and (resolved in _checked or all(_stat(st[0]) == st for st in memo[1])):
        _checked.add(resolved)
        _checked_as_named[named] = memo[0]
        return memo[0]
    done: dict[str, str] = {}
    read: dict[str, tuple[str, int, int]] = {}
    digest = _digest(Path(resolved), frozenset(), done, read)
    _digests[resolved] = (digest, tuple(read.values()))
    _checked.add(resolved)
    _checked_as_named[named] = digest
    return digest


def _digest(path: Path, seen: frozenset[str], done: dict[str, str], read: dict[str, tuple[str, int, int]]) -> str:
    """The digest of one file and what it includes; ``done`` hashes a file included from several places once."""
    resolved = str(path.resolve())
    if resolved in done:
        return done[resolved]
    stat = read[resolved] = _stat(resolved)
    if stat[1] < 0:
        return "missing:" + str(path)
    try:
        data = path.read_bytes()
    except OSError:
        return "unreadable:" + resolved
    h = hashlib.sha256(data)
    seen = seen | {resolved}
    for _, name, _ in model_references(data.decode("latin-1")):
        child = Path(name) if Path(name).is_absolute() else path.parent / name
        if str(child.resolve()) in seen:
            continue
        h.update(f"\n{name}:{_digest(child, seen, done, read)}".encode())
    done[resolved] = h.hexdigest()
    return done[resolved]


def expand_models(netlist: str) -> str:
    """The netlist with each ``.lib``/``.include`` path replaced by its content hash."""
    return rewrite_model_paths(netlist, lambda path: f"sha256:{model_digest(Path(path))}")


def cache_key(netlist: str, circuit: str, ngspice_version: str, params: Mapping[str, Any] | None = None) -> str:
    """The cache key (hex SHA-256) of one point.

    ``params`` (every circuit parameter of the point) joins the key because a
    circuit's measures may read parameters that its netlist does not hold
    (a threshold, a mode).
    """
    h = hashlib.sha256()
    for part in (_LAYOUT, f"pycircuits-{__version__}", f"measures-{MEASURE_CODE_VERSION}",
                 ngspice_version, circuit, json.dumps(dict(params or {}), sort_keys=True),
                 expand_models(netlist)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


class Cache:
    """A folder of entries; ``Cache(None)`` is a cache that holds nothing."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root).expanduser() / _LAYOUT if root is not None else None
        self.last_error = ""  # why the last put() stored nothing, when it could not write

    @property
    def enabled(self) -> bool:
        """False for the disabled cache."""
        return self.root is not None

    def clean_stale(self) -> int:
        """Remove the temporary files of entries whose writer was killed (their pid is gone); return how many."""
        if self.root is None or not self.root.is_dir():
            return 0
        from ..files import remove_stale
        return sum(remove_stale(sub.path, r"^\..+\.npz\.(?P<pid>\d+)\.tmp$")  # put()'s .KEY.npz.PID.tmp
                   for sub in os.scandir(self.root) if sub.is_dir(follow_symlinks=False))

    def path(self, key: str) -> Path:
        """Where the entry of ``key`` lives."""
        assert self.root is not None
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str, need_waveforms: bool = False) -> Entry | None:
        """The entry of ``key``, or None (missing, unreadable, or without the waveforms needed)."""
        if self.root is None:
            return None
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            entry = read_entry(path)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, json.JSONDecodeError,
                FileFormatError, RecursionError):
            return None  # a damaged entry is recomputed
        if need_waveforms and entry.ok and entry.waveforms is None:
            return None
        return entry

    def put(self, key: str, entry: Entry) -> bool:
        """Store an entry atomically; returns False (and stores nothing) if it cannot."""
        if self.root is None or not entry.cacheable:
            return False
        path = self.path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir() and not path.is_symlink():  # a slot taken by a folder: repair it
                import shutil
                shutil.rmtree(path)
            with open(tmp, "wb") as fh:
                write_entry(fh, entry)
            os.replace(tmp, path)
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            from ..files import _reason
            self.last_error = _reason(exc, self.root)
            return False
        return True


def write_entry(fh, entry: Entry) -> None:
    """Write an entry as ``.npz``: ``m:NAME`` measures, ``w:NAME`` waveforms, ``meta`` JSON."""
    meta = {"error": entry.error, "error_type": entry.error_type, "units": entry.units,
            "scale": entry.scale, "measures": list(entry.measures),
            "waveforms": list(entry.waveforms) if entry.waveforms is not None else None,
            "meta": entry.meta}
    arrays = {f"m:{k}": np.asarray(v, dtype=float) for k, v in entry.measures.items()}
    if entry.waveforms is not None:
        arrays.update({f"w:{k}": np.asarray(v) for k, v in entry.waveforms.items()})
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(fh, **arrays)


def read_entry(path: str | Path) -> Entry:
    """Read an entry written by :func:`write_entry` (raises on any damage)."""
    from ..files import load_arrays
    z = load_arrays(path, "cache entry")
    meta = json.loads(str(z["meta"][()]))
    measures = {}
    for k in meta["measures"]:
        v = z[f"m:{k}"]
        measures[k] = float(v) if v.ndim == 0 else v
    waves = None
    if meta["waveforms"] is not None:
        waves = {k: z[f"w:{k}"] for k in meta["waveforms"]}
    if not isinstance(meta["error"], str) or not isinstance(meta["error_type"], str):
        raise ValueError("bad entry metadata")
    return Entry(measures=measures, error=meta["error"], error_type=meta["error_type"], waveforms=waves,
                 units=dict(meta.get("units") or {}), scale=str(meta.get("scale") or ""),
                 meta=dict(meta.get("meta") or {}))
