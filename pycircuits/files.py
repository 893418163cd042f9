"""Files every stage writes: atomic writes, early writability checks, JSON-safe values.

Atomic writes: a reader never sees half a file, a killed writer leaves none.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UsageError


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``.

    An unwritable destination is bad input (:class:`UsageError`, exit 2), and
    nothing is left behind when ``write`` fails.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text atomically."""
    return atomic_write(path, lambda p: p.write_text(text))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    return atomic_write(path, lambda p: p.write_bytes(data))


def check_writable(path: str | Path, suffix: str | None = None, what: str = "") -> None:
    """Refuse early (:class:`UsageError`) a destination that cannot be written, before any work.

    ``suffix`` (e.g. ``".nc"``) is the only suffix accepted, ``what`` names the
    file in that refusal.  Nothing is left behind: the probe is a temporary
    file in the nearest existing folder (folders are made by the write itself).
    """
    path = Path(path)
    if suffix is not None and path.suffix.lower() != suffix:
        raise UsageError(f"cannot write {path}: {what or 'the file'} is a {suffix} file")
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder")
    check_folder_writable(path.parent if str(path.parent) else Path("."), f"cannot write {path}")


def check_folder_writable(folder: str | Path, message: str) -> None:
    """Refuse (``UsageError``: "MESSAGE: reason") a folder, or the nearest existing parent, that is not writable."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".pycircuits-probe-", dir=folder)
    except OSError as exc:
        raise UsageError(f"{message}: {exc.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def jsonable(value: Any, nonfinite: Any = None) -> Any:
    """A JSON-ready copy: arrays and tuples to lists, NumPy scalars to Python numbers.

    Non-finite floats become ``nonfinite`` (``None`` -> JSON null, the default);
    ``nonfinite=float`` keeps them as floats (``json.dumps`` writes ``NaN``).
    """
    if isinstance(value, dict):
        return {k: jsonable(x, nonfinite) for k, x in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [jsonable(x, nonfinite) for x in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isfinite(v) or nonfinite is float:
            return v
        return nonfinite
    return value
