"""Network simulator speed, side by side: ours (NumPy) vs snnTorch, plain torch, torch.compile, Brian2.

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/network.py [--repeats N] [--threads N]

1. LIF network 700 -> 256 -> 20, 150 steps, batch 64, float32, 2 % input
   spike density (reset by subtraction, tau 20 ms, dt 1 ms).  Times per batch
   for inference (forward) and for a training step (forward + backward).
   Comparisons: snnTorch (``snn.Leaky``, subtract reset) on CPU torch, a
   plain torch loop and the same loop under ``torch.compile``, and Brian2
   (runtime mode, forward only).
2. DenRAM network: 700 inputs x 16 fixed delays -> 20 leaky somas (V >= 0,
   max readout), same batch and input statistics; ours (``DelayedDense``
   'events': a sparse matrix of nnz(x) * 16 entries) vs a torch version that
   gathers the delayed inputs (64 x 150 x 11200) and multiplies, plain and
   compiled.

The whole time loop is compiled (the strongest torch.compile variant: it
fuses across steps); compiling the LIF loop with its backward took 11
minutes on 2 cores the first time (inductor caches it: seconds on later
runs), excluded from the times (``--skip-compile`` leaves
torch.compile out).  The machine's 2 cores may be shared: times are the best
of ``--repeats`` runs, and a busy machine shows up as ratios that move
between runs.

Every optional package is imported under a guard; a missing one is printed
as 'not installed' (or 'not importable: ...').  torch and our NumPy code are
given the same number of threads (``--threads``, default 1, and
OPENBLAS_NUM_THREADS should match).  Ratios are other/ours: > 1 means we
are faster.  Nothing here is asserted: this prints numbers.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pycircuits.network.layers import LIF, DelayedDense, Dense, LeakyIntegrator
from pycircuits.network.training import Sequential, softmax_cross_entropy

BATCH, STEPS, N_IN, N_HID, N_OUT = 64, 150, 700, 256, 20
TAPS = 16
DENSITY = 0.02  # input spike probability per channel and step
DT = 1e-3  # s
TAU = 0.02  # s
MAX_DELAY = 100  # steps, DenRAM delays drawn in [0, MAX_DELAY]


def best_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Best wall time of ``fn()`` over ``repeats`` runs, s (after ``warmup`` runs)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Spikes (BATCH, STEPS, N_IN) float32 at DENSITY and labels (BATCH,)."""
    rng = np.random.default_rng(seed)
    x = (rng.random((BATCH, STEPS, N_IN)) < DENSITY).astype(np.float32)
    return x, rng.integers(0, N_OUT, BATCH)


# -------------------------------------------------------------------- ours


def ours_lif() -> Sequential:
    """700 -> 256 -> 20 feed-forward LIF, readout = spike count of the last layer."""
    return Sequential(
        [
            Dense(N_IN, N_HID, rng=1, init_scale=0.3),
            LIF(N_HID, TAU, DT),
            Dense(N_HID, N_OUT, rng=2),
            LIF(N_OUT, TAU, DT),
        ]
    )


def ours_denram(delays: np.ndarray) -> Sequential:
    return Sequential(
        [
            DelayedDense(N_IN, N_OUT, delays, rng=1, init_scale=0.1, method="events"),
            LeakyIntegrator(N_OUT, TAU, DT, clip_nonneg=True, readout="max"),
        ]
    )


def ours_step(model: Sequential, x: np.ndarray, y: np.ndarray, count: bool) -> None:
    out = model.forward(x)
    logits = out.sum(axis=1) if count else out
    _, grad = softmax_cross_entropy(logits, y)
    g = np.repeat(grad[:, None, :], x.shape[1], axis=1) if count else grad
    model.backward(g)


# ------------------------------------------------------------------- torch


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_lif_forward(torch: Any, w1: Any, w2: Any, x: Any, beta: float) -> Any:
    """Plain-torch LIF network (same equations as ours); returns spike counts (B, N_OUT)."""
    cur1 = x @ w1  # (B, T, H): input projection for all steps at once
    v1 = torch.zeros(x.shape[0], w1.shape[1])
    s1 = torch.zeros_like(v1)
    v2 = torch.zeros(x.shape[0], w2.shape[1])
    s2 = torch.zeros_like(v2)
    count = torch.zeros_like(v2)
    for t in range(x.shape[1]):
        v1 = beta * v1 + cur1[:, t] - s1
        s1 = _spike(torch, v1 - 1.0)
        v2 = beta * v2 + s1 @ w2 - s2
        s2 = _spike(torch, v2 - 1.0)
        count = count + s2
    return count


def _spike(torch: Any, v: Any) -> Any:
    # Heaviside forward, box surrogate backward (as ours): straight-through trick
    box = (v.abs() < 0.5).to(v.dtype)
    return (v > 0).to(v.dtype).detach() + (v * box - (v * box).detach())


def snntorch_forward(torch: Any, snn: Any, fc1: Any, fc2: Any, lif1: Any, lif2: Any, x: Any) -> Any:
    mem1, mem2 = lif1.reset_mem(), lif2.reset_mem()
    count = 0
    cur1 = fc1(x)
    for t in range(x.shape[1]):
        spk1, mem1 = lif1(cur1[:, t], mem1)
        spk2, mem2 = lif2(fc2(spk1), mem2)
        count = count + spk2
    return count


def torch_denram_forward(torch: Any, w: Any, src: Any, valid: Any, x: Any, alpha: float) -> Any:
    """Gather the delayed inputs (B, T, N*K), multiply, clipped leaky integrator, max over time."""
    chan = torch.arange(x.shape[2]).repeat_interleave(src.shape[1] // x.shape[2])
    delayed = x[:, src, chan] * valid  # (B, T, N*K)
    cur = delayed @ w  # (B, T, N_OUT)
    v = torch.zeros(x.shape[0], w.shape[1])
    best = torch.zeros_like(v)
    for t in range(x.shape[1]):
        v = torch.clamp(alpha * v + cur[:, t], min=0.0)
        best = torch.maximum(best, v)
    return best


# -------------------------------------------------------------------- main


def _print_rows(rows: dict[str, tuple[float | None, float | None, str]], ours: str) -> None:
    """Print forward and forward+backward times with other/ours ratios."""
    print(f"  {'':34s} {'time/batch':>12s}   other/ours")
    for phase, idx in (("forward (inference)", 0), ("forward + backward (training step)", 1)):
        print(f" {phase}:")
        ref = rows[ours][idx]
        for name, vals in rows.items():
            seconds, note = vals[idx], vals[2]
            if seconds is None:
                print(f"  {name:34s} {note or 'n/a'}")
                continue
            ratio = f"{seconds / ref:6.2f}x" if name != ours and ref else "       "
            print(f"  {name:34s} {1e3 * seconds:9.1f} ms   {ratio}  {note}")


def bench_lif(repeats: int, torch: Any, compile_: bool = True) -> None:
    """Part 1: the 700 -> 256 -> 20 LIF network, ours vs torch variants and Brian2."""
    x, y = inputs()
    model = ours_lif()
    print(f"\n1. LIF 700 -> 256 -> 20, {STEPS} steps, batch {BATCH}, {100 * DENSITY:.0f} % input spikes")
    fwd = best_time(lambda: model.forward(x), repeats)
    step = best_time(lambda: ours_step(model, x, y, count=True), repeats)
    rows: dict[str, tuple] = {"ours (NumPy)": (fwd, step, "")}
    if torch is None:
        rows["torch / snnTorch"] = (None, None, "torch not installed")
    else:
        rows.update(_torch_lif(torch, model, x, y, repeats, compile_))
    brian, note = _brian2_lif(x, repeats)
    rows["Brian2 (runtime mode)"] = (brian, None, note)
    _print_rows(rows, "ours (NumPy)")


def _torch_lif(
    torch: Any, model: Sequential, x_np: np.ndarray, y_np: np.ndarray, repeats: int, compile_: bool
) -> dict[str, tuple]:
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    # our weights, so that the outputs can be compared
    w1 = torch.from_numpy(model.layers[0].params["W"].copy()).requires_grad_()
    w2 = torch.from_numpy(model.layers[2].params["W"].copy()).requires_grad_()
    beta = float(model.layers[1].alpha[0])
    with torch.no_grad():
        ref = model.forward(x_np).sum(axis=1)
        same = float(np.mean(torch_lif_forward(torch, w1, w2, x, beta).numpy() == ref))
    print(f"  check: torch spike counts equal ours on {100 * same:.1f} % of (sample, output)")
    out: dict[str, tuple] = {}

    def fwd(f: Callable) -> Callable:
        def run() -> None:
            with torch.no_grad():
                f(torch, w1, w2, x, beta)

        return run

    def step(f: Callable) -> Callable:
        def run() -> None:
            loss = torch.nn.functional.cross_entropy(f(torch, w1, w2, x, beta), y)
            loss.backward()

        return run

    out["torch (plain)"] = (best_time(fwd(torch_lif_forward), repeats), best_time(step(torch_lif_forward), repeats), "")
    try:
        import snntorch as snn

        fc1 = torch.nn.Linear(N_IN, N_HID, bias=False)
        fc2 = torch.nn.Linear(N_HID, N_OUT, bias=False)
        with torch.no_grad():
            fc1.weight.copy_(w1.T)
            fc2.weight.copy_(w2.T)
        lif1 = snn.Leaky(beta=beta, reset_mechanism="subtract", init_hidden=False)
        lif2 = snn.Leaky(beta=beta, reset_mechanism="subtract", init_hidden=False)

        def sfwd() -> None:
            with torch.no_grad():
                snntorch_forward(torch, snn, fc1, fc2, lif1, lif2, x)

        def sstep() -> None:
            logits = snntorch_forward(torch, snn, fc1, fc2, lif1, lif2, x)
            torch.nn.functional.cross_entropy(logits, y).backward()

        out["snnTorch"] = (best_time(sfwd, repeats), best_time(sstep, repeats), "")
    except ImportError:
        out["snnTorch"] = (None, None, "not installed")
    out["torch.compile"] = _compiled(torch, torch_lif_forward, (w1, w2, x, beta), y, repeats, compile_)
    return out


def _compiled(torch: Any, f: Callable, args: tuple, y: Any, repeats: int, enabled: bool) -> tuple:
    """(forward, step, note) of ``f`` under torch.compile, compile time excluded."""
    if not enabled:
        return None, None, "skipped (--skip-compile)"
    try:
        cf = torch.compile(f)

        def fwd() -> None:
            with torch.no_grad():
                cf(torch, *args)

        def step() -> None:
            torch.nn.functional.cross_entropy(cf(torch, *args), y).backward()

        t0 = time.perf_counter()
        fwd()
        step()
        compile_s = time.perf_counter() - t0
        return best_time(fwd, repeats), best_time(step, repeats), f"(compile {compile_s:.0f} s, excluded)"
    except Exception as exc:  # a compiler missing on the machine is a result, not a crash
        return None, None, f"torch.compile failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"


def _brian2_lif(x: np.ndarray, repeats: int) -> tuple[float | None, str]:
    """Forward time of the same network in Brian2's runtime (numpy) mode, and a note."""
    try:
        import brian2 as b2
    except ImportError:
        return None, "not installed"
    except Exception as exc:  # e.g. a release that does not import with this NumPy
        return None, f"not importable: {type(exc).__name__}: {str(exc)[:70]}"
    b2.prefs.codegen.target = "numpy"  # runtime mode
    b2.defaultclock.dt = DT * b2.second
    # the batch is simulated as BATCH independent copies of the network
    n_in, n_hid, n_out = BATCH * N_IN, BATCH * N_HID, BATCH * N_OUT
    b_idx, t_idx, i_idx = np.nonzero(x)
    gen = b2.SpikeGeneratorGroup(n_in, b_idx * N_IN + i_idx, t_idx * DT * b2.second)
    eqs = "v : 1"
    hid = b2.NeuronGroup(n_hid, eqs, threshold="v > 1", reset="v -= 1", method="exact")
    out = b2.NeuronGroup(n_out, eqs, threshold="v > 1", reset="v -= 1", method="exact")
    decay = float(np.exp(-DT / TAU))
    hid.run_regularly(f"v *= {decay}", when="start")
    out.run_regularly(f"v *= {decay}", when="start")
    rng = np.random.default_rng(1)
    s1 = b2.Synapses(gen, hid, "w : 1", on_pre="v += w")
    s1.connect("(i // N_IN) == (j // N_HID)", namespace={"N_IN": N_IN, "N_HID": N_HID})
    s1.w = rng.standard_normal(len(s1)) * 0.3
    s2 = b2.Synapses(hid, out, "w : 1", on_pre="v += w")
    s2.connect("(i // N_HID) == (j // N_OUT)", namespace={"N_HID": N_HID, "N_OUT": N_OUT})
    s2.w = rng.standard_normal(len(s2)) / N_HID**0.5
    net = b2.Network(gen, hid, out, s1, s2)
    net.store()

    def run() -> None:
        net.restore()
        net.run(STEPS * DT * b2.second)

    return best_time(run, repeats), "forward only (no training)"


def bench_denram(repeats: int, torch: Any, compile_: bool = True) -> None:
    """Part 2: the DenRAM network, ours (events) vs torch gathering the delayed inputs."""
    x, y = inputs(1)
    delays = np.random.default_rng(2).integers(0, MAX_DELAY + 1, (N_IN, TAPS))
    model = ours_denram(delays)
    print(f"\n2. DenRAM {N_IN} inputs x {TAPS} delays -> {N_OUT}, {STEPS} steps, batch {BATCH}")
    fwd = best_time(lambda: model.forward(x), repeats)
    step = best_time(lambda: ours_step(model, x, y, count=False), repeats)
    rows: dict[str, tuple] = {"ours (NumPy, events)": (fwd, step, "")}
    if torch is None:
        rows["torch"] = (None, None, "not installed")
    else:
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        src_np = np.arange(STEPS)[:, None] - delays.reshape(1, -1)  # (T, N*K)
        src = torch.from_numpy(np.maximum(src_np, 0))
        valid = torch.from_numpy((src_np >= 0).astype(np.float32))
        w = torch.from_numpy(model.layers[0].params["W"].copy()).requires_grad_()
        alpha = float(model.layers[1].alpha[0])
        args = (w, src, valid, xt, alpha)
        with torch.no_grad():
            diff = np.abs(torch_denram_forward(torch, *args).numpy() - model.forward(x)).max()
        print(f"  check: max |torch - ours| of the readout = {diff:.2g}")

        def tf() -> None:
            with torch.no_grad():
                torch_denram_forward(torch, *args)

        def ts() -> None:
            torch.nn.functional.cross_entropy(torch_denram_forward(torch, *args), yt).backward()

        rows["torch (plain, gathered)"] = (best_time(tf, repeats), best_time(ts, repeats), "")
        rows["torch.compile"] = _compiled(torch, torch_denram_forward, args, yt, repeats, compile_)
    _print_rows(rows, "ours (NumPy, events)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (match OPENBLAS_NUM_THREADS)")
    parser.add_argument("--skip-compile", action="store_true",
                        help="leave out torch.compile (compiling the LIF loop with its backward takes ~10 min)")
    args = parser.parse_args()
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(args.threads)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    else:
        print("torch: not installed (pip install torch==2.13.0); torch rows skipped")
    bench_lif(args.repeats, torch, not args.skip_compile)
    bench_denram(args.repeats, torch, not args.skip_compile)


if __name__ == "__main__":
    main()
