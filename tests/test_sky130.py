"""SkyWater sky130 through the same flow: corners, and alterparam re-runs of a loaded PDK circuit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pycircuits.circuits import generate
from pycircuits.run import run_circuit
from pycircuits.spice import run_batch

from marks import requires_ngspice, requires_sky130

pytestmark = [requires_ngspice, requires_sky130]


def test_inverter_runs_at_tt_and_ff_and_ff_is_faster():
    tt = run_circuit("inverter", {"n_stages": 1}, pdk="sky130", corner="tt")
    ff = run_circuit("inverter", {"n_stages": 1}, pdk="sky130", corner="ff")
    assert 1e-12 < ff.measures["tpd_s"] < tt.measures["tpd_s"] < 1e-9
    assert "sky130.lib.spice" in tt.netlist and " ff" in ff.netlist.splitlines()[1]


def _fresh(netlist: str, wn: float) -> np.ndarray:
    text = netlist.replace(".param wn=1e-06", f".param wn={wn!r}")
    assert f".param wn={wn!r}\n" in text
    return run_batch(text)["v(n1)"]


def test_two_hundred_alterparam_reruns_equal_fresh_loads(session):
    _, _, net = generate("inverter", {"n_stages": 1, "n_steps": 1000}, pdk="sky130")
    netlist = str(net)
    values = [1e-6 * (1 + k) for k in range(4)]
    rng = np.random.default_rng(0)
    order = rng.permutation(np.repeat(np.arange(len(values)), 50))  # 200 re-runs, shuffled
    loads_before = session.loads
    reruns: dict[int, list[np.ndarray]] = {k: [] for k in range(len(values))}
    for k in order:
        reruns[int(k)].append(session.run(netlist, {"wn": values[k]})["v(n1)"])
    assert session.loads - loads_before <= 1  # loaded once, re-run 199 times
    with ThreadPoolExecutor(max_workers=2) as pool:
        fresh = list(pool.map(lambda v: _fresh(netlist, v), values))
    for k, runs in reruns.items():
        for w in runs:
            assert w.shape == fresh[k].shape
            np.testing.assert_allclose(w, fresh[k], rtol=0, atol=1e-9)
    # and the widths really changed the waveform
    assert np.max(np.abs(fresh[0] - fresh[-1])) > 1e-3
