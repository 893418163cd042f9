"""Network experiments: quick runs are deterministic, write their files, and show the physics."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pycircuits.errors import UsageError
from pycircuits.studies import experiment_names, format_table, run_experiment

# the experiments defined in experiments.py itself; the others (own modules)
# test their determinism in their own test files
CORE = ("denram", "hierarchy", "nhc")
MODULES = ("metaplastic", "pcm-trace", "memstack", "mingru", "s4d")


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """The core experiments' quick mode, run twice with the same seed."""
    runs = {}
    for name in CORE:
        runs[name] = [
            run_experiment(name, out_dir=tmp_path_factory.mktemp(f"{name}{i}"), quick=True, seed=3) for i in range(2)
        ]
    return runs


@pytest.mark.parametrize("name", CORE)
def test_quick_run_is_deterministic_and_writes_metrics_and_plots(quick_runs, name):
    first, second = quick_runs[name]
    assert first["metrics"] == second["metrics"]
    assert first["table"] == second["table"]
    files = [f for f in first["files"]]
    assert any(f.endswith(".png") for f in files)
    metrics_file = next(f for f in files if f.endswith("metrics.json"))
    saved = json.loads(open(metrics_file).read())
    assert saved["experiment"] == name and saved["seed"] == 3 and saved["quick"] is True
    assert saved["metrics"] == json.loads(json.dumps(first["metrics"]))
    assert all(set(row) == {"metric", "ours", "published"} for row in first["table"])
    assert "metric" in format_table(first["table"]).splitlines()[0]


def test_denram_quick_hardware_is_no_better_than_ideal_and_falls_with_noise(quick_runs):
    m = quick_runs["denram"][0]["metrics"]
    hardware = [m[f"pattern/hardware/k={k}"]["mean"] for k in ("0", "0.1", "0.2")]
    assert hardware[0] <= m["pattern/ideal/k=0"]["mean"] + 1e-12 or hardware[2] < hardware[0]
    assert "fallback" in quick_runs["denram"][0]["sources"]["delay"]
    assert quick_runs["denram"][0]["sources"]["energy"] == "no energy curve"
    rows = {r["metric"]: r for r in quick_runs["denram"][0]["table"]}
    assert "no energy curve" in rows["delay_pattern: energy / inference DenRAM / SNN"]["ours"]


def test_other_seeds_give_other_chips(tmp_path):
    a = run_experiment("nhc", out_dir=tmp_path / "a", quick=True, seed=3)
    b = run_experiment("nhc", out_dir=tmp_path / "b", quick=True, seed=4)
    assert a["metrics"]["chip_tau_cv"] != b["metrics"]["chip_tau_cv"]


def test_unknown_experiment_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown experiment"):
        run_experiment("nosuch", quick=True)


def test_cli_lists_experiments_and_refuses_unknown_names_with_exit_2():
    from pycircuits.cli import main

    runner = CliRunner()
    listed = runner.invoke(main, ["network", "list"])
    assert listed.exit_code == 0 and all(name in listed.output for name in experiment_names())
    bad = runner.invoke(main, ["network", "run", "nosuch"])
    assert bad.exit_code == 2
    assert "unknown experiment" in bad.output and len(bad.output.strip().splitlines()) == 1


def test_cli_runs_a_quick_experiment_and_prints_its_table(tmp_path):
    from pycircuits.cli import main

    result = CliRunner().invoke(main, ["network", "run", "hierarchy", "--quick", "-o", str(tmp_path), "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "MTS-XOR feedforward: homogeneous" in result.output and (tmp_path / "metrics.json").is_file()


def test_every_experiment_is_registered():
    assert set(experiment_names()) == set(CORE) | set(MODULES) | {"crossbar"}


@pytest.mark.parametrize("name", MODULES)
def test_cli_runs_each_module_experiment_and_writes_its_metrics_and_plots(tmp_path, name):
    from pycircuits.cli import main

    out = tmp_path / name
    result = CliRunner().invoke(main, ["network", "run", name, "--quick", "-o", str(out), "--seed", "2"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["experiment"] == name and saved["quick"] is True and saved["seed"] == 2
    assert saved["table"] and all(set(row) == {"metric", "ours", "published"} for row in saved["table"])
    assert any(row["published"] for row in saved["table"])  # the published numbers sit beside ours
    assert list(out.glob("*.png"))
    if name == "mingru" and (out / "traces").is_dir():
        # the recorded traces replay through the circuit from the command line too
        trace = sorted((out / "traces").glob("*.npz"))[0]
        replay = CliRunner().invoke(main, ["regress", "scgru", "--traces", str(trace), "-o", str(tmp_path / "replay")])
        assert replay.exit_code == 0, replay.output
        assert "PASS" in replay.output
