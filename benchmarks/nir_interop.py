"""NIR interop: our digits SNN written with ``write_nir``, read back by snnTorch, run side by side.

Run:  python benchmarks/nir_interop.py

The network and its training are the crossbar study's (its QUICK config,
the study's first seed): 8x8 digits as constant currents over 4 steps of
1 ms, ``Dense(64, 32)`` -> ``LIF`` (tau 20 ms) -> ``Dense(32, 10)`` ->
``LeakyIntegrator`` (mean readout).  It is exported to NIR
(:func:`pycircuits.network.interchange.write_nir`), ideal and mapped onto
the study's largest tiles with its worst wires, and each file is imported
with ``snntorch.import_nir.import_from_nir`` and stepped one time step at a
time over the test set.  Printed per network and import variant: the hidden
LIF layer's spikes (total, ours vs snnTorch; the fraction of (sample,
neuron) spike counts that are equal; the mean absolute count difference)
and the predicted class (agreement, both accuracies).

Where snnTorch 1.0.0's importer reads a NIR graph differently from the
discrete-time network we wrote (line numbers in snntorch/import_nir.py):

* ``nir.LI`` has no mapping, neither in import_from_nir's node_map
  (510-519) nor in nirtorch's DEFAULT_MAP (nirtorch/nir_interpreter.py:92),
  so the whole import fails (nir_interpreter.py:131).  Here the LI node is
  bypassed (the graph ends at the second Linear) and snnTorch's class is
  the argmax of that output summed over time; the same output run through
  the graph's LI node (exact step, its metadata's mean readout) is reported
  too.
* ``nir.LIF`` (242-276) is discretised with a fixed ``dt = 1e-4`` s (243),
  forward Euler ``beta = 1 - dt/tau`` (250), not our ``exp(-dt/tau)`` at
  the graph's 1 ms: beta 0.995 instead of 0.951, each 1 ms step read as
  0.1 ms.  The input scale ``r dt/tau`` (252; 0.1025 here) is folded into
  the threshold, ``v_th / w_scale`` (254-257, "hack_w_scale", on by default
  and not settable through import_from_nir: its lambdas take the default).
  So an input step moves snnTorch's membrane ten times less, relative to
  threshold, than it moves ours.
* The reset is to zero, applied in the spiking step (``reset_mechanism=
  "zero"``, ``reset_delay=False``, 273-275); ours subtracts ``v_th`` one
  step later (``V[t] = a V[t-1] + I[t] - v_th S[t-1]``, the node's
  metadata says ``reset="subtract"``, which the importer does not read).
  The spike itself is not delayed: both fire in the step V crosses v_th
  (strictly above), and nirtorch runs a feed-forward chain within one call.

The importer has no options for any of this (dt, reset, w_scale), so the
variants change the graph or the imported module instead:

1. ``default``: the file as written (LI bypassed).
2. ``default + subtract``: 1 with snnTorch's Leaky rebuilt with
   ``reset_mechanism="subtract", reset_delay=True`` (setting the
   ``reset_mechanism`` property after construction would not do: Leaky
   picks its state function once, snntorch/_neurons/leaky.py:175-180,
   while the setter, _neurons/neurons.py:201-207, changes only the flag):
   the reset alone, time constants still snnTorch's.
3. ``tau for 0.1 ms``: each LIF's tau rewritten to ``1e-4 * r`` s.  Our
   ``r = 1/(1 - a)``, so snnTorch's ``beta = 1 - 1e-4/tau = a`` exactly and
   ``w_scale = r * 1e-4/tau = 1`` (threshold kept): only the reset differs.
4. ``+ subtract reset``: 3 with the Leaky rebuilt as in 2.  This is our
   recursion, so it should agree up to float rounding.

Ratios are snnTorch/ours.  Nothing is asserted: this prints numbers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.network.hardware import HardwareModel
from pycircuits.network.interchange import write_nir
from pycircuits.network.tasks import digits_task
from pycircuits.network.training import Sequential, evaluate, train
from pycircuits.studies import crossbar
from pycircuits.studies.report import seed_ints

SNNTORCH_DT = 1e-4  # s, the step hard-coded in snntorch/import_nir.py:243 for nir.LIF
CFG = crossbar.QUICK
SEED = 0  # the study's seed; its first network (k = 0)


def train_network() -> tuple[Sequential, np.ndarray, np.ndarray]:
    """The crossbar study's first network of seed ``SEED``: (trained net, test currents, test labels)."""
    s = seed_ints(SEED, CFG.n_seeds + 1)
    xtr, ytr, xte, yte, _ = digits_task(s[0], CFG.n_train, CFG.n_test, CFG.digits)
    xtr, xte = crossbar._as_currents(xtr, CFG.n_steps), crossbar._as_currents(xte, CFG.n_steps)
    net = crossbar._model(CFG, s[1] % 100_000)
    train(net, xtr, ytr, CFG.epochs, CFG.batch_size, CFG.lr, rng=0)
    return net, xte, yte


def ours(model: Sequential, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Our hidden spikes (batch, time, H) and readout (batch, 10)."""
    return model.layers[1].forward(model.layers[0].forward(x)), model.forward(x)


# ------------------------------------------------------------------ graph edits


def bypass(nir, graph, names: list[str]):
    """``graph`` without the chain nodes ``names``, each one's input wired to its output."""
    edges = list(graph.edges)
    for name in names:
        src = [a for a, b in edges if b == name]
        dst = [b for a, b in edges if a == name]
        edges = [e for e in edges if name not in e] + [(a, b) for a in src for b in dst]
    nodes = {k: v for k, v in graph.nodes.items() if k not in names}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph.metadata)


def tau_for_snntorch_dt(nir, graph):
    """Every LIF's tau set to ``SNNTORCH_DT * r``: snnTorch's Euler step then gives beta = 1 - 1/r = a, w_scale 1."""
    nodes = {k: dataclasses.replace(v, tau=SNNTORCH_DT * np.asarray(v.r, dtype=np.float64))
             if isinstance(v, nir.LIF) else v for k, v in graph.nodes.items()}
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=graph.metadata)


def li_readout(node, trace: np.ndarray) -> np.ndarray:
    """``trace`` (batch, time, n) through a NIR LI node, stepped exactly at the dt of its metadata."""
    dt = float(node.metadata["dt"])
    a = np.exp(-dt / np.asarray(node.tau))
    gain = (1.0 - a) * np.asarray(node.r)  # 1 for the nodes we write
    v = np.zeros_like(trace[:, 0], dtype=np.float64)
    out = np.empty(trace.shape)
    for t in range(trace.shape[1]):
        v = a * v + gain * trace[:, t]
        out[:, t] = v
    readout = str(node.metadata.get("readout", "mean"))
    return {"max": out.max(axis=1), "last": out[:, -1]}.get(readout, out.mean(axis=1))


# ------------------------------------------------------------------ snnTorch side


def leaky_modules(snn, module) -> list[tuple[str, Any]]:
    return [(name, m) for name, m in module.named_modules() if isinstance(m, snn.Leaky)]


def subtract_reset(snn, module) -> None:
    """Rebuild every Leaky of ``module`` with our reset: subtract v_th, one step after the spike."""
    for name, old in leaky_modules(snn, module):
        new = snn.Leaky(beta=old.beta.clone(), threshold=old.threshold.clone(), reset_mechanism="subtract",
                        init_hidden=True, reset_delay=True)
        module.set_submodule(name, new)


def snn_import(import_from_nir: Callable, graph) -> tuple[Any, list[str]]:
    """snnTorch's module for ``graph`` and the warnings the importer printed."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        module = import_from_nir(graph)
    said = [line for line in buf.getvalue().splitlines() if line.lower().startswith("[warning]")]
    return module, said


def snn_run(torch, snn, module, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step ``module`` (a nirtorch GraphModule: (input, state) -> (output, state)) over x (batch, time, 64).

    Returns the hidden spikes (batch, time, H), from a hook on the one Leaky, and the output (batch, time, 10).
    """
    (_, leaky), = leaky_modules(snn, module)
    leaky.reset_mem()
    spikes: list[Any] = []
    hook = leaky.register_forward_hook(lambda _m, _i, out: spikes.append(out[0] if isinstance(out, tuple) else out))
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    outs, state = [], None
    try:
        with torch.no_grad():
            for t in range(xt.shape[1]):
                y, state = module(xt[:, t], state)
                outs.append(y)
    finally:
        hook.remove()
    return torch.stack(spikes, 1).numpy(), torch.stack(outs, 1).numpy()


def describe_leaky(snn, module) -> str:
    (_, m), = leaky_modules(snn, module)
    beta = np.unique(m.beta.detach().numpy().round(6))
    return (f"snn.Leaky beta {', '.join(f'{b:.4f}' for b in beta)}, threshold {float(m.threshold):.4g}, "
            f"reset {m.reset_mechanism}, reset_delay {m.reset_delay}")


# ------------------------------------------------------------------ comparison


def compare(label: str, s_ours: np.ndarray, logits: np.ndarray, s_snn: np.ndarray, out_snn: np.ndarray,
            li_logits: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    c_ours, c_snn = s_ours.sum(axis=1), s_snn.sum(axis=1)  # (sample, neuron) spike counts
    p_ours, p_sum, p_li = logits.argmax(-1), out_snn.sum(axis=1).argmax(-1), li_logits.argmax(-1)
    return {"variant": label, "ours": int(c_ours.sum()), "snn": int(c_snn.sum()),
            "equal": float(np.mean(c_ours == c_snn)), "mad": float(np.mean(np.abs(c_ours - c_snn))),
            "agree_sum": float(np.mean(p_ours == p_sum)), "agree_li": float(np.mean(p_ours == p_li)),
            "acc_ours": float(np.mean(p_ours == y)), "acc_sum": float(np.mean(p_sum == y)),
            "acc_li": float(np.mean(p_li == y))}


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    head = (f"  {'variant':<20} {'spikes ours':>11} {'snnTorch':>9} {'ratio':>6} {'equal cnt':>9} {'mean|d|':>8} "
            f"{'cls agree':>9} {'agree LI':>8} {'acc ours':>8} {'acc snn':>8} {'acc LI':>7}")
    print(head)
    print("  " + "-" * (len(head) - 2))
    for r in rows:
        ratio = r["snn"] / r["ours"] if r["ours"] else float("nan")
        print(f"  {r['variant']:<20} {r['ours']:>11d} {r['snn']:>9d} {ratio:>6.3f} {r['equal']:>9.3f} "
              f"{r['mad']:>8.3f} {r['agree_sum']:>9.3f} {r['agree_li']:>8.3f} {r['acc_ours']:>8.3f} "
              f"{r['acc_sum']:>8.3f} {r['acc_li']:>7.3f}")


def study_network(nir, torch, snn, import_nir, name: str, model: Sequential, path: Path, x: np.ndarray,
                  y: np.ndarray) -> None:
    write_nir(model, path, crossbar.DT_S, {"study": "crossbar", "network": name})
    graph = nir.read(path)
    print(f"\n== {name}: {path.name}, nodes {', '.join(f'{k} ({type(v).__name__})' for k, v in graph.nodes.items())}")
    s_ours, logits = ours(model, x)
    try:
        snn_import(import_nir.import_from_nir, graph)
        unsupported: list[str] = []
    except Exception as exc:  # whatever the importer raises is reported, then worked around
        unsupported = [k for k, v in graph.nodes.items() if isinstance(v, nir.LI)]
        print(f"  snnTorch cannot import the whole graph: {', '.join(unsupported) or 'a node'} (nir.LI) has no "
              f"snnTorch mapping ({type(exc).__name__}: {exc}); it is bypassed below")
    li_nodes = [graph.nodes[k] for k in unsupported]
    base = bypass(nir, graph, unsupported)
    rescaled = tau_for_snntorch_dt(nir, base)
    lif = next(v for v in base.nodes.values() if isinstance(v, nir.LIF))
    try:
        import_nir._nir_to_snntorch_module(lif, hack_w_scale=False)
    except Exception as exc:
        print(f"  hack_w_scale=False (private _nir_to_snntorch_module only): {type(exc).__name__}: {exc}")
    rows = []
    for label, g, patch in [("default", base, False), ("default + subtract", base, True),
                            ("tau for 0.1 ms", rescaled, False), ("+ subtract reset", rescaled, True)]:
        try:
            module, said = snn_import(import_nir.import_from_nir, g)
            if patch:
                subtract_reset(snn, module)
            s_snn, out_snn = snn_run(torch, snn, module, x)
        except Exception as exc:
            print(f"  {label}: snnTorch failed: {type(exc).__name__}: {exc}")
            continue
        li_logits = li_readout(li_nodes[-1], out_snn) if li_nodes else out_snn.sum(axis=1)
        warn = f"; importer printed: {said[0]}" if said else ""
        print(f"  {label:<19} {describe_leaky(snn, module)}{warn}")
        rows.append(compare(label, s_ours, logits, s_snn, out_snn, li_logits, y))
    print(f"  ours: a = exp(-dt/tau) = {float(model.layers[1].alpha[0]):.4f}, v_th {model.layers[1].v_th:g}, "
          f"reset subtract (delayed one step); evaluate() accuracy {evaluate(model, x, y):.3f}")
    print_table(f"{name}: hidden LIF spikes and classes on {x.shape[0]} test digits x {x.shape[1]} steps "
                "(ratio = snnTorch/ours; cls agree: summed output; agree LI / acc LI: through the NIR LI node)", rows)


def main() -> int:
    t0 = time.perf_counter()
    try:
        import snntorch as snn
        import torch
    except ImportError:
        print("torch/snntorch not installed: skipped")
        return 0
    try:
        import nir
        from snntorch import import_nir
    except ImportError as exc:
        print(f"nir/nirtorch not importable ({exc}): skipped")
        return 0
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, snntorch {snn.__version__}, nir {getattr(nir, '__version__', '?')}; "
          f"crossbar QUICK: 64-{CFG.n_hidden}-10, {CFG.n_steps} steps of {crossbar.DT_S * 1e3:g} ms, "
          f"{CFG.n_train} train / {CFG.n_test} test digits, {CFG.epochs} epochs")
    t1 = time.perf_counter()
    net, xte, yte = train_network()
    t_train = time.perf_counter() - t1
    print(f"trained in {t_train:.1f} s")
    tile, r = CFG.tiles[-1], CFG.r_wire_per_m[-1]
    hw = HardwareModel.from_curves(None, **crossbar.STUDY.hw_options).replace(crossbar=crossbar.tiling(tile, r))
    chip = hw.map_network(net, 0, crossbar.DT_S)
    with tempfile.TemporaryDirectory() as tmp:
        study_network(nir, torch, snn, import_nir, "ideal", net, Path(tmp) / "ideal.nir", xte, yte)
        study_network(nir, torch, snn, import_nir, f"chip0 ({tile}x{tile} tiles, {r * 1e-6:g} Ohm/um)", chip,
                      Path(tmp) / "chip0.nir", xte, yte)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s, imports included (training {t_train:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
