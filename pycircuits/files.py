"""Files every stage writes: atomic writes, early writability checks, JSON-safe values.

Atomic writes: a reader never sees half a file, a killed writer leaves none.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UsageError


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``.

    An unwritable destination is bad input (:class:`UsageError`, exit 2), and
    nothing is left behind when ``write`` fails.  A destination that exists
    and is not a regular file (a device, a FIFO, a folder) is refused: the
    rename would replace it.
    """
    path = Path(path)
    _refuse_special(path)
    folder = path.parent if str(path.parent) else Path(".")
    prefix = f".{path.name[:200]}."
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale(folder, rf"^{re.escape(prefix)}(?P<pid>\d+)-.*\.tmp$")  # what a killed writer of this file left
        fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {_reason(exc, folder)}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
    try:
        write(tmp_path)
        _refuse_special(path)
        os.replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {_reason(exc, folder)}") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a process of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: str | Path, pattern: str) -> int:
    """Remove the files and folders in ``folder`` matching ``pattern`` whose process is gone; return how many.

    What a killed process left behind (a half-written output or cache
    entry, ngspice's temporary folder with a partial raw file) carries its
    pid in its name, the ``pid`` group of ``pattern``; the next run of the
    same kind removes it.  Entries of live processes are left alone.
    """
    import re
    import shutil
    matcher = re.compile(pattern)
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        m = matcher.match(name)
        if m is None or int(m["pid"]) == os.getpid() or pid_alive(int(m["pid"])):
            continue
        path = Path(folder) / name
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _reason(exc: OSError, folder: Path) -> str:
    """An OSError as one line; a full disk names the file system it is on."""
    import errno
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the disk of {folder.resolve()}"
    return exc.strerror or str(exc).splitlines()[0]


def _refuse_special(path: Path) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    import stat
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"cannot write {path}: it is a folder")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"cannot write {path}: it exists and is not a regular file (a device, FIFO or socket)")


def check_output(path: str | Path, *, suffixes: tuple[str, ...] | str | None = None, what: str = "",
                 inputs: tuple[str | Path | None, ...] = (), outputs: tuple[str | Path | None, ...] = ()) -> Path:
    """The guard every command runs on each output before any work; :class:`UsageError` (exit 2) when:

    * the suffix is not one of ``suffixes`` (what the writer writes);
    * the path exists and is not a regular file (a folder, a device, a FIFO);
    * it is one of the command's ``inputs`` (the same file, however named);
    * it is another of the command's ``outputs`` (two writers, one file);
    * its name is too long, or its folder cannot be written.

    The writer then writes through :func:`atomic_write` (a temporary file
    in the same folder, renamed over the path).
    """
    path = Path(path)
    if isinstance(suffixes, str):
        suffixes = (suffixes,)
    if suffixes and path.suffix.lower() not in suffixes:
        raise UsageError(f"cannot write {path}: {what or 'the file'} is a {' or '.join(suffixes)} file")
    if len(path.name.encode()) > 240:
        raise UsageError(f"cannot write {path.name[:40]}...: the file name is longer than 240 bytes")
    _refuse_special(path)
    for other in inputs:
        if other is not None and _same_file(path, Path(other)):
            raise UsageError(f"cannot write {path}: it is {other}, an input of this command")
    for other in outputs:
        if other is not None and _same_file(path, Path(other), new_too=True):
            raise UsageError(f"cannot write {path}: it is also given as {other}; give each output its own file")
    check_folder_writable(path.parent if str(path.parent) else Path("."), f"cannot write {path}")
    return path


def _same_file(a: Path, b: Path, new_too: bool = False) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return new_too and os.path.abspath(a) == os.path.abspath(b)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text atomically."""
    return atomic_write(path, lambda p: p.write_text(text))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    return atomic_write(path, lambda p: p.write_bytes(data))


_MAX_ARRAY_BYTES = 8 << 30  # one array of a trace, weights or cache entry; more is a damaged file


def load_arrays(path: str | Path, what: str = "file") -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` (or the one array of a ``.npy``, under ``""``), checked before they are read.

    Never unpickles.  Each array's header is compared with the bytes stored
    for it, so a small file that declares 10^12 values is refused instead of
    allocated; a truncated or corrupt archive (bad CRC, cut short) and a bad
    header are :class:`FileFormatError` naming the file (``what`` says what
    it should be: "trace", "weights"...).
    """
    import io
    import zipfile
    import zlib

    from numpy.lib import format as npformat

    from .errors import FileFormatError
    path = Path(path)

    def read(fh, stored: int) -> np.ndarray:
        version = npformat.read_magic(fh)
        header = npformat.read_array_header_1_0(fh) if version == (1, 0) else npformat.read_array_header_2_0(fh)
        shape, _, dtype = header
        if dtype.hasobject:
            raise ValueError("holds Python objects (pickles are never loaded)")
        need = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if need > stored:
            raise ValueError(f"an array declares {need} bytes but the file holds {stored}")
        fh.seek(0)
        return np.load(fh, allow_pickle=False)

    try:
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as fh:
                return {"": read(fh, path.stat().st_size)}
        out: dict[str, np.ndarray] = {}
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                if info.file_size > _MAX_ARRAY_BYTES:
                    raise ValueError(f"{info.filename} declares {info.file_size} bytes")
                with z.open(info) as member:
                    data = io.BytesIO(member.read())  # the member's declared size bounds this read
                out[info.filename[:-4]] = read(data, info.file_size)
        return out
    except FileNotFoundError:
        raise FileFormatError(f"{path}: {what} not found") from None
    except NotImplementedError:  # zipfile's answer to a compression method it cannot read
        raise FileFormatError(f"{path}: not a readable {what} (compressed with a method numpy cannot read)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise FileFormatError(f"{path}: not a readable {what} ({reason})") from None


def write_netcdf(path: str | Path, ds: Any) -> Path:
    """Write an xarray Dataset as NetCDF-4, atomically.

    The file is made in memory and written in one piece: HDF5 writing
    straight to a full disk fails in its destructors (tracebacks, then a
    segfault), while a failed write of bytes is one clean error.
    """
    return atomic_write_bytes(path, bytes(ds.to_netcdf(engine="h5netcdf")))


def check_writable(path: str | Path, suffix: str | None = None, what: str = "") -> None:
    """Refuse early (:class:`UsageError`) a destination that cannot be written, before any work.

    ``suffix`` (e.g. ``".nc"``) is the only suffix accepted, ``what`` names the
    file in that refusal.  Nothing is left behind: the probe is a temporary
    file in the nearest existing folder (folders are made by the write itself).
    """
    check_output(path, suffixes=suffix, what=what)


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
