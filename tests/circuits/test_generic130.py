"""The embedded generic130 MOS cards: a sane inverter and subthreshold slope."""

from __future__ import annotations

import numpy as np
import pytest

from pycircuits.circuits import Netlist
from pycircuits.extract.measures import crossing_time
from pycircuits.pdk import get_pdk
from pycircuits.spice import simulate

from marks import requires_ngspice

pytestmark = requires_ngspice
PDK = get_pdk("generic130")


def _inverter_vtc(corner: str):
    net = Netlist("generic130 inverter VTC", analysis=".dc vin 0 1.2 0.0005")
    PDK.add_models(net, corner)
    net.V("dd", "vdd", net.gnd, PDK.vdd)
    net.V("in", "in", net.gnd, 0)
    PDK.nmos(net, "n", "out", "in", net.gnd, net.gnd, w=1e-6)
    PDK.pmos(net, "p", "out", "in", "vdd", "vdd", w=2e-6)
    w = simulate(str(net))
    return w["v-sweep"], w["v(out)"]


@pytest.mark.parametrize("corner", ["tt", "ff", "ss", "fs", "sf"])
def test_inverter_switching_point_near_half_vdd(corner):
    vin, vout = _inverter_vtc(corner)
    vm = crossing_time(vin, vout - vin, 0.0, direction="falling")
    assert abs(vm - PDK.vdd / 2) < 0.15 * PDK.vdd / 2
    assert vout[0] > 0.99 * PDK.vdd and vout[-1] < 0.01 * PDK.vdd


def test_subthreshold_slope_between_70_and_100_mv_per_decade():
    net = Netlist("generic130 nmos Id-Vg", analysis=".dc vg -0.2 0.6 0.001")
    PDK.add_models(net, "tt")
    net.V("d", "d", net.gnd, PDK.vdd)
    net.V("g", "g", net.gnd, 0)
    PDK.nmos(net, "n", "d", "g", net.gnd, net.gnd, w=1e-6)
    w = simulate(str(net))
    vg, log_id = w["v-sweep"], np.log10(-w["i(vd)"])
    v_lo = crossing_time(vg, log_id, -10.0)
    v_hi = crossing_time(vg, log_id, -8.0)
    slope_mv_per_dec = (v_hi - v_lo) / 2 * 1e3
    assert 70.0 <= slope_mv_per_dec <= 100.0


def test_threshold_voltage_in_the_130nm_range():
    net = Netlist("generic130 nmos linear", analysis=".dc vg 0 1.2 0.001")
    PDK.add_models(net, "tt")
    net.V("d", "d", net.gnd, 0.05)
    net.V("g", "g", net.gnd, 0)
    PDK.nmos(net, "n", "d", "g", net.gnd, net.gnd, w=1e-6)
    w = simulate(str(net))
    # constant-current threshold: 100 nA * W/L
    vth = crossing_time(w["v-sweep"], -w["i(vd)"], 100e-9 * 1e-6 / 0.13e-6)
    assert 0.3 <= vth <= 0.4


def test_a_pdk_refuses_devices_narrower_than_its_models_cover():
    import dataclasses

    from pycircuits.errors import ParameterError
    from pycircuits.params import make_params
    from pycircuits.pdk import generic130

    pdk = dataclasses.replace(generic130(), wmin=0.42e-6)
    with pytest.raises(ParameterError, match="at least 0.42 um wide"):
        pdk.check_width(0.3e-6, "w_sw_n")
    assert pdk.check_width(0.42e-6) == 0.42e-6
    from pycircuits.circuits import get as get_circuit

    scgru = get_circuit("scgru")
    with pytest.raises(ParameterError, match="w_sw_n 0.3 um is too narrow"):
        scgru.build(make_params(scgru.params, {}), pdk)
