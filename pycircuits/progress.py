"""Progress bars and the verbosity of the ``pycircuits`` logger, set once for the whole tool.

Long work (sweeps, training, the demo's steps) draws a tqdm bar on stderr
when stderr is a terminal and stays silent when it is piped or redirected,
so logs and CI output hold no carriage-return noise.  ``-q`` turns the bars
off on a terminal too; ``show=True``/``False`` overrides both.

The package logs under the ``pycircuits`` logger: which engine and cache ran
a job, and ngspice's notes, at INFO; ngspice's full output at DEBUG.  The
command line's ``-v``/``-vv``/``-q`` set its level (:func:`configure`);
library users configure :mod:`logging` as they like.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOG = logging.getLogger("pycircuits")

_quiet = False
_stage: list[str] = []       # labels of the enclosing work ("s4d", "seed 2", ...)
_trained: list[int] = [0]    # models trained in the innermost stage


def configure(verbose: int = 0, quiet: bool = False) -> None:
    """The command line's verbosity: WARNING by default, INFO with ``-v``, DEBUG with ``-vv``,
    ERROR and no progress bars with ``-q``.  Records go to stderr, one line each."""
    global _quiet
    _quiet = quiet
    level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    LOG.setLevel(level)
    if not any(getattr(h, "_pycircuits", False) for h in LOG.handlers):
        handler = logging.StreamHandler()  # stderr, looked up at each record (tests swap it)
        handler.setFormatter(logging.Formatter("pycircuits: %(levelname)s: %(message)s"))
        handler._pycircuits = True  # type: ignore[attr-defined]
        LOG.addHandler(handler)
        LOG.propagate = False


def showing(show: bool | None = None) -> bool:
    """Whether to draw a bar: ``show`` if given, else a terminal on stderr and no ``-q``."""
    if show is not None:
        return bool(show)
    return not _quiet and _isatty(sys.stderr)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def bar(total: int | None, desc: str, unit: str, *, initial: int = 0, show: bool | None = None,
        leave: bool = True):
    """A tqdm bar on stderr (a disabled one when :func:`showing` says no); use it as a context."""
    from tqdm import tqdm
    label = " ".join([*_stage, desc]) if _stage else desc
    return tqdm(total=total, initial=initial, disable=not showing(show), file=sys.stderr, unit=unit,
                desc=label, dynamic_ncols=True, smoothing=0.1, leave=leave)


@contextmanager
def stage(label: str) -> Iterator[None]:
    """Name the work inside (``with stage("s4d"):``): bars opened within carry the label,
    and each :func:`next_model` counts the models trained in it."""
    _stage.append(label)
    _trained.append(0)
    try:
        yield
    finally:
        _stage.pop()
        _trained.pop()


def next_model() -> int:
    """Number the next model trained in the current stage (1, 2, ...)."""
    _trained[-1] += 1
    return _trained[-1]
