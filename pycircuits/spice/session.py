"""Session backend: one libngspice per process, a circuit loaded once, re-run cheaply.

Loading a netlist that includes a PDK costs seconds (sky130: about 4 s); one
analysis of a small circuit costs milliseconds.  A :class:`Session` therefore
loads a circuit once and re-runs it with ``alterparam NAME=VALUE`` + ``reset``
for each new set of ``.param`` values, freeing each run's vectors afterwards
and removing the circuit (``remcirc``) when another replaces it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping

from ..errors import NetlistError
from ..params import fmt
from .bins import bin_deck, covers, merge_keys
from .deck import PARAM_NAME, analysis_of, check_ngspice_deck, param_value
from .messages import log_output, measure_results, raise_for_errors, warnings_of
from .ngshared import NgShared
from .reduce import reduce_deck
from .waveforms import Waveforms, netlist_hash

_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


def _switch(value: bool | None, variable: str) -> bool:
    """An on/off setting: ``value`` when given, else the environment variable (on unless 0/no/off/false)."""
    if value is None:
        return os.environ.get(variable, "1").strip().lower() not in ("0", "no", "off", "false")
    return bool(value)


class Session:
    """Runs netlists in the process's libngspice, re-using the loaded circuit.

    >>> s = Session()
    >>> w = s.run(netlist)                     # loads, runs
    >>> w2 = s.run(netlist, {"r": 2e3})        # alterparam r=2000 + reset, no re-load

    ``threads`` sets ngspice's OpenMP threads for the process's libngspice
    (default: leave it as it is, which starts at one thread: see
    :mod:`pycircuits.spice.ngshared`).

    ``reduce`` (default: on, unless ``PYCIRCUITS_REDUCE_DECKS=0``) hands
    ngspice the deck with its ``.lib``/``.include`` files cut down to the
    definitions its circuit uses (:mod:`pycircuits.spice.reduce`), which
    ngspice then parses at the load and at every ``reset``; the results are
    bit-identical to the whole deck's.

    ``prune_bins`` (default: on, unless ``PYCIRCUITS_PRUNE_BINS=0``) also
    drops, from the reduced deck, the binned models none of the circuit's
    transistors takes at the run's ``.param`` values
    (:mod:`pycircuits.spice.bins`); a run whose values need other bins
    re-loads the deck with those.  Bit-identical too.
    """

    def __init__(self, threads: int | None = None, reduce: bool | None = None,
                 prune_bins: bool | None = None) -> None:
        self._ng = NgShared.get()
        if threads is not None:
            self._ng.set_threads(threads)
        self.reduce = _switch(reduce, "PYCIRCUITS_REDUCE_DECKS")
        self.prune_bins = _switch(prune_bins, "PYCIRCUITS_PRUNE_BINS")
        self.last_reduction = None
        self.loads = 0
        self.runs = 0
        self.last_phases: dict[str, float] = {}

    @property
    def threads(self) -> int:
        """The OpenMP thread count ngspice holds for this process's analyses."""
        return self._ng.ngspice_threads()

    @threads.setter
    def threads(self, n: int) -> None:
        self._ng.set_threads(n)

    # What is loaded lives on the process-wide NgShared, so that several Session
    # handles in one process never disagree about the one libngspice they share.
    @property
    def _loaded_hash(self) -> str | None:
        return self._ng.loaded_hash

    @_loaded_hash.setter
    def _loaded_hash(self, value: str | None) -> None:
        self._ng.loaded_hash = value

    @property
    def _applied(self) -> dict[str, float]:
        return self._ng.applied

    @_applied.setter
    def _applied(self, value: dict[str, float]) -> None:
        self._ng.applied = value

    @property
    def _dirty(self) -> bool:
        return self._ng.dirty

    @_dirty.setter
    def _dirty(self, value: bool) -> None:
        self._ng.dirty = value

    @property
    def ngspice_version(self) -> str:
        """Version of the loaded libngspice, e.g. ``ngspice-39``."""
        return self._ng.version

    def load(self, netlist: str, params: Mapping[str, float] | None = None, keep: tuple = ()) -> None:
        """Load a circuit, replacing (``remcirc``) the one loaded before.

        ``params`` are the ``.param`` values the next run applies: with the
        deck's own values, they choose the model bins the loaded text keeps
        (``keep``: bins to keep as well, a key of :mod:`pycircuits.spice.bins`).
        """
        check_ngspice_deck(netlist)
        self._ng.remove_circuits()
        self._loaded_hash = None
        self._applied = {}
        self._ng.bins, self._ng.bin_key = None, ()
        red = reduce_deck(netlist) if self.reduce else None
        self.last_reduction = red
        base = red.text if red is not None and red.reduced else netlist
        bins = bin_deck(base) if self.reduce and self.prune_bins else None
        # The text is parsed at the deck's own values first, then at the run's.
        key = merge_keys(bins.select(), bins.select(params)) if bins is not None else ()
        if key and keep:
            key = merge_keys(key, keep)
        texts = ([(bins.text_for(key), key)] if key else []) + [(base, ())]  # type: ignore[union-attr]
        if base is not netlist:
            texts.append((netlist, ()))
        for k, (text, text_key) in enumerate(texts):
            try:
                self._ng.load(text)
            except NetlistError:
                self._ng.remove_circuits()
                if k == len(texts) - 1:
                    raise  # the deck's own error, with the deck's own lines
                if text_key:
                    bins.disabled = True  # type: ignore[union-attr]  # ngspice disagreed with the cut
                continue
            if text is netlist:
                self.last_reduction = None
            self._ng.bins, self._ng.bin_key = (bins, text_key) if text_key else (None, ())
            break
        self._loaded_hash = netlist_hash(netlist)
        self._ng.loaded_mode = (self.reduce, self.prune_bins)
        self._dirty = False
        self.loads += 1

    def run(self, netlist: str, params: Mapping[str, float] | None = None,
            raw_out: str | os.PathLike[str] | None = None) -> Waveforms:
        """Run ``netlist`` (loaded only if it is not the loaded one) with ``.param`` overrides.

        ``raw_out`` keeps the run's vectors as an ngspice raw file (ngspice's
        own ``write``, binary, as ``ngspice -b -r`` writes it), placed at that
        path only once complete.

        ``params`` maps ``.param`` names to numbers; they are applied with
        ``alterparam`` and take effect after ``reset``.  Parameters given in an
        earlier run and not now are returned to the netlist's own values
        (which the netlist text holds, so the result never depends on history).
        """
        t0 = time.perf_counter()
        for name in params or {}:
            if not PARAM_NAME.match(name):
                raise ValueError(f"bad parameter name {name!r}")
        wanted = {k: float(v) for k, v in (params or {}).items()}
        if netlist_hash(netlist) != self._loaded_hash or self._ng.loaded_mode != (self.reduce, self.prune_bins):
            self.load(netlist, wanted)
        elif self._ng.bins is not None and not covers(self._ng.bin_key, self._ng.bins.select(wanted)):
            # The new values take model bins the loaded text lacks: load it with those
            # added to the ones it has, so that a sweep's loads stop once its bins are in.
            self.load(netlist, wanted, keep=self._ng.bin_key)
        for name in list(self._applied):
            if name not in wanted:
                wanted[name] = param_value(netlist, name)
        t_alter = time.perf_counter()
        try:
            self._apply(wanted)
        except NetlistError:
            if self._ng.bins is None:
                raise
            self._ng.bins.disabled = True  # ngspice disagreed with the cut: load the deck uncut
            self.load(netlist)
            t_alter = time.perf_counter()
            self._apply(wanted)
        t1 = time.perf_counter()
        lines = self._ng.command("run", check=False)
        t2 = time.perf_counter()
        log_output(lines, "ngspice (session)")
        analysis_s = t2 - t1
        self.runs += 1
        self._dirty = True
        try:
            raise_for_errors(lines)
            plot = self._ng.current_plot()
            vectors = self._ng.vectors(plot)
            t3 = time.perf_counter()
            if raw_out is not None and vectors and plot != "const":
                self._write_raw(raw_out)
        finally:
            self._ng.free_plots()
        t4 = time.perf_counter()
        if not vectors or plot == "const":
            raise_for_errors(lines, failed=True)
        analysis = analysis_of(plot)
        meas, meas_failed = measure_results(lines)
        # Where this run's time went (seconds): benchmarks/engine.py reports it.
        self.last_phases = {"load_and_alterparam": t_alter - t0, "reset": t1 - t_alter, "run": analysis_s,
                            "fetch": t3 - t2, "destroy": t4 - t3}
        return Waveforms.from_vectors(
            analysis, vectors, ngspice_version=self._ng.version,
            netlist_hash=self._loaded_hash or "", wall_time_s=time.perf_counter() - t0,
            analysis_time_s=analysis_s, warnings=warnings_of(lines), backend="session",
            meas=meas, meas_failed=meas_failed)

    def _apply(self, wanted: dict[str, float]) -> None:
        """``alterparam`` the values that differ from those in force, then ``reset`` when needed."""
        changed = {k: v for k, v in wanted.items() if self._applied.get(k) != v}
        for name, value in changed.items():
            self._ng.command(f"alterparam {name}={fmt(value)}")
        if changed or self._dirty:
            self._ng.command("reset")
        self._applied = dict(wanted)

    def _write_raw(self, target: str | os.PathLike[str]) -> None:
        """ngspice's ``write`` of the current plot into a private folder, then moved to ``target``."""
        import shutil
        import tempfile

        from ..files import atomic_write
        # The command line takes the path as a word: write where no quoting can be needed.
        base = next((d for d in (tempfile.gettempdir(), "/tmp") if _SAFE_PATH.match(d)), None)
        if base is None:
            raise NetlistError("no temporary folder with a plain path for ngspice's raw file; set TMPDIR")
        with tempfile.TemporaryDirectory(prefix=f"pycircuits-raw-{os.getpid()}-", dir=base) as tmp:
            raw = os.path.join(tmp, "out.raw")
            self._ng.command(f"write {raw}")
            if not os.path.isfile(raw) or os.path.getsize(raw) == 0:
                raise NetlistError("ngspice wrote no raw file")
            atomic_write(target, lambda p: shutil.copyfile(raw, p))

    def close(self) -> None:
        """Remove the loaded circuit and free every plot."""
        self._ng.remove_circuits()
        self._ng.free_plots()
        self._loaded_hash = None
        self._applied = {}
