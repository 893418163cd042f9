"""Networks in and out: our own ``.npz`` network files, and NIR graphs for other simulators.

**Network files** (:func:`save_network`, :func:`load_network`): the layers of a
:class:`~pycircuits.network.training.Sequential` (their kinds and settings as
JSON, their arrays as arrays) in one ``.npz``, read without pickle.  A study
writes the networks it trained, ideal and mapped onto a chip, into its run
folder (``networks/``), with metadata: the step ``dt`` and the
TransferCurves used for the mapping with their provenance.

**NIR** (:func:`to_nir`, :func:`from_nir`, :func:`write_nir`, :func:`read_nir`):
the Neuromorphic Intermediate Representation, which snnTorch, Norse,
Rockpool, Lava and Sinabs read and write.  NIR describes neurons in
continuous time; our layers step in discrete time with a step ``dt``.  The
conversion, in this one place:

* **LIF.**  Ours: ``V[t] = a V[t-1] + I[t] - v_th S[t-1]``,
  ``S[t] = H(V[t] - v_th)``, with ``a = exp(-dt/tau_mem)`` clipped to
  [0.1, 0.99].  NIR's: ``tau dv/dt = (v_leak - v) + r I``, a spike when
  ``v > v_threshold``.  Integrating NIR's equation exactly over one step with
  the input held constant gives ``v[t] = a v[t-1] + (1 - a) r I[t]``, the
  same as ours when::

      tau = -dt / ln(a)      (the clipped a: the dynamics the layer has)
      r = 1 / (1 - a)
      v_leak = 0,  v_threshold = v_th

  Our reset subtracts ``v_th`` one step after the spike; NIR's LIF resets
  to ``v_reset``, written as 0.  The node's metadata says
  ``reset = "subtract"``; a reader that ignores it resets to zero, which
  differs from ours only when ``V`` overshoots the threshold.
* **LeakyIntegrator** -> NIR ``LI`` with the same ``tau`` and ``r`` (its ``a``
  is not clipped).  Its readout over time (max, last, mean) and the clip at
  zero are not NIR's: the node's metadata keeps them, and a NIR reader
  sees the whole trace.
* **Dense** -> ``Linear`` (``Affine`` with a bias), weight ``W.T`` (NIR's is
  (out, in)).
* **RecurrentLIF** -> ``Linear`` (W_in) -> ``LIF``, with a ``Linear`` (W_rec)
  from the LIF back to itself: a cycle, which discrete-time readers run
  with one step of delay, as ours does.
* **DelayedSynapses** (each input fanned out to K delayed taps) -> a
  ``Linear`` of ones that copies input i to taps i*K..i*K+K-1, then NIR's
  ``Delay`` with ``delay = delays * dt`` seconds per tap.
  **DelayedDense** -> the same, then a ``Linear`` of its weights.

Every node also carries our own description of its layer (metadata key
``pycircuits``, JSON), so a graph written here is read back into the same
layers: the round trip gives outputs identical to the original's.  Graphs
from other tools are read from NIR's fields alone (Linear/Affine, LIF, LI,
Delay, in a chain); what has no counterpart here is refused naming the node.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pycircuits.errors import FileFormatError, UsageError
from pycircuits.network.layers import (
    LIF,
    DelayedDense,
    DelayedSynapses,
    Dense,
    Layer,
    LeakyIntegrator,
    RecurrentLIF,
    alpha_from_tau,
)
from pycircuits.network.training import Sequential

__all__ = ["NETWORK_FORMAT", "NIR_EXTRA", "from_nir", "load_network", "nir_lif_params", "read_nir",
           "save_network", "to_nir", "write_nir"]

NETWORK_FORMAT = "pycircuits-network"
NETWORK_VERSION = 1
NIR_EXTRA = "pip install 'pycircuits[nir]'"
META_KEY = "pycircuits"


# ------------------------------------------------------------------ layers <-> descriptions

_EXPORTABLE = (Dense, LIF, RecurrentLIF, LeakyIntegrator, DelayedSynapses, DelayedDense)


def _describe(layer: Layer) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A layer as (settings, arrays); :func:`_build` inverts it exactly."""
    kind = type(layer).__name__
    if type(layer) not in _EXPORTABLE:  # a subclass may compute something else than its base
        raise UsageError(f"a {kind} layer has no NIR counterpart and no network-file form; "
                         "exportable: Dense, LIF, RecurrentLIF, LeakyIntegrator, DelayedSynapses, DelayedDense")
    arrays = {k: np.asarray(v) for k, v in layer.params.items()}
    spec: dict[str, Any] = {"kind": kind, "dtype": layer.dtype.name}
    if isinstance(layer, LIF):  # RecurrentLIF too
        spec.update(n=layer.n, dt=layer.dt, trainable_tau=layer.trainable_tau,
                    surrogate_width=layer.surrogate_width, detach_reset=layer.detach_reset)
        arrays["tau"] = np.asarray(layer.tau)
        arrays["v_th"] = np.asarray(layer.v_th, dtype=np.float64)
        if isinstance(layer, RecurrentLIF):
            spec["n_in"] = int(layer.params["W_in"].shape[0])
    elif isinstance(layer, LeakyIntegrator):
        spec.update(n=layer.n, dt=layer.dt, clip_nonneg=layer.clip_nonneg, readout=layer.readout,
                    method=layer.method)
        arrays["tau"] = np.asarray(layer.tau)
    elif isinstance(layer, Dense):
        spec.update(method=layer.method, weight_noise=layer.weight_noise)
    elif isinstance(layer, DelayedDense):
        spec.update(n_in=layer.n_in, n_out=layer.n_out, method=layer.method, weight_noise=layer.weight_noise)
        arrays["delays"] = layer.delays
    else:  # DelayedSynapses
        spec.update(n_in=layer.n_in)
        arrays["delays"] = layer.delays
    return spec, arrays


def _build(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Layer:
    kind, dtype = spec["kind"], np.dtype(spec.get("dtype", "float32"))
    if kind in ("LIF", "RecurrentLIF"):
        v_th = np.asarray(arrays["v_th"])
        scalar_vth = float(v_th) if v_th.ndim == 0 else 1.0
        if kind == "LIF":
            layer: LIF = LIF(int(spec["n"]), arrays["tau"], float(spec["dt"]), scalar_vth,
                             bool(spec["trainable_tau"]), surrogate_width=float(spec["surrogate_width"]),
                             detach_reset=bool(spec["detach_reset"]), dtype=dtype)
        else:
            layer = RecurrentLIF(int(spec["n_in"]), int(spec["n"]), arrays["tau"], float(spec["dt"]), scalar_vth,
                                 bool(spec["trainable_tau"]), surrogate_width=float(spec["surrogate_width"]),
                                 detach_reset=bool(spec["detach_reset"]), dtype=dtype)
            layer.params["W_in"] = np.asarray(arrays["W_in"], dtype=dtype).copy()
            layer.params["W_rec"] = np.asarray(arrays["W_rec"], dtype=dtype).copy()
        if v_th.ndim:
            layer.v_th = v_th.astype(dtype)
        return layer
    if kind == "LeakyIntegrator":
        return LeakyIntegrator(int(spec["n"]), arrays["tau"], float(spec["dt"]), bool(spec["clip_nonneg"]),
                               spec["readout"], method=spec.get("method", "auto"), dtype=dtype)
    if kind == "Dense":
        w = np.asarray(arrays["W"], dtype=dtype)
        dense = Dense(w.shape[0], w.shape[1], bias="b" in arrays, weight_noise=float(spec.get("weight_noise", 0.0)),
                      method=spec.get("method", "auto"), dtype=dtype)
        dense.params["W"] = w.copy()
        if "b" in arrays:
            dense.params["b"] = np.asarray(arrays["b"], dtype=dtype).copy()
        return dense
    if kind == "DelayedDense":
        dd = DelayedDense(int(spec["n_in"]), int(spec["n_out"]), np.asarray(arrays["delays"], dtype=np.int64),
                          bias="b" in arrays, weight_noise=float(spec.get("weight_noise", 0.0)),
                          method=spec.get("method", "auto"), dtype=dtype)
        dd.params["W"] = np.asarray(arrays["W"], dtype=dtype).copy()
        if "b" in arrays:
            dd.params["b"] = np.asarray(arrays["b"], dtype=dtype).copy()
        return dd
    if kind == "DelayedSynapses":
        return DelayedSynapses(int(spec["n_in"]), np.asarray(arrays["delays"], dtype=np.int64), dtype=dtype)
    raise FileFormatError(f"unknown layer kind {kind!r}")


def _n_in(layer: Layer) -> int:
    if isinstance(layer, RecurrentLIF):
        return int(layer.params["W_in"].shape[0])
    if isinstance(layer, (LIF, LeakyIntegrator)):
        return int(layer.n)
    if isinstance(layer, Dense):
        return int(layer.params["W"].shape[0])
    return int(layer.n_in)  # DelayedDense, DelayedSynapses


def _n_out(layer: Layer) -> int:
    if isinstance(layer, (LIF, LeakyIntegrator)):
        return int(layer.n)
    if isinstance(layer, Dense):
        return int(layer.params["W"].shape[1])
    if isinstance(layer, DelayedDense):
        return int(layer.n_out)
    return int(layer.n_in * layer.n_taps)  # DelayedSynapses


# ------------------------------------------------------------------ network files


def mapping_metadata(hw, chip: int | None = None) -> dict[str, Any]:
    """What a network mapped with ``hw`` (a :class:`~pycircuits.network.hardware.HardwareModel`) went
    through: the chip's index, every TransferCurve used (whole, with its provenance: recipe, circuit,
    parameters, seed, ngspice version, PDK), the crossbar tiling, and the hardware's sources."""
    import dataclasses

    from pycircuits.extract.curve import TransferCurve
    curves, settings = {}, {}
    for f in dataclasses.fields(hw):
        value = getattr(hw, f.name)
        if isinstance(value, TransferCurve):
            curves[f.name] = value.to_dict()
        elif f.name == "crossbar" and value is not None:
            settings["crossbar"] = {k.name: getattr(value, k.name) for k in dataclasses.fields(value)
                                    if k.name != "curve"}
            if value.curve is not None:
                curves["crossbar.curve"] = value.curve.to_dict()
        elif f.name not in ("sources", "curves_dir") and isinstance(value, (int, float, bool, tuple, type(None))):
            settings[f.name] = value
    return {"mapped": chip is not None, "chip": chip, "sources": dict(hw.sources), "curves": curves,
            "hardware": settings}


def save_study_networks(out_dir: str | Path, study: str, dt: float, ideal: Sequential, hw, chip,
                        index: int = 0) -> list[str]:
    """A study's trained network, ideal and as mapped onto ``chip`` (a seed) with ``hw``, into ``OUT/networks/``.

    Writes ``ideal.npz`` and ``chipINDEX.npz``; returns the files.  ``pycircuits network export``
    turns them into NIR.
    """
    folder = Path(out_dir) / "networks"
    folder.mkdir(parents=True, exist_ok=True)
    mapped = hw.map_network(ideal, chip, dt)
    base = {"study": study, "dt": dt}
    a = save_network(ideal, folder / "ideal.npz", {**base, "mapping": {"mapped": False, "chip": None}})
    b = save_network(mapped, folder / f"chip{index}.npz", {**base, "mapping": mapping_metadata(hw, index)})
    return [str(a), str(b)]


def save_network(model: Sequential, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``model`` (and JSON-able ``metadata``: dt, curves, provenance) to a ``.npz`` network file."""
    from pycircuits.files import atomic_write, jsonable
    specs, arrays = [], {}
    for i, layer in enumerate(model.layers):
        spec, arr = _describe(layer)
        specs.append(spec)
        arrays.update({f"{i}:{k}": v for k, v in arr.items()})
    head = {"format": NETWORK_FORMAT, "version": NETWORK_VERSION, "layers": specs,
            "metadata": jsonable(dict(metadata or {}))}
    arrays["header"] = np.array(json.dumps(head))
    return atomic_write(path, lambda p: _savez_to(p, arrays))


def _savez_to(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # np.savez adds ".npz" to other names; a file object keeps the name
        np.savez_compressed(f, **arrays)


def load_network(path: str | Path) -> tuple[Sequential, dict[str, Any]]:
    """Read a network file: (the network, its metadata).  A damaged or foreign file is one line."""
    from pycircuits.files import load_arrays
    raw = load_arrays(path, what="network file")
    try:
        head = json.loads(str(raw["header"]))
        if head.get("format") != NETWORK_FORMAT:
            raise ValueError(f"format {head.get('format')!r}")
        if head.get("version") != NETWORK_VERSION:
            raise ValueError(f"version {head.get('version')!r}, this pycircuits reads {NETWORK_VERSION}")
        layers = []
        for i, spec in enumerate(head["layers"]):
            arrays = {k.split(":", 1)[1]: raw[k] for k in raw if k.startswith(f"{i}:")}
            layers.append(_build(spec, arrays))
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise FileFormatError(f"{path}: not a pycircuits network file ({exc})") from None
    return Sequential(layers), dict(head.get("metadata") or {})


# ------------------------------------------------------------------ NIR


def _nir():
    try:
        import nir
    except ImportError:
        raise UsageError(f"NIR export and import need the nir package: {NIR_EXTRA}") from None
    return nir


def nir_lif_params(tau: np.ndarray, dt: float, clip: bool = True) -> dict[str, np.ndarray]:
    """NIR's (tau, r, v_leak) for our discrete leak with step ``dt`` (see the module's equations)."""
    a = alpha_from_tau(np.asarray(tau, dtype=np.float64), dt, clip=(0.1, 0.99) if clip else None)[0]
    return {"tau": -dt / np.log(a), "r": 1.0 / (1.0 - a), "v_leak": np.zeros_like(a)}


def _meta(layer_index: int, role: str, spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
    info = {"layer": layer_index, "role": role}
    if spec is not None:
        info["spec"] = spec
    return {META_KEY: json.dumps(info)}


def _arrays_meta(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The arrays NIR's fields do not carry exactly (tau, thresholds, integer delays), as JSON lists."""
    return {k: {"dtype": np.asarray(v).dtype.name, "shape": list(np.shape(v)), "values": np.asarray(v).ravel().tolist()}
            for k, v in arrays.items() if k in ("tau", "v_th", "delays")}


def to_nir(model: Sequential, dt: float, metadata: Mapping[str, Any] | None = None):
    """``model`` as a ``nir.NIRGraph`` with step ``dt`` (s); ``metadata`` (JSON-able) goes into the graph's."""
    nir = _nir()
    from pycircuits.files import jsonable
    if not model.layers:
        raise UsageError("an empty network has no NIR graph")
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([_n_in(model.layers[0])])})}
    edges: list[tuple[str, str]] = []
    prev = "input"
    for i, layer in enumerate(model.layers):
        spec, arrays = _describe(layer)
        spec = {**spec, "arrays": _arrays_meta(arrays)}
        first, last = _layer_nodes(nir, nodes, edges, i, layer, spec, dt)
        edges.append((prev, first))
        prev = last
    nodes["output"] = nir.Output(output_type={"output": np.array([_n_out(model.layers[-1])])})
    edges.append((prev, "output"))
    info = {"format": NETWORK_FORMAT, "version": NETWORK_VERSION, "dt": dt, **jsonable(dict(metadata or {}))}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_KEY: json.dumps(info)})


def _linear(nir, w: np.ndarray, b: np.ndarray | None, meta: dict[str, Any]):
    """NIR's Linear/Affine of our (in, out) weights."""
    wt = np.ascontiguousarray(np.asarray(w).T)
    return nir.Linear(weight=wt, metadata=meta) if b is None else nir.Affine(weight=wt, bias=np.asarray(b),
                                                                             metadata=meta)


def _fanout(n_in: int, k: int) -> np.ndarray:
    """(n_in*K, n_in) ones that copy input i to taps i*K .. i*K+K-1 (NIR's (out, in) layout)."""
    return np.kron(np.eye(n_in, dtype=np.float32), np.ones((k, 1), dtype=np.float32))


def _layer_nodes(nir, nodes: dict[str, Any], edges: list[tuple[str, str]], i: int, layer: Layer,
                 spec: dict[str, Any], dt: float) -> tuple[str, str]:
    """Add the nodes of layer ``i``; return the names of its first and last node."""
    name = f"{i}_{spec['kind'].lower()}"
    if isinstance(layer, LIF):
        n = layer.n
        p = nir_lif_params(layer.tau, layer.dt)
        v_th = np.broadcast_to(np.asarray(layer.v_th, dtype=np.float64), (n,)).copy()
        lif = nir.LIF(tau=p["tau"], r=p["r"], v_leak=p["v_leak"], v_threshold=v_th, v_reset=np.zeros(n),
                      metadata={**_meta(i, "neurons", spec), "reset": "subtract", "dt": float(layer.dt)})
        if not isinstance(layer, RecurrentLIF):
            nodes[name] = lif
            return name, name
        nodes[f"{name}_in"] = _linear(nir, layer.params["W_in"], None, _meta(i, "w_in"))
        nodes[name] = lif
        nodes[f"{name}_rec"] = _linear(nir, layer.params["W_rec"], None, _meta(i, "w_rec"))
        edges += [(f"{name}_in", name), (name, f"{name}_rec"), (f"{name}_rec", name)]
        return f"{name}_in", name
    if isinstance(layer, LeakyIntegrator):
        p = nir_lif_params(layer.tau, layer.dt, clip=False)
        nodes[name] = nir.LI(tau=p["tau"], r=p["r"], v_leak=p["v_leak"],
                             metadata={**_meta(i, "neurons", spec), "readout": layer.readout,
                                       "clip_nonneg": int(layer.clip_nonneg), "dt": float(layer.dt)})
        return name, name
    if isinstance(layer, Dense):
        nodes[name] = _linear(nir, layer.params["W"], layer.params.get("b"), _meta(i, "weights", spec))
        return name, name
    # DelayedSynapses / DelayedDense: fan-out, delays, then (DelayedDense) the weights
    n_in, k = layer.n_in, layer.n_taps
    nodes[f"{name}_fanout"] = nir.Linear(weight=_fanout(n_in, k), metadata=_meta(i, "fanout", spec))
    nodes[f"{name}_delay"] = nir.Delay(delay=layer.delays.reshape(-1).astype(np.float64) * dt,
                                       metadata={**_meta(i, "delay"), "dt": float(dt)})
    edges.append((f"{name}_fanout", f"{name}_delay"))
    if isinstance(layer, DelayedSynapses):
        return f"{name}_fanout", f"{name}_delay"
    nodes[name] = _linear(nir, layer.params["W"], layer.params.get("b"), _meta(i, "weights"))
    edges.append((f"{name}_delay", name))
    return f"{name}_fanout", name


def _node_info(node) -> dict[str, Any] | None:
    raw = (getattr(node, "metadata", None) or {}).get(META_KEY)
    if raw is None:
        return None
    return json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))


def _from_spec(spec: Mapping[str, Any], nodes: Mapping[str, Any], owned: list[str]) -> Layer:
    """Rebuild a layer from its description and the NIR nodes it became (weights from NIR's fields)."""
    arrays = {k: np.asarray(v["values"], dtype=v["dtype"]).reshape(v["shape"])
              for k, v in spec.get("arrays", {}).items()}
    by_role = {_node_info(nodes[n])["role"]: nodes[n] for n in owned}
    if "weights" in by_role:
        w = by_role["weights"]
        arrays["W"] = np.asarray(w.weight).T
        if hasattr(w, "bias"):
            arrays["b"] = np.asarray(w.bias)
    if "w_in" in by_role:
        arrays["W_in"] = np.asarray(by_role["w_in"].weight).T
        arrays["W_rec"] = np.asarray(by_role["w_rec"].weight).T
    return _build(spec, arrays)


def _chain(graph) -> list[str]:
    """The nodes from input to output, recurrent self-loops aside; refuses branching graphs."""
    succ: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    inputs = [n for n, node in graph.nodes.items() if type(node).__name__ == "Input"]
    if len(inputs) != 1:
        raise UsageError(f"a NIR graph with {len(inputs)} inputs: only single-input chains are read")
    order, seen, node = [], set(), inputs[0]
    while True:
        order.append(node)
        seen.add(node)
        nxt = [b for b in succ.get(node, []) if b not in seen]
        if not nxt:
            break
        if len(nxt) > 1:
            # a recurrent pair (LIF -> its Linear -> LIF) is a loop, not a branch
            loop = [b for b in nxt if node in succ.get(b, [])]
            nxt = [b for b in nxt if b not in loop]
            if len(nxt) != 1:
                raise UsageError(f"NIR node {node!r} branches to {', '.join(sorted(succ[node]))}: "
                                 "only chains (with recurrent loops) are read")
            order += loop
            seen.update(loop)
        node = nxt[0]
    return order


def from_nir(graph, dt: float | None = None) -> tuple[Sequential, dict[str, Any]]:
    """Our layers from a NIR graph, and the graph's metadata (ours parsed from JSON).

    A graph written by :func:`to_nir` is rebuilt layer for layer.  Another
    tool's graph is read from NIR's fields, as a chain of Linear/Affine, LIF,
    LI and Delay nodes, with the step ``dt`` (s) that its discrete-time form
    should have (required then).
    """
    info = _node_info(graph) or {}
    dt = dt if dt is not None else info.get("dt")
    order = [n for n in _chain(graph) if type(graph.nodes[n]).__name__ not in ("Input", "Output")]
    layers: list[Layer] = []
    groups: dict[int, list[str]] = {}
    for n in order:
        meta = _node_info(graph.nodes[n])
        if meta is not None and "layer" in meta:
            groups.setdefault(int(meta["layer"]), []).append(n)
    if groups and sum(len(v) for v in groups.values()) == len(order):
        for i in sorted(groups):
            owned = groups[i]
            spec = next(_node_info(graph.nodes[n])["spec"] for n in owned if "spec" in _node_info(graph.nodes[n]))
            layers.append(_from_spec(spec, graph.nodes, owned))
    else:
        if dt is None:
            raise UsageError("this NIR graph says no time step: give dt (seconds) to read it in discrete time")
        layers = _foreign(graph, order, float(dt))
    return Sequential(layers), info


def _foreign(graph, order: list[str], dt: float) -> list[Layer]:
    """Layers from NIR's own fields (a graph another tool wrote)."""
    layers: list[Layer] = []
    succ: dict[str, set[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, set()).add(b)
    for j, n in enumerate(order):
        node = graph.nodes[n]
        kind = type(node).__name__
        back = succ.get(n, set()) & set(order[:j])
        if back:  # a Linear from a LIF back into it: with the Linear before the LIF, a RecurrentLIF
            if kind != "Linear" or len(layers) < 2 or not isinstance(layers[-1], LIF) \
                    or not isinstance(layers[-2], Dense) or "b" in layers[-2].params:
                raise UsageError(f"NIR node {n!r} feeds back to {', '.join(sorted(back))}: only a Linear from a "
                                 "LIF back into it (after a Linear) is read, as a RecurrentLIF")
            lif, w_in = layers.pop(), layers.pop()
            rec = RecurrentLIF(w_in.params["W"].shape[0], lif.n, lif.tau, dt)
            rec.params["W_in"] = w_in.params["W"]
            rec.params["W_rec"] = np.asarray(node.weight, dtype=np.float32).T * rec._offdiag
            rec.v_th = lif.v_th
            layers.append(rec)
            continue
        if kind in ("Linear", "Affine"):
            w = np.asarray(node.weight, dtype=np.float32).T
            d = Dense(w.shape[0], w.shape[1], bias=kind == "Affine")
            d.params["W"] = w.copy()
            if kind == "Affine":
                d.params["b"] = np.asarray(node.bias, dtype=np.float32).copy()
            layers.append(d)
        elif kind in ("LIF", "LI"):
            tau = np.asarray(node.tau, dtype=np.float64).ravel()
            a = np.exp(-dt / tau)
            gain = np.asarray(node.r, dtype=np.float64) * (1.0 - a)  # ours has r (1 - a) = 1
            if np.any(np.asarray(node.v_leak) != 0):
                raise UsageError(f"NIR node {n!r}: a non-zero v_leak has no counterpart here")
            if not np.allclose(gain, 1.0, rtol=1e-6):
                if not layers or not isinstance(layers[-1], Dense):
                    raise UsageError(f"NIR node {n!r}: r (1 - exp(-dt/tau)) != 1 and no Linear before it to "
                                     "carry the gain")
                layers[-1].params["W"] *= np.broadcast_to(gain, (layers[-1].params["W"].shape[1],)).astype(
                    np.float32)
            if kind == "LIF":
                lif = LIF(tau.size, tau, dt)
                lif.v_th = np.asarray(node.v_threshold, dtype=np.float32).ravel()
                layers.append(lif)
            else:
                layers.append(LeakyIntegrator(tau.size, tau, dt, readout="none"))
        elif kind == "Delay":
            steps = np.asarray(node.delay, dtype=np.float64).ravel() / dt
            if not np.allclose(steps, np.round(steps), atol=1e-6):
                raise UsageError(f"NIR node {n!r}: delays are not whole steps of dt = {dt:g} s")
            layers.append(DelayedSynapses(steps.size, np.round(steps).astype(np.int64)[:, None]))
        else:
            raise UsageError(f"NIR node {n!r} is a {kind}, which has no counterpart here "
                             "(read: Linear, Affine, LIF, LI, Delay)")
    return layers


def write_nir(model: Sequential, path: str | Path, dt: float, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``model`` as a NIR file (HDF5), atomically."""
    nir = _nir()
    from pycircuits.files import atomic_write
    graph = to_nir(model, dt, metadata)
    return atomic_write(path, lambda p: nir.write(p, graph))


def read_nir(path: str | Path, dt: float | None = None) -> tuple[Sequential, dict[str, Any]]:
    """Read a NIR file into our layers (see :func:`from_nir`); a damaged file is one line."""
    nir = _nir()
    try:
        graph = nir.read(path)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise FileFormatError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})") from None
    return from_nir(graph, dt)
