"""PySpice 1.5's ``NgSpiceShared``, with its known defects worked around in one place.

The defects (PySpice issue numbers in brackets) and what this module does:

* Every stderr line that does not start with "Warning" counts as an error
  (399), but ngspice 39 prints convergence notes there ("Note: Starting
  dynamic gmin stepping", "Trying gmin = ...").  :meth:`NgShared.command`
  bypasses PySpice's flags and classifies the lines itself
  (:mod:`pycircuits.spice.messages`).
* It never sends ``remcirc`` and keeps every plot, so memory grows with each
  run (246, 373).  :meth:`NgShared.free_plots` sends ``destroy all`` and
  :meth:`NgShared.remove_circuits` sends ``remcirc`` for every loaded circuit.
* Its line buffers keep growing between commands; they are cleared after each
  command here, and the history is released every few thousand commands.
* Its logger reports notes as errors; it is silenced.

Two settings of ngspice itself are made here as well:

* **OpenMP threads.** ngspice evaluates BSIM3/BSIM4 devices on ``num_threads``
  OpenMP threads (2 unless set; ``OMP_NUM_THREADS`` does not change it, since
  ngspice calls ``omp_set_num_threads`` at every circuit setup).  Our
  parallelism is across worker processes, where a second thread per process
  only waits: on the sky130 inverter an analysis took 46.6 ms with 2 threads
  and 2.9 ms with 1.  So every instance starts with ``set num_threads=1``
  (:data:`DEFAULT_THREADS`), and :meth:`NgShared.set_threads` changes it; the
  value takes effect at the next circuit setup (a load or a ``reset``).
* **Unloading.** cffi closes libngspice when the process exits; that unloads
  libgomp under OpenMP worker threads that are still spinning
  (``OMP_WAIT_POLICY=active``), and the process dies of SIGSEGV after its
  work is done.  The library is therefore also opened through ``ctypes``,
  which never closes it, so that it stays mapped until the process ends.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import NgspiceNotFound
from .messages import INSTALL_HINT, raise_for_errors

logging.getLogger("PySpice").setLevel(logging.CRITICAL)

_RELEASE_EVERY = 5000
DEFAULT_THREADS = 1
MAX_THREADS = 256


def check_threads(value: object) -> int:
    """An OpenMP thread count for ngspice: an integer from 1 to :data:`MAX_THREADS`."""
    from ..errors import UsageError
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= MAX_THREADS \
            or value != int(value):
        raise UsageError(f"ngspice threads: expected an integer from 1 to {MAX_THREADS}, got {value!r}")
    return int(value)


def _import_pyspice():
    try:
        from PySpice.Spice.NgSpice import Shared
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise NgspiceNotFound(f"PySpice is not installed ({exc}); pip install PySpice==1.5") from None
    return Shared


_PINNED: list[object] = []


class NgShared:
    """One libngspice instance for this process, driven by commands we check ourselves."""

    _instance: NgShared | None = None

    def __init__(self) -> None:
        shared = _import_pyspice()
        try:
            self._ng = shared.NgSpiceShared.new_instance()
        except OSError as exc:
            raise NgspiceNotFound(
                f"libngspice not found ({exc.args[0] if exc.args else exc}); {INSTALL_HINT}") from None
        self._ffi = shared.ffi
        self._null = shared.FFI.NULL
        self._lib = self._ng._ngspice_shared
        self._pin_library(self._ng.library_path)
        self._n_commands = 0
        self._n_circuits = 0
        # Bookkeeping of the Session layer: which netlist is loaded, which
        # .param overrides are in force, whether it has run since its reset.
        self.loaded_hash: str | None = None
        self.applied: dict[str, float] = {}
        self.dirty = False
        self.bins = None               # the loaded deck's BinDeck, when its bins are cut
        self.bin_key: tuple = ()       # which bins the loaded text keeps (() = all)
        self.loaded_mode: tuple = ()   # the loading Session's (reduce, prune_bins)
        self.version = self._read_version()
        self.threads = 0
        self.set_threads(DEFAULT_THREADS)

    @classmethod
    def get(cls) -> NgShared:
        """The process-wide instance (libngspice holds global state: one per process)."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    @staticmethod
    def _pin_library(path: str) -> None:
        """Open libngspice once more through ctypes, which never closes it (see the module notes)."""
        import ctypes
        try:
            _PINNED.append(ctypes.CDLL(path, mode=getattr(ctypes, "RTLD_NODELETE", 0x1000) | ctypes.RTLD_GLOBAL))
        except OSError:  # pragma: no cover - cffi has just opened the same path
            pass

    def set_threads(self, n: int) -> None:
        """Run ngspice's analyses on ``n`` OpenMP threads from the next circuit setup on."""
        n = check_threads(n)
        if n != self.threads:
            self.command(f"set num_threads={n}")
            self.threads = n
            self.dirty = True  # a loaded circuit takes the new count at its next reset

    def ngspice_threads(self) -> int:
        """The thread count ngspice itself holds (its variable ``num_threads``), read back from it."""
        import re
        text = " ".join(self.command("echo $num_threads", check=False))
        m = re.search(r"\d+", text)
        return int(m[0]) if m else 0

    def _take_output(self) -> list[str]:
        lines = list(self._ng._stderr) + list(self._ng._stdout)
        self._ng.clear_output()
        return lines

    def _read_version(self) -> str:
        import re
        text = "\n".join(self.command("version -s", check=False))
        m = re.search(r"ngspice-(\S+)", text)
        return f"ngspice-{m[1]}" if m else "ngspice-unknown"

    def command(self, cmd: str, check: bool = True) -> list[str]:
        """Send one command; return its output lines, raising on real errors only."""
        if "\n" in cmd or len(cmd) > 1023:
            raise ValueError("ngspice commands are single lines of at most 1023 characters")
        self._n_commands += 1
        if self._n_commands % _RELEASE_EVERY == 0:
            self._lib.ngSpice_Command(self._null)  # frees ngspice's command history
        self._ng.clear_output()
        rc = self._lib.ngSpice_Command(cmd.encode("ascii"))
        lines = self._take_output()
        if check:
            raise_for_errors(lines, failed=bool(rc))
        return lines

    def load(self, netlist: str) -> list[str]:
        """Load a circuit from text (``ngSpice_Circ``); raise :class:`NetlistError` on errors."""
        lines = [ln for ln in netlist.splitlines() if ln.strip()]
        keep = [self._ffi.new("char[]", ln.encode("utf8")) for ln in lines + [""]]
        array = self._ffi.new("char *[]", keep + [self._null])
        self._ng.clear_output()
        rc = self._lib.ngSpice_Circ(array)
        self._n_circuits += 1  # ngspice keeps even a circuit that failed to parse
        out = self._take_output()
        raise_for_errors(out, failed=bool(rc))
        return out

    def current_plot(self) -> str:
        """Name of the current plot (e.g. ``tran3``)."""
        return self._ffi.string(self._lib.ngSpice_CurPlot()).decode()

    def vectors(self, plot: str) -> dict[str, np.ndarray]:
        """Copy every vector of a plot into numpy arrays."""
        out: dict[str, np.ndarray] = {}
        names = self._lib.ngSpice_AllVecs(plot.encode())
        i = 0
        while names[i] != self._null:
            name = self._ffi.string(names[i]).decode()
            i += 1
            info = self._lib.ngGet_Vec_Info(f"{plot}.{name}".encode())
            if info == self._null:
                continue
            n = info.v_length
            if info.v_compdata == self._null:
                buf = self._ffi.buffer(info.v_realdata, 8 * n)
                out[name] = np.frombuffer(buf, dtype=np.float64).copy()
            else:
                buf = self._ffi.buffer(info.v_compdata, 16 * n)
                pairs = np.frombuffer(buf, dtype=np.float64).reshape(n, 2)
                out[name] = pairs[:, 0] + 1j * pairs[:, 1]
        return out

    def free_plots(self) -> None:
        """Destroy every plot (the vectors of past runs)."""
        self.command("destroy all", check=False)

    def remove_circuits(self) -> None:
        """Remove every circuit loaded through this instance (``remcirc`` each)."""
        while self._n_circuits > 0:
            self.command("remcirc", check=False)
            self._n_circuits -= 1
