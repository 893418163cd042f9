"""Dense layers on crossbar tiles: ideal wires change nothing, and the exact IR drop is what ngspice reads."""

from __future__ import annotations

import numpy as np
import pytest

from pycircuits.extract.curve import TransferCurve
from pycircuits.network.hardware import HardwareModel
from pycircuits.network.layers import LIF, Dense, LeakyIntegrator
from pycircuits.network.tiling import CrossbarTiling
from pycircuits.network.training import Sequential

from marks import requires_ngspice


def _net() -> Sequential:
    return Sequential([Dense(40, 24, rng=1), LIF(24, 0.02, 1e-3), Dense(24, 5, rng=2),
                       LeakyIntegrator(5, 0.02, 1e-3, readout="mean")])


def test_zero_wires_map_the_network_bit_for_bit():
    net = _net()
    x = np.random.default_rng(0).random((8, 6, 40)).astype(np.float32)
    hw = HardwareModel.ideal().replace(crossbar=CrossbarTiling(tile=16))
    chip = hw.map_network(net, 0, 1e-3)
    for a, b in zip(net.layers, chip.layers, strict=True):
        if isinstance(a, Dense):
            assert a.params["W"].tobytes() == b.params["W"].tobytes()
    assert net.forward(x).tobytes() == chip.forward(x).tobytes()


def test_the_tiled_map_is_continuous_at_ideal_wires_and_attenuates_with_them():
    w = np.random.default_rng(3).standard_normal((20, 12))
    tiny = CrossbarTiling(tile=8, r_segment=1e-6).map_matrix(w)
    np.testing.assert_allclose(tiny, w, rtol=1e-6, atol=1e-6 * np.abs(w).max())
    wired = CrossbarTiling(tile=8, r_segment=5.0).map_matrix(np.abs(w))
    assert np.all(wired.sum(axis=0) < np.abs(w).sum(axis=0))  # IR drop costs every output current
    assert CrossbarTiling(tile=8).tiles(w.shape) == 3 * 2


@requires_ngspice
def test_the_tiled_weights_are_what_ngspice_reads_from_the_same_arrays(tmp_path):
    """A 6 x 5 block on an 8 x 8 tile (padding rows and columns at HRS): W_eff^T x against two SPICE reads."""
    from pycircuits.circuits.run import run_circuit
    rng = np.random.default_rng(5)
    w = rng.standard_normal((6, 5))
    x = rng.random(6)
    t = CrossbarTiling(tile=8, r_segment=20.0, r_lrs=10e3, r_hrs=1e6)
    w_eff = t.map_matrix(w)
    g_min, g_max, w_max = 1e-6, 1e-4, np.abs(w).max()
    currents = []
    for part in (np.maximum(w, 0), np.maximum(-w, 0)):
        g = np.full((8, 8), g_min)
        g[:6, :5] = g_min + part / w_max * (g_max - g_min)
        path = tmp_path / f"g{len(currents)}.npy"
        np.save(path, g)
        inputs = ",".join(repr(float(v)) for v in [*x, 0.0, 0.0])
        r = run_circuit("crossbar", {"size": 8, "g_file": str(path), "inputs": inputs, "v_read": 0.2,
                                     "r_wire_per_m": 20.0 / 100e-9})
        currents.append(r.measures["col_current_a"][:5])
    spice = (currents[0] - currents[1]) * w_max / (g_max - g_min) / 0.2
    np.testing.assert_allclose(w_eff.T @ x, spice, rtol=1e-8, atol=1e-12)
    assert np.max(np.abs(w_eff - w)) > 1e-3 * w_max  # the wires are visible


def test_a_position_curve_scales_each_column_by_its_place_in_the_tile():
    pos = np.arange(8.0)
    curve = TransferCurve("crossbar-irdrop", pos, "1", -0.01 * pos, "1", extra={"cols": 8})
    w = np.ones((10, 20))
    out = CrossbarTiling(tile=8, curve=curve, curve_spread=False).map_matrix(w)
    np.testing.assert_allclose(out[0], 1 - 0.01 * (np.arange(20) % 8))
    np.testing.assert_array_equal(out[0], out[9])
    with pytest.raises(ValueError, match="8 columns; the tiles have 16"):
        CrossbarTiling(tile=16, curve=curve)
