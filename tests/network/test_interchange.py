"""Networks to NIR and back: identical outputs for every layer kind, metadata kept, the conversion's law."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pycircuits.errors import FileFormatError, UsageError
from pycircuits.network.interchange import (
    from_nir,
    load_network,
    nir_lif_params,
    read_nir,
    save_network,
    to_nir,
    write_nir,
)
from pycircuits.network.layers import LIF, DelayedDense, DelayedSynapses, Dense, LeakyIntegrator, RecurrentLIF
from pycircuits.network.training import Sequential

nir = pytest.importorskip("nir")  # the nir extra, which make installs

DT = 1e-3


def _lif_mapped(rng):
    """A LIF as a chip has it: per-neuron tau (some beyond the clip) and per-neuron thresholds."""
    lif = LIF(6, rng.uniform(2e-4, 0.5, 6), DT)
    lif.v_th = rng.uniform(0.8, 1.2, 6).astype(np.float32)
    return lif


LAYERS = {
    "Dense": lambda rng: [Dense(4, 6, rng=1)],
    "Dense+bias": lambda rng: [Dense(4, 6, rng=1, bias=True)],
    "LIF": lambda rng: [Dense(4, 6, rng=1, init_scale=1.0), LIF(6, 0.02, DT)],
    "LIF mapped": lambda rng: [Dense(4, 6, rng=1, init_scale=1.0), _lif_mapped(rng)],
    "RecurrentLIF": lambda rng: [RecurrentLIF(4, 5, rng.uniform(5e-3, 0.1, 5), DT, rng=2, init_scale_in=1.0)],
    "LeakyIntegrator max clip": lambda rng: [Dense(4, 3, rng=1), LeakyIntegrator(3, 0.01, DT, True, "max")],
    "LeakyIntegrator mean": lambda rng: [Dense(4, 3, rng=1), LeakyIntegrator(3, rng.uniform(1e-3, 1, 3), DT,
                                                                             readout="mean")],
    "LeakyIntegrator trace": lambda rng: [Dense(4, 3, rng=1), LeakyIntegrator(3, 0.05, DT, readout="none")],
    "DelayedSynapses": lambda rng: [DelayedSynapses(4, rng.integers(0, 6, (4, 3)))],
    "DelayedDense": lambda rng: [DelayedDense(4, 3, rng.integers(0, 6, (4, 16)), rng=3, bias=True)],
}


def _inputs(rng, n=4):
    return ((rng.random((9, 30, n)) < 0.3) * rng.uniform(0.5, 3.0, (9, 30, n))).astype(np.float32)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_the_nir_round_trip_gives_identical_outputs(tmp_path, kind):
    rng = np.random.default_rng(7)
    model = Sequential(LAYERS[kind](rng))
    x = _inputs(rng)
    want = model.forward(x)
    write_nir(model, tmp_path / "net.nir", DT, {"note": kind})
    back, meta = read_nir(tmp_path / "net.nir")
    assert [type(a) for a in back.layers] == [type(a) for a in model.layers]
    np.testing.assert_array_equal(back.forward(x), want)
    assert meta["note"] == kind and meta["dt"] == DT
    # and from NIR's own fields alone, as another tool's graph is read: the same outputs
    graph = to_nir(model, DT)
    for node in graph.nodes.values():
        node.metadata = {}
    graph.metadata = {}
    foreign, _ = from_nir(graph, dt=DT)
    got = foreign.forward(x)
    if kind.startswith("LeakyIntegrator") and "trace" not in kind:
        return  # the readout over time is ours, not NIR's: a NIR reader sees the trace
    if kind == "LIF mapped":
        # thresholds and taus round-trip through float64 NIR fields; spikes agree but for rare ties
        assert np.mean(got == want) > 0.99
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_every_layer_kind_in_one_network_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    model = Sequential([DelayedSynapses(3, rng.integers(0, 4, (3, 2))), Dense(6, 5, rng=1, bias=True),
                        LIF(5, rng.uniform(5e-3, 0.2, 5), DT), RecurrentLIF(5, 4, 0.02, DT, rng=2),
                        DelayedDense(4, 3, rng.integers(0, 3, (4, 2)), rng=3), LeakyIntegrator(3, 0.01, DT)])
    x = _inputs(rng, 3)
    write_nir(model, tmp_path / "n.nir", DT)
    back, _ = read_nir(tmp_path / "n.nir")
    np.testing.assert_array_equal(back.forward(x), model.forward(x))
    graph = nir.read(tmp_path / "n.nir")
    kinds = sorted({type(n).__name__ for n in graph.nodes.values()})
    assert kinds == ["Affine", "Delay", "Input", "LI", "LIF", "Linear", "Output"]
    assert ("3_recurrentlif_rec", "3_recurrentlif") in graph.edges  # the recurrence is a cycle


def test_nir_parameters_follow_the_continuous_law(tmp_path):
    """NIR's LI, tau dv/dt = -v + r I, integrated exactly with the input held over each step,
    gives our V[t] = a V[t-1] + I[t] at the sampling instants (independent ODE solution)."""
    from scipy.integrate import solve_ivp
    tau = np.array([3e-3, 2e-2, 0.4])
    p = nir_lif_params(tau, DT, clip=False)
    np.testing.assert_allclose(p["tau"], tau, rtol=1e-12)
    current = np.random.default_rng(1).normal(size=(25, 3))
    ours = LeakyIntegrator(3, tau, DT, readout="none", dtype=np.float64).forward(current[None])[0]
    v = np.zeros(3)
    for k in range(25):
        sol = solve_ivp(lambda t, v, i=current[k]: (-v + p["r"] * i) / p["tau"], (0, DT), v, rtol=1e-11,
                        atol=1e-13)
        v = sol.y[:, -1]
        np.testing.assert_allclose(v, ours[k], rtol=1e-7, atol=1e-10)
    # a LIF's tau is that of its clipped decay: 0.2 ms -> a = 0.1, not exp(-5)
    q = nir_lif_params(np.array([2e-4]), DT)
    np.testing.assert_allclose(np.exp(-DT / q["tau"]), [0.1])


def test_network_files_keep_layers_and_metadata(tmp_path):
    rng = np.random.default_rng(3)
    model = Sequential(LAYERS["RecurrentLIF"](rng) + [Dense(5, 2, rng=4)])
    # NaN becomes JSON null
    meta = {"dt": DT, "mapping": {"curves": {"delay_curve": {"x": [1.0, 2.0], "y": [3.0, float("nan")]}}}}
    save_network(model, tmp_path / "n.npz", meta)
    back, got = load_network(tmp_path / "n.npz")
    x = _inputs(rng)
    np.testing.assert_array_equal(back.forward(x), model.forward(x))
    assert got["dt"] == DT and got["mapping"]["curves"]["delay_curve"] == {"x": [1.0, 2.0], "y": [3.0, None]}
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(FileFormatError, match="bad.npz"):
        load_network(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", header=np.array(json.dumps({"format": "something"})))
    with pytest.raises(FileFormatError, match="not a pycircuits network file"):
        load_network(tmp_path / "other.npz")


def test_layers_without_a_counterpart_are_refused():
    class Odd(Dense):
        pass

    with pytest.raises(UsageError, match="Odd layer has no NIR counterpart"):
        to_nir(Sequential([Odd(2, 2)]), DT)
    g = nir.NIRGraph(nodes={"input": nir.Input({"input": np.array([2])}), "t": nir.Threshold(np.ones(2)),
                            "output": nir.Output({"output": np.array([2])})},
                     edges=[("input", "t"), ("t", "output")])
    with pytest.raises(UsageError, match="Threshold"):
        from_nir(g, dt=DT)
    with pytest.raises(UsageError, match="give dt"):
        from_nir(g)


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def test_a_study_run_exports_its_ideal_and_mapped_networks(tmp_path):
    """The denram run writes its networks; export carries the delay curve that mapped them."""
    run = tmp_path / "run"
    r = cli("network", "run", "denram", "--quick", "-o", str(run))
    assert r.returncode == 0, r.stderr
    for which in ("ideal", "chip0"):
        out = tmp_path / f"{which}.nir"
        r = cli("network", "export", str(run), "--network", which, "-o", str(out))
        assert r.returncode == 0, r.stderr
        model, meta = load_network(run / "networks" / f"{which}.npz")
        back, got = read_nir(out)
        x = np.random.default_rng(2).random((4, 60, model.layers[0].n_in)).astype(np.float32) < 0.1
        np.testing.assert_array_equal(back.forward(x.astype(np.float32)), model.forward(x.astype(np.float32)))
        assert got["study"] == "denram" and got["mapping"] == json.loads(json.dumps(meta["mapping"]))
    curve = got["mapping"]["curves"]["delay_curve"]
    assert got["mapping"]["mapped"] and got["mapping"]["chip"] == 0 and "delay" in got["mapping"]["sources"]
    assert len(curve["x"]) == len(curve["y"]) > 2
    ideal, _ = load_network(run / "networks" / "ideal.npz")
    chip, _ = load_network(run / "networks" / "chip0.npz")
    assert not np.array_equal(ideal.layers[0].delays, chip.layers[0].delays)  # programmed through the curve
    r = cli("network", "import", str(tmp_path / "chip0.nir"), "-o", str(tmp_path / "again.npz"))
    assert r.returncode == 0 and "0: DelayedDense" in r.stdout
    again, _ = load_network(tmp_path / "again.npz")
    np.testing.assert_array_equal(again.layers[0].params["W"], chip.layers[0].params["W"])


def test_export_and_import_refuse_bad_input_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.nir").write_bytes(b"\x89HDF\r\n\x1a\n but cut short")
    for args, needle in [(["export", str(tmp_path / "empty"), "-o", str(tmp_path / "x.nir")], "no trained network"),
                         (["export", str(tmp_path / "nosuch"), "-o", str(tmp_path / "x.nir")], "no such run"),
                         (["import", str(tmp_path / "junk.nir")], "not a readable NIR file")]:
        r = cli("network", *args)
        assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "x.nir").exists()
    # without the nir package: one line naming the extra
    (tmp_path / "stub" / "nir").mkdir(parents=True)
    (tmp_path / "stub" / "nir" / "__init__.py").write_text("raise ImportError('not installed')\n")
    save_network(Sequential([Dense(2, 2)]), tmp_path / "n.npz", {"dt": DT})
    r = cli("network", "export", str(tmp_path / "n.npz"), "-o", str(tmp_path / "y.nir"),
            env={**os.environ, "PYTHONPATH": str(tmp_path / "stub")})
    assert r.returncode == 2
    assert r.stderr.strip() == "pycircuits: error: NIR export and import need the nir package: " \
                               "pip install 'pycircuits[nir]'"
