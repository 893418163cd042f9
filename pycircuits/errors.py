"""Exceptions of pycircuits, with the exit status the command line gives each.

Every error a user can cause carries one clear line of text.  The command line
prints it on stderr and exits with :attr:`PycircuitsError.exit_code`: 2 for bad
input (parameters, files, missing ngspice), 1 for a simulation or a regression
that failed on valid input.
"""

from __future__ import annotations


class PycircuitsError(Exception):
    """Base class; ``str(err)`` is the one line shown to the user."""

    exit_code = 1


class UsageError(PycircuitsError):
    """Bad input: malformed or out-of-range parameters, unknown names, bad files."""

    exit_code = 2


class ParameterError(UsageError):
    """A parameter value that cannot be parsed, is out of range, or is not a number."""


class FileFormatError(UsageError):
    """A file (raw, curve, trace, dataset) that is truncated, corrupt or of the wrong kind."""


class NgspiceNotFound(UsageError):
    """ngspice (the executable or the shared library) is not installed."""


class SimulationError(PycircuitsError):
    """ngspice ran but the simulation failed."""

    exit_code = 1


class NetlistError(SimulationError):
    """ngspice refused the netlist; the message holds ngspice's text and the offending line."""


class ConvergenceError(SimulationError):
    """ngspice did not converge (timestep too small, singular matrix, gmin stepping failed)."""


class SimulationTimeout(SimulationError):
    """A simulation exceeded its wall-clock limit and was killed."""
