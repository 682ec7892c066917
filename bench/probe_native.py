"""Kernel-level probe: the native CPU LSTM (kernels/native) against the XLA fused path.

    python bench/probe_native.py B T D H [REPEATS]

One process, jitted train step (grad of the mse over the whole sequence, all weights and the
input) and inference, the two paths interleaved; prints the best wall time and the median
process CPU time (on a shared machine the CPU time is the steadier figure).
"""

from __future__ import annotations

import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit.kernels import activations, fused
from lstmkit.kernels.native import native_lstm

SPEC = fused.CellSpec("lstm", activations.tanh, activations.sigmoid)


def runners(b: int, t: int, d: int, h: int) -> dict:
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(b, t, d)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(d, 4 * h)) * 0.1, jnp.float32)
    u = jnp.asarray(rng.normal(size=(h, 4 * h)) * 0.1, jnp.float32)
    bias = jnp.zeros((4 * h,), jnp.float32)
    init = [jnp.zeros((b, h), jnp.float32)] * 2
    paths = {
        "native": lambda x, w, bias, u: native_lstm(x, w, bias, u, init)[1],
        "fused": lambda x, w, bias, u: fused.fused_rnn(SPEC, x, w, bias, u, init)[1],
    }
    out = {}
    for name, run in paths.items():
        loss = lambda w, bias, u, run=run: jnp.mean(run(x, w, bias, u) ** 2)  # noqa: E731
        train = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
        infer = jax.jit(run)
        out[f"{name} train"] = lambda train=train: train(w, bias, u)
        out[f"{name} infer"] = lambda infer=infer: infer(x, w, bias, u)
    return out


def main() -> None:
    b, t, d, h = map(int, sys.argv[1:5])
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    fns = runners(b, t, d, h)
    times: dict = {k: ([], []) for k in fns}
    for fn in fns.values():
        jax.block_until_ready(fn())
    for _ in range(repeats):  # interleaved
        for name, fn in fns.items():
            tw, tc = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn())
            times[name][0].append(time.perf_counter() - tw)
            times[name][1].append(time.process_time() - tc)
    print(f"(B, T, D, H) = ({b}, {t}, {d}, {h}), ms")
    for name, (wall, cpu) in times.items():
        print(f"  {name:13s} wall {1e3 * min(wall):8.1f}  cpu {1e3 * statistics.median(cpu):8.1f}")


if __name__ == "__main__":
    main()
