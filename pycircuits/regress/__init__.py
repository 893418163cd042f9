"""Circuits against recorded traces.

Two trace formats, one command (``pycircuits regress``):

* :mod:`.table` -- any circuit or deck: a table of sample times, stimulus
  columns driven as PWL into named sources, and expected waveforms or
  measures with a tolerance each (CSV or NPZ); :mod:`.records` writes such
  traces from the software twins of ``denram``, ``pcm-trace`` and
  ``memstack``.
* :mod:`.scgru` -- the minGRU core step by step against its software twin
  (weights, inputs, states and outputs of every step).
"""

from __future__ import annotations

from .scgru import (
    TRACE_FORMAT,
    TRACE_VERSION,
    Report,
    Trace,
    circuit_values,
    compare,
    load_trace,
    record_random,
    record_trace,
    regress,
    save_trace,
    write_report,
)

__all__ = ["TRACE_FORMAT", "TRACE_VERSION", "Report", "Trace", "circuit_values", "compare", "load_trace",
           "record_random", "record_trace", "regress", "save_trace", "write_report"]
