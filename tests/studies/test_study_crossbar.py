"""The crossbar study: IR drop of tiled arrays against tile size and wire resistance, in quick mode."""

from __future__ import annotations

import json

import numpy as np

from pycircuits.studies import run_experiment


def test_quick_mode_runs_every_configuration_and_the_read_error_grows_with_tile_and_wire(tmp_path):
    a = run_experiment("crossbar", out_dir=tmp_path / "a", quick=True, seed=1)
    b = run_experiment("crossbar", out_dir=tmp_path / "b", quick=True, seed=1)
    assert a["metrics"] == b["metrics"]  # a deterministic function of the seed
    cfg = a["config"]
    by = {(c["tile"], c["r_wire_per_m"]): c for c in a["metrics"]["by_config"]}
    assert set(by) == {(t, r) for t in cfg["tiles"] for r in cfg["r_wire_per_m"]}
    assert len(a["metrics"]["ideal"]["values"]) == cfg["n_seeds"] >= 3
    assert a["metrics"]["ideal"]["mean"] > 0.5  # the network learned the digits
    err = {k: v["read_error_layer1"]["mean"] for k, v in by.items()}
    (t0, t1), (r0, r1) = sorted(cfg["tiles"])[:2], sorted(cfg["r_wire_per_m"])[:2]
    assert err[t0, r0] < 0 and err[t1, r0] < err[t0, r0] and err[t0, r1] < err[t0, r0]
    for c in by.values():
        assert 0.0 <= c["accuracy"]["mean"] <= 1.0 and len(c["accuracy"]["values"]) == cfg["n_seeds"]
    saved = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert saved["experiment"] == "crossbar" and (tmp_path / "a" / "crossbar.png").stat().st_size > 0
    assert np.isfinite([c["accuracy"]["mean"] for c in by.values()]).all()
