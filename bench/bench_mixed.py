"""mixed_bfloat16 against float32: one LSTM layer's train step and forward pass on this machine.

`python bench/bench_mixed.py [--shapes B,T,D,H ...] [--repeats N] [--rounds R]`

One LSTM (return_sequences=True, mean-squared loss on the whole sequence, one SGD update per
step, jitted), built under each policy on the same float32 weights. The policies run in turn
within each round (one process: both are lstmkit on JAX, so no runtime starves another's
threads); the figure is the best over rounds of the median over repeats, in ms.

Measured 2026-11-30 on this project's 2-core CPU, loaded (load 6.6, other sessions running:
absolute figures ~2x a quiet machine's, ratios indicative), `--bfloat16 --repeats 5 --rounds 2`:

| (B, T, D, H) | step | float32 ms | mixed_bfloat16 ms | bfloat16 ms | float32/mixed |
|---|---|---|---|---|---|
| (32, 80, 128, 128) | train | 40.9 | 66.6 | 72.0 | 0.61 |
| (32, 80, 128, 128) | infer | 7.6 | 12.3 | 18.4 | 0.62 |
| (64, 100, 256, 1024) | train | 3506.4 | 8591.9 | 8319.9 | 0.41 |
| (64, 100, 256, 1024) | infer | 940.0 | 1475.2 | 2151.9 | 0.64 |

On this CPU mixed_bfloat16 is slower than float32 (1.6x inference, 1.6-2.4x a train step):
XLA's CPU matrix products have no fast bfloat16 path here, and the casts add work. The float32
cell state costs nothing measurable: the all-bfloat16 policy (Keras's arithmetic) is no faster.
mixed_bfloat16 is for accelerators (GPU/TPU bfloat16 matrix units); on a CPU use float32.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np

import lstmkit
from lstmkit import layers as L
from lstmkit import losses
from lstmkit.kernels import precision

POLICIES = ("float32", "mixed_bfloat16")


def make_steps(policy: str, shape: tuple, weights: list | None):
    batch, time_steps, features, units = shape
    layer = L.LSTM(units, return_sequences=True, dtype=policy)
    layer.build((batch, time_steps, features))
    if weights is not None:
        layer.set_weights(weights)
    mse = losses.get("mse")

    def loss_fn(params, x, y):
        out, _ = layer.apply(params, layer.state, x)
        return mse(y, out)

    def train(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads), loss

    def infer(params, x):
        return layer.apply(params, layer.state, x)[0]

    return layer, precision.jit(train), precision.jit(infer)


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def bench(shape: tuple, repeats: int, rounds: int, policies: tuple) -> dict:
    batch, time_steps, features, units = shape
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, time_steps, features)).astype("float32")
    y = rng.normal(size=(batch, time_steps, units)).astype("float32")
    runs, weights = {}, None
    for policy in policies:
        layer, train, infer = make_steps(policy, shape, weights)
        weights = weights or layer.get_weights()
        params = layer.params
        jax.block_until_ready(train(params, x, y))  # compile, warm up
        jax.block_until_ready(infer(params, x))
        runs[policy] = (train, infer, params)
    best = {(p, s): float("inf") for p in policies for s in ("train", "infer")}
    for _ in range(rounds):
        for policy, (train, infer, params) in runs.items():
            t = median_ms(lambda: train(params, x, y), repeats)  # noqa: B023
            i = median_ms(lambda: infer(params, x), repeats)  # noqa: B023
            best[policy, "train"] = min(best[policy, "train"], t)
            best[policy, "infer"] = min(best[policy, "infer"], i)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="*", default=["32,80,128,128", "64,100,256,1024"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bfloat16", action="store_true",
                        help="also the 'bfloat16' policy (bfloat16 weights and cell state, "
                        "Keras's mixed arithmetic): what the float32 cell state costs")  # fmt: skip
    args = parser.parse_args()
    policies = POLICIES + (("bfloat16",) if args.bfloat16 else ())
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}; jax {jax.__version__}, lstmkit {lstmkit.__version__}, "
          f"backend {jax.default_backend()}")  # fmt: skip
    names = " | ".join(f"{p} ms" for p in policies)
    print(f"| (B, T, D, H) | step | {names} | float32/mixed |")
    print("|---" * (len(policies) + 3) + "|")
    for text in args.shapes:
        shape = tuple(int(v) for v in text.split(","))
        best = bench(shape, args.repeats, args.rounds, policies)
        for step in ("train", "infer"):
            ms = " | ".join(f"{best[p, step]:.1f}" for p in policies)
            ratio = best["float32", step] / best["mixed_bfloat16", step]
            print(f"| {shape} | {step} | {ms} | {ratio:.2f} |")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
