"""Dense layers tiled onto RRAM crossbars: what IR drop along the lines does to the weights.

A weight matrix ``W`` (n_in, n_out) is cut into blocks of ``tile`` x ``tile``:
inputs drive word lines (rows), outputs are read on bit lines (columns).
Each block lives on a pair of square ``tile`` x ``tile`` arrays (a signed
weight is a differential pair ``G+ - G-``); a block at the edge of the
matrix uses the arrays' top-left corner, the cells it leaves over sit in the
high-resistance state with their word lines at 0 V.  The full scale of a
matrix is its ``max|w|``: ``|w| / w_max`` sets a cell between ``1/r_hrs``
and ``1/r_lrs``, the unused device of a pair at ``1/r_hrs``.

The array is linear at a read voltage, so what it computes is an effective
conductance matrix ``T``: column currents ``T^T v`` for any input vector
``v`` (:func:`pycircuits.twins.crossbar.transfer`).  The realised weights are

    W_eff = w_max * (T+ - T-) / (1/r_lrs - 1/r_hrs)

which is ``W`` when the wires are ideal (``T = G``).  Two ways to get ``T``:

- ``r_segment > 0``: the nodal twin of every array, exact for its own
  conductances (one sparse factorisation per array);
- ``curve``: a ``crossbar-irdrop`` TransferCurve (relative MAC error
  against the column's position along the word line, with its Monte Carlo
  spread), extracted from SPICE at the same array size: each column of a
  tile scales by ``1 + e(position)``, drawn per chip from the curve's spread.

With neither, the mapping is the identity (an ideal crossbar computes
``G^T v``, and its read-out gain maps the currents back to ``W`` exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pycircuits.extract.curve import TransferCurve
from pycircuits.twins.crossbar import transfer

__all__ = ["CrossbarTiling"]

MAX_TILE = 256  # the crossbar circuit's own limit


@dataclass(frozen=True)
class CrossbarTiling:
    """How Dense layers are laid out on crossbars of ``tile`` x ``tile`` RRAM cells."""

    tile: int = 64
    r_segment: float = 0.0  # Ohm per cell pitch, word and bit lines; 0: ideal wires
    r_driver: float = 0.0  # Ohm, word-line driver output resistance
    r_sense: float = 0.0  # Ohm, bit-line sense load; 0: virtual ground
    r_lrs: float = 10e3  # Ohm, the cell's strongest state (the crossbar circuit's default)
    r_hrs: float = 1e6  # Ohm, its weakest
    curve: TransferCurve | None = None  # crossbar-irdrop: relative error vs column position
    curve_spread: bool = True  # draw each column's error from the curve's spread (False: the median)

    def __post_init__(self) -> None:
        if not 1 <= self.tile <= MAX_TILE:
            raise ValueError(f"tile must be in [1, {MAX_TILE}], got {self.tile}")
        for name in ("r_segment", "r_driver", "r_sense"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0")
        if not 0 < self.r_lrs < self.r_hrs:
            raise ValueError(f"need 0 < r_lrs < r_hrs, got {self.r_lrs:g}, {self.r_hrs:g}")
        if self.curve is not None:
            cols = int(self.curve.extra.get("cols", -1))
            if cols != self.tile:
                raise ValueError(f"curve {self.curve.name!r} was extracted on arrays of {cols} columns; the tiles "
                                 f"have {self.tile}")

    @property
    def ideal(self) -> bool:
        """True when the mapping returns the weights unchanged."""
        return self.curve is None and self.r_segment == 0 and self.r_driver == 0 and self.r_sense == 0

    def tiles(self, shape: tuple[int, int]) -> int:
        """How many crossbar pairs a matrix of ``shape`` takes."""
        return int(np.ceil(shape[0] / self.tile) * np.ceil(shape[1] / self.tile))

    def map_matrix(self, w: np.ndarray, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """The weights as the tiled crossbars realise them; same shape and dtype."""
        w = np.asarray(w)
        if self.ideal:
            return w.copy()
        if self.curve is not None:
            return self._by_curve(w, np.random.default_rng(rng))
        w_max = float(np.max(np.abs(w)))
        if w_max == 0:
            return w.copy()
        g_min, g_max = 1.0 / self.r_hrs, 1.0 / self.r_lrs
        out = np.empty(w.shape, dtype=np.float64)
        t = self.tile
        for r0 in range(0, w.shape[0], t):
            for c0 in range(0, w.shape[1], t):
                block = w[r0:r0 + t, c0:c0 + t].astype(np.float64) / w_max
                nr, nc = block.shape
                t_pair = []
                for part in (np.maximum(block, 0.0), np.maximum(-block, 0.0)):
                    g = np.full((t, t), g_min)
                    g[:nr, :nc] = g_min + part * (g_max - g_min)
                    t_pair.append(self._transfer(g)[:nr, :nc])
                out[r0:r0 + nr, c0:c0 + nc] = w_max * (t_pair[0] - t_pair[1]) / (g_max - g_min)
        return out.astype(w.dtype)

    def _transfer(self, g: np.ndarray) -> np.ndarray:
        if self.r_segment == 0:  # lumped driver / sense only: the twin needs wires, give it a negligible one
            return transfer(g, 1e-9, 1e-9, self.r_driver, self.r_sense)
        return transfer(g, self.r_segment, self.r_segment, self.r_driver, self.r_sense)

    def _by_curve(self, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n_out = w.shape[1]
        pos = np.arange(n_out) % self.tile  # each output's column in its tile
        n_tiles = int(np.ceil(w.shape[0] / self.tile))
        # one draw per physical column: every row block's tile has its own devices
        where = np.broadcast_to(pos.astype(float), (n_tiles, n_out))
        err = self.curve.sample(where, rng) if self.curve_spread else self.curve(where)
        gain = 1.0 + np.asarray(err, dtype=float)  # (row tiles, n_out)
        block_of_row = np.arange(w.shape[0]) // self.tile
        return (w.astype(np.float64) * gain[block_of_row]).astype(w.dtype)
