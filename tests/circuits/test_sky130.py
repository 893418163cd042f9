"""SkyWater sky130 through the same flow: corners, and alterparam re-runs of a loaded PDK circuit."""

from __future__ import annotations

import numpy as np

from pycircuits.circuits import generate
from pycircuits.circuits.run import run_circuit
from pycircuits.spice import run_batch

from marks import requires_ngspice, requires_sky130

pytestmark = [requires_ngspice, requires_sky130]


def test_inverter_runs_at_tt_and_ff_and_ff_is_faster():
    tt = run_circuit("inverter", {"n_stages": 1}, pdk="sky130", corner="tt")
    ff = run_circuit("inverter", {"n_stages": 1}, pdk="sky130", corner="ff")
    assert 1e-12 < ff.measures["tpd_s"] < tt.measures["tpd_s"] < 1e-9
    assert "sky130.lib.spice" in tt.netlist and " ff" in ff.netlist.splitlines()[1]


def _with_wn(netlist: str, wn: float) -> str:
    text = netlist.replace(".param wn=1e-06", f".param wn={wn!r}")
    assert f".param wn={wn!r}\n" in text
    return text


def test_two_hundred_alterparam_reruns_equal_fresh_loads(session):
    _, _, net = generate("inverter", {"n_stages": 1, "n_steps": 250}, pdk="sky130")
    netlist = str(net)
    values = [1e-6 * (1 + k) for k in range(4)]
    rng = np.random.default_rng(0)
    order = rng.permutation(np.repeat(np.arange(len(values)), 50))  # 200 re-runs, shuffled
    session.run(netlist)
    loads_before = session.loads
    reruns: dict[int, list] = {k: [] for k in range(len(values))}
    for k in order:
        reruns[int(k)].append(session.run(netlist, {"wn": values[k]}))
    # re-run 200 times; the deck is loaded again only when a width needs model bins
    # the loaded text does not hold yet (pycircuits.spice.bins), at most once a width
    loads_after = session.loads
    assert loads_after - loads_before <= len(values)
    # a fresh load of the netlist written with each value, in the same engine (remcirc + load + run)
    fresh = [session.run(_with_wn(netlist, v).replace("\n", "\n* fresh load\n", 1)) for v in values]
    assert session.loads == loads_after + len(values)
    for k, runs in reruns.items():
        for w in runs:  # the same numbers as the fresh load, bit for bit
            np.testing.assert_array_equal(w["time"], fresh[k]["time"])
            np.testing.assert_array_equal(w["v(n1)"], fresh[k]["v(n1)"])
    # bare ngspice -b on one of them: the same waveform to within numerical noise
    batch = run_batch(_with_wn(netlist, values[2]))
    np.testing.assert_allclose(np.interp(fresh[2]["time"], batch["time"], batch["v(n1)"]), fresh[2]["v(n1)"],
                               rtol=0, atol=2e-3)
    # and the widths really changed the waveform
    wide = np.interp(fresh[0]["time"], fresh[-1]["time"], fresh[-1]["v(n1)"])
    assert np.max(np.abs(fresh[0]["v(n1)"] - wide)) > 1e-2
