"""Dask executor: a real LocalCluster gives the dataset of local processes, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from pycircuits.errors import UsageError
from pycircuits.sweep import sweep

from marks import requires_ngspice

pytestmark = requires_ngspice

KW = dict(vary={"r": "list:10k,30k"}, params={"n_steps": 200, "sigma_r": 0.2, "sigma_c": 0.05}, mc=12)


@pytest.fixture(scope="module")
def scheduler():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _same(a, b) -> bool:
    for k in a.variables:
        x, y = a[k].values, b[k].values
        if x.dtype.kind == "f" and x.tobytes() != y.tobytes():
            return False
    return set(a.variables) == set(b.variables) and a.equals(b)


def test_dask_local_cluster_gives_the_local_dataset_bit_for_bit(scheduler, tmp_path):
    local = sweep("rc", seed=1, jobs=1, cache=False, **KW)
    remote = sweep("rc", seed=1, scheduler=scheduler, cache=tmp_path / "cache", **KW)
    assert remote.attrs["executor"] == f"dask:{scheduler}"
    assert remote.attrs["n_computed"] == 24 and remote.attrs["n_failed"] == 0
    assert remote.attrs["max_loads_per_batch"] == 1
    assert _same(local, remote)
    # the client cached every point: a re-run computes nothing
    again = sweep("rc", seed=1, scheduler=scheduler, cache=tmp_path / "cache", **KW)
    assert (again.attrs["n_cached"], again.attrs["n_runs"]) == (24, 0) and _same(local, again)
    other = sweep("rc", seed=2, scheduler=scheduler, cache=False, **KW)
    assert not np.array_equal(other.tau_s.values, local.tau_s.values)


def test_jobs_and_scheduler_together_are_refused(scheduler):
    with pytest.raises(UsageError, match="not both"):
        sweep("rc", {"r": "list:1k"}, jobs=2, scheduler=scheduler, cache=False)


def test_unreachable_scheduler_is_bad_input():
    with pytest.raises(UsageError, match="cannot reach Dask scheduler tcp://127.0.0.1:1"):
        sweep("rc", {"r": "list:1k"}, scheduler="tcp://127.0.0.1:1", cache=False)
    with pytest.raises(UsageError, match="expected tcp://HOST:PORT"):
        sweep("rc", {"r": "list:1k"}, scheduler="127.0.0.1", cache=False)


def test_batch_sizes_on_dask_give_the_local_dataset_bit_for_bit(scheduler):
    from pycircuits.sweep.runner import DASK_MIN_BATCH
    local = sweep("rc", seed=3, jobs=2, cache=False, **KW)
    default = sweep("rc", seed=3, scheduler=scheduler, cache=False, **KW)
    assert default.attrs["batch_size"] == DASK_MIN_BATCH and default.attrs["n_batches"] == 1
    small = sweep("rc", seed=3, scheduler=scheduler, cache=False, batch_size=5, **KW)
    assert small.attrs["batch_size"] == 5 and small.attrs["n_batches"] == 5  # 24 points: 5+5+5+5+4
    assert default.attrs["ngspice_threads"] == small.attrs["ngspice_threads"] == 1
    assert _same(local, default) and _same(local, small)
