"""Reader for ngspice raw files (binary and ascii, real and complex).

A raw file holds one or more plots, each a text header followed by the data::

    Title: ...
    Plotname: Transient Analysis
    Flags: real            (or complex)
    No. Variables: 3
    No. Points: 526
    Variables:
        0   time    time
        1   v(out)  voltage
        ...
    Binary:                (float64, point-major; complex = two float64)
    Values:                (ascii: "index<TAB>value" then one "<TAB>value" per variable)

Everything is checked against the header; a truncated or corrupt file raises
:class:`~pycircuits.errors.FileFormatError` with one line saying what is wrong,
never returns garbage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FileFormatError


@dataclass
class RawPlot:
    """One plot of a raw file: its name, flags and named vectors."""

    title: str
    plotname: str
    complex: bool
    names: list[str]
    types: list[str]
    data: np.ndarray  # (n_vars, n_points), float64 or complex128

    def vectors(self) -> dict[str, np.ndarray]:
        """Name -> vector (a copy, so plots can be freed)."""
        return {n: self.data[i].copy() for i, n in enumerate(self.names)}


def read_raw(path: str | Path) -> list[RawPlot]:
    """Read every plot of an ngspice raw file."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read raw file ({exc.strerror})") from None
    return parse_raw(blob, str(path))


def parse_raw(blob: bytes, origin: str = "raw data") -> list[RawPlot]:
    """Parse raw-file bytes; ``origin`` names the source in error messages."""
    plots: list[RawPlot] = []
    pos = blob.find(b"Title:")
    if pos < 0:
        raise FileFormatError(f"{origin}: not an ngspice raw file (no 'Title:' header)")
    while pos < len(blob):
        plot, pos = _parse_plot(blob, pos, origin)
        plots.append(plot)
        # Skip blank lines between plots; anything else must be another plot.
        while pos < len(blob) and blob[pos:pos + 1] in (b"\n", b"\r", b" ", b"\t"):
            pos += 1
        if pos < len(blob) and not blob.startswith(b"Title:", pos):
            raise FileFormatError(f"{origin}: unexpected bytes after plot {len(plots)}")
    return plots


def _readline(blob: bytes, pos: int, origin: str) -> tuple[str, int]:
    end = blob.find(b"\n", pos)
    if end < 0:
        if pos >= len(blob):
            raise FileFormatError(f"{origin}: file ends early (truncated)")
        end = len(blob)  # a last line without its newline
    try:
        return blob[pos:end].decode("ascii").rstrip("\r"), end + 1
    except UnicodeDecodeError:
        raise FileFormatError(f"{origin}: non-text bytes in the header (corrupt file)") from None


def _header_int(header: dict[str, str], key: str, origin: str) -> int:
    try:
        value = int(header[key].split()[0])
    except (KeyError, ValueError, IndexError):
        raise FileFormatError(f"{origin}: header field '{key}' missing or not an integer") from None
    if value < 0:
        raise FileFormatError(f"{origin}: header field '{key}' is negative")
    return value


def _parse_plot(blob: bytes, pos: int, origin: str) -> tuple[RawPlot, int]:
    header: dict[str, str] = {}
    while True:
        line, pos = _readline(blob, pos, origin)
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "Variables":
            break
        if key in ("Binary", "Values"):
            raise FileFormatError(f"{origin}: data section before 'Variables:'")
        header[key] = value.strip()
    n_vars = _header_int(header, "No. Variables", origin)
    n_points = _header_int(header, "No. Points", origin)
    if n_vars == 0:
        raise FileFormatError(f"{origin}: plot declares no variables")
    names, types = [], []
    for i in range(n_vars):
        line, pos = _readline(blob, pos, origin)
        fields = line.split()
        if len(fields) < 3 or fields[0] != str(i):
            raise FileFormatError(f"{origin}: bad variable line {i}: {line[:60]!r}")
        names.append(fields[1])
        types.append(fields[2])
    is_complex = "complex" in header.get("Flags", "").lower()
    line, pos = _readline(blob, pos, origin)
    kind = line.strip().rstrip(":")
    if kind == "Binary":
        data, pos = _binary(blob, pos, n_vars, n_points, is_complex, origin)
    elif kind == "Values":
        data, pos = _ascii(blob, pos, n_vars, n_points, is_complex, origin)
    else:
        raise FileFormatError(f"{origin}: expected 'Binary:' or 'Values:', got {line[:40]!r}")
    plot = RawPlot(title=header.get("Title", ""), plotname=header.get("Plotname", ""),
                   complex=is_complex, names=names, types=types, data=data)
    return plot, pos


def _binary(blob: bytes, pos: int, n_vars: int, n_points: int, is_complex: bool,
            origin: str) -> tuple[np.ndarray, int]:
    width = 2 if is_complex else 1
    n_bytes = 8 * width * n_vars * n_points
    if len(blob) - pos < n_bytes:
        raise FileFormatError(
            f"{origin}: truncated binary data ({len(blob) - pos} of {n_bytes} bytes)")
    flat = np.frombuffer(blob, dtype="<f8", count=width * n_vars * n_points, offset=pos)
    if is_complex:
        data = flat.reshape(n_points, n_vars, 2)
        out = (data[..., 0] + 1j * data[..., 1]).T.copy()
    else:
        out = flat.reshape(n_points, n_vars).T.copy()
    if not np.all(np.isfinite(out)):
        raise FileFormatError(f"{origin}: non-finite numbers in binary data (corrupt file)")
    return out, pos + n_bytes


def _number(text: str, is_complex: bool, origin: str) -> complex | float:
    try:
        if is_complex:
            re_, _, im = text.partition(",")
            value: complex | float = complex(float(re_), float(im))
        else:
            value = float(text)
    except ValueError:
        raise FileFormatError(f"{origin}: bad number {text[:40]!r} in ascii data") from None
    if not np.isfinite(value):  # e.g. an exponent digit corrupted into 1e905: as in binary data
        raise FileFormatError(f"{origin}: non-finite number {text[:40]!r} in ascii data (corrupt file)")
    return value


def _ascii(blob: bytes, pos: int, n_vars: int, n_points: int, is_complex: bool,
           origin: str) -> tuple[np.ndarray, int]:
    out = np.empty((n_vars, n_points), dtype=complex if is_complex else float)
    for p in range(n_points):
        for v in range(n_vars):
            while True:
                try:
                    line, pos = _readline(blob, pos, origin)
                except FileFormatError:
                    raise FileFormatError(
                        f"{origin}: truncated ascii data (point {p} of {n_points})") from None
                if line.strip():
                    break
            fields = line.split()
            if v == 0:
                if len(fields) != 2 or fields[0] != str(p):
                    raise FileFormatError(f"{origin}: bad ascii data line for point {p}")
                fields = fields[1:]
            elif len(fields) != 1:
                raise FileFormatError(f"{origin}: bad ascii data line for point {p}")
            out[v, p] = _number(fields[0], is_complex, origin)
    return out, pos
