"""A designer's own deck through the sweep: measures, Monte Carlo with named distributions, corners, policy."""

from __future__ import annotations

import math
import os
import subprocess

import numpy as np
import pytest
from test_sweep_dask import _same

from pycircuits.errors import UsageError
from pycircuits.pdk import sky130_library
from pycircuits.spice.messages import measure_results
from pycircuits.sweep import sweep

from marks import requires_ngspice, requires_sky130

pytestmark = requires_ngspice

RC = """* rc filter, as a designer writes it
.param r=1k c=1n
.PARAMS tr = {1n}
V1 in 0 PULSE(0 1 1u {tr} 1n 50u 100u)
R1 in out {r}
C1 out 0 {c}
.tran 10n 20u
.meas tran tdelay TRIG v(in) VAL=0.5 RISE=1 TARG v(out) VAL=0.5 RISE=1
.meas tran tnever WHEN v(out)=5 RISE=1
.end
"""


@pytest.fixture()
def deck(tmp_path):
    path = tmp_path / "rcf.cir"
    path.write_text(RC)
    return path


def test_deck_sweep_measures_follow_rc_ln2_and_failed_measures_are_nan_with_the_reason(deck):
    ds = sweep(str(deck), vary={"r": "lin:1k:5k:3"}, cache=False, jobs=1)
    assert ds.attrs["n_failed"] == 0 and bool(ds.ok.all())
    r = ds.r.values
    np.testing.assert_allclose(ds.tdelay.values, r * 1e-9 * math.log(2), rtol=2e-3)
    assert np.isnan(ds.tnever.values).all()
    assert all(s == "tnever: out of interval" for s in ds.meas_failed.values)
    # the same numbers as bare ngspice -b prints for the deck as written, with r set in the file
    written = deck.parent / "r5k.cir"
    written.write_text(RC.replace(".param r=1k", ".param r=5k"))
    out = subprocess.run(["ngspice", "-b", str(written)], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60)
    meas, failed = measure_results((out.stdout + out.stderr).splitlines())
    assert ds.tdelay.values[-1] == meas["tdelay"] and "tnever" in failed


def test_deck_monte_carlo_is_seeded_and_bit_identical_for_one_and_two_jobs(deck, tmp_path):
    kw = dict(vary={"r": "list:1k,2k"}, mc=8, seed=5,
              vary_mc={"c": "normal:5%", "tr": "uniform:1n:2n", "r": "lognormal:0.1"})
    one = sweep(str(deck), jobs=1, cache=False, **kw)
    two = sweep(str(deck), jobs=2, cache=tmp_path / "cache", **kw)
    assert _same(one, two)
    c, tr = one.mc_c.values, one.mc_tr.values
    assert np.all((tr >= 1e-9) & (tr <= 2e-9)) and 0.01 < np.std(c) / 1e-9 < 0.1
    # the drawn values are what ngspice ran: tdelay = r c ln 2 for each draw
    np.testing.assert_allclose(one.tdelay.values, one.mc_r.values * c * math.log(2), rtol=3e-3)
    again = sweep(str(deck), jobs=2, cache=tmp_path / "cache", **kw)
    assert again.attrs["n_cached"] == 16 and _same(one, again)
    other = sweep(str(deck), jobs=1, cache=False, **{**kw, "seed": 6})
    assert not np.array_equal(other.tdelay.values, one.tdelay.values)


def test_deck_monte_carlo_on_dask_is_the_local_dataset(deck):
    distributed = pytest.importorskip("distributed")
    kw = dict(vary={"r": "list:1k,3k"}, mc=4, seed=2, vary_mc={"c": "lognormal:0.05"}, cache=False)
    local = sweep(str(deck), jobs=1, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = sweep(str(deck), scheduler=cluster.scheduler_address, batch_size=3, **kw)
    assert remote.attrs["n_batches"] == 3 and _same(local, remote)


def test_the_cache_key_covers_every_file_the_deck_pulls_in(tmp_path):
    (tmp_path / "models").mkdir()
    inner = tmp_path / "models" / "inner.inc"
    inner.write_text(".param cval=1n\n")
    (tmp_path / "models" / "outer.lib").write_text('* outer\n.include "inner.inc"\n')
    path = tmp_path / "inc.cir"
    path.write_text(RC.replace(".param r=1k c=1n", ".include models/outer.lib\n.param r=1k c={cval}"))
    first = sweep(str(path), vary={"r": "list:1k"}, cache=tmp_path / "cache", jobs=1)
    before = inner.stat().st_mtime_ns
    inner.write_text(".param cval=2n\n")  # two levels down, same size
    os.utime(inner, ns=(before + 10**9, before + 10**9))  # saved a second later, as an edit is
    second = sweep(str(path), vary={"r": "list:1k"}, cache=tmp_path / "cache", jobs=1)
    assert second.attrs["n_cached"] == 0
    assert second.tdelay.values[0] == pytest.approx(2 * first.tdelay.values[0], rel=2e-3)


def test_control_blocks_are_refused_on_sweeps_unless_allowed(tmp_path):
    path = tmp_path / "ctl.cir"
    marker = tmp_path / "ran"
    path.write_text(RC.replace(".end\n", f".control\nshell touch {marker}\n.endc\n.end\n"))
    with pytest.raises(UsageError, match=r"ctl.cir lines 10-12: a .control block.*--allow-control"):
        sweep(str(path), vary={"r": "list:1k"}, cache=False, jobs=1)
    assert not marker.exists()
    ds = sweep(str(path), vary={"r": "list:1k"}, cache=False, jobs=1, allow_control=True)
    assert ds.attrs["n_failed"] == 0 and marker.exists()


@pytest.mark.parametrize("kw, needle", [
    (dict(vary_mc={"c": "normal:5%"}), "give their number with --mc N"),
    (dict(mc=2), "no Monte Carlo sampler"),
    (dict(mc=2, vary_mc={"c": "gauss:5%"}), "--vary-mc c: expected lognormal.*got gauss:5%"),
    (dict(mc=2, vary_mc={"zz": "normal:5%"}), "unknown parameter zz"),
    (dict(mc=2, vary_mc={"r": "uniform:1k:2k"}), "also swept with --vary"),
    (dict(corners="ff"), "the deck selects no corner"),
])
def test_bad_deck_sweeps_are_usage_errors(deck, kw, needle):
    with pytest.raises(Exception, match=needle) as info:
        sweep(str(deck), **{"vary": {"r": "list:1k"}, "cache": False, "jobs": 1, **kw})
    assert info.type.__name__ in ("UsageError", "ParameterError")


INVERTER = """* my sky130 inverter
.lib "{lib}" tt
.param wn=1 wp={{2*wn}}
Vdd vdd 0 1.8
Vin in 0 PULSE(0 1.8 0.5n 50p 50p 1.95n 4n)
Xn out in 0 0 sky130_fd_pr__nfet_01v8 l=0.15 w={{wn}}
Xp out in vdd vdd sky130_fd_pr__pfet_01v8 l=0.15 w={{wp}}
Cl out 0 10f
.tran 16p 4n
.meas tran tphl TRIG v(in) VAL=0.9 RISE=1 TARG v(out) VAL=0.9 FALL=1
.end
"""


@requires_sky130
def test_sky130_corners_of_a_users_deck_are_a_dataset_dimension(tmp_path):
    path = tmp_path / "inv.cir"
    path.write_text(INVERTER.format(lib=sky130_library()))
    ds = sweep(str(path), vary={"wn": "list:1,2"}, corners="tt,ff,ss", cache=False, jobs=2)
    assert list(ds.corner.values) == ["tt", "ff", "ss"] and ds.tphl.dims[0] == "corner"
    tphl = ds.tphl.sel(wn=1.0)
    assert 1e-12 < float(tphl.sel(corner="ff")) < float(tphl.sel(corner="tt")) < float(tphl.sel(corner="ss"))
    # a wider nfet pulls down faster at every corner
    assert bool((ds.tphl.sel(wn=2.0) < ds.tphl.sel(wn=1.0)).all())
    with pytest.raises(UsageError, match="no corner 'xx'; choose from tt"):
        sweep(str(path), vary={"wn": "list:1"}, corners="xx", cache=False, jobs=1)


GENERIC = """* my generic130 inverter
.lib "{lib}" tt
.param wn=1u
Vdd vdd 0 1.2
Vin in 0 PULSE(0 1.2 0.5n 50p 50p 1.95n 4n)
Mn out in 0 0 nch w={{wn}} l=0.13u
Mp out in vdd vdd pch w={{2*wn}} l=0.13u
Cl out 0 10f
.tran 10p 4n
.meas tran tphl TRIG v(in) VAL=0.6 RISE=1 TARG v(out) VAL=0.6 FALL=1
.end
"""


def test_generic130_corners_of_a_users_deck(tmp_path):
    from pycircuits.circuits import get
    from pycircuits.pdk import device_model
    path = tmp_path / "inv.cir"
    path.write_text(GENERIC.format(lib=device_model("generic130.lib")))
    assert get(str(path)).extra["corners"] == ("tt", "ff", "ss", "fs", "sf")  # not its helper section 'models'
    ds = sweep(str(path), vary={"wn": "list:1u,2u"}, corners="tt,ff,ss", cache=False, jobs=1)
    tphl = ds.tphl.sel(wn=1e-6)
    assert 1e-12 < float(tphl.sel(corner="ff")) < float(tphl.sel(corner="tt")) < float(tphl.sel(corner="ss"))
