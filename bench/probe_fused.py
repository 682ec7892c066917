"""Kernel-level probe: the fused LSTM path (kernels/fused.py) against the reference scan.

    python bench/probe_fused.py B T D H [UNROLL ...]

One process, jitted train step (grad of the mse over the whole sequence) and inference; prints
the best wall time and the median process CPU time (on a shared machine the CPU time is the
steadier figure). Used to choose the fused path's loop structure.
"""

from __future__ import annotations

import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit.kernels import fused
from lstmkit.kernels import recurrent as rec


def timed(fn, repeats: int = 8) -> str:
    fn()
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        jax.block_until_ready(fn())
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return f"wall {1e3 * min(wall):6.1f} cpu {1e3 * statistics.median(cpu):6.1f}"


def main() -> None:
    b, t, d, h = map(int, sys.argv[1:5])
    unrolls = [int(a) for a in sys.argv[5:]] or [1]
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(b, t, d)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(b, t, h)), jnp.float32)
    p = {
        "k": jnp.asarray(rng.normal(size=(d, 4 * h)) * 0.05, jnp.float32),
        "u": jnp.asarray(rng.normal(size=(h, 4 * h)) * 0.05, jnp.float32),
        "b": jnp.zeros(4 * h),
    }
    init = [jnp.zeros((b, h))] * 2
    spec = fused.CellSpec("lstm", jnp.tanh, jax.nn.sigmoid)

    def reference(p):
        def step(z, s):
            return rec.lstm_step(z["x"] @ p["k"] + p["b"], s, p["u"], jnp.tanh, jax.nn.sigmoid)

        return rec.rnn_scan(step, {"x": x}, init)[1]

    runs = {"reference": reference}
    for k in unrolls:
        runs[f"fused unroll={k}"] = lambda p, k=k: fused.fused_rnn(
            spec, x, p["k"], p["b"], p["u"], init, unroll=k
        )[1]
    fns = {
        name: (jax.jit(jax.grad(lambda p, run=run: jnp.mean((run(p) - y) ** 2))), jax.jit(run))
        for name, run in runs.items()
    }
    for _ in range(2):  # two interleaved rounds
        for name, (train, infer) in fns.items():
            tr = timed(lambda train=train: train(p))
            inf = timed(lambda infer=infer: infer(p))
            print(f"{(b, t, d, h)} {name}: train {tr}  infer {inf}", flush=True)


if __name__ == "__main__":
    main()
