"""One LSTM layer, side by side: lstmkit, Keras 3 (JAX backend) and PyTorch nn.LSTM.

Same workload in one process: a train step (forward, backward, SGD update of every weight) on
(batch, time, features) -> LSTM(units) -> mean-squared loss on the last hidden state, and
inference (forward only). Medians of repeated runs; ratios are peer time / lstmkit time (> 1
means lstmkit is faster). Run: python bench/bench_lstm.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np

SHAPES = [(32, 80, 128, 128), (64, 100, 128, 256), (64, 100, 256, 1024)]
QUICK = [(32, 80, 128, 128)]


def median_time(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def lstmkit_fns(x, y, units):
    import jax

    import lstmkit
    from lstmkit.models import training_setup

    model = lstmkit.Sequential([lstmkit.Input(shape=x.shape[1:]), lstmkit.layers.LSTM(units)])
    model.compile(lstmkit.optimizers.SGD(learning_rate=1e-3), "mse")
    trainer = training_setup.trainer_for(model, [y.shape])
    training_setup.ensure_opt_state(model, trainer)
    xs, ys = [jax.numpy.asarray(x)], [jax.numpy.asarray(y)]
    carry = [model.params, model.state, model.optimizer.opt_state,
             trainer.fresh_metric_state(), jax.random.key(0)]  # fmt: skip

    def train():
        *carry[:], loss = trainer.train_step(*carry, xs, ys, None)
        jax.block_until_ready(loss)

    def infer():
        jax.block_until_ready(trainer.predict_step(carry[0], carry[1], xs)[0])

    return train, infer


def keras_fns(x, y, units):
    import keras

    model = keras.Sequential([keras.Input(shape=x.shape[1:]), keras.layers.LSTM(units)])
    model.compile(keras.optimizers.SGD(learning_rate=1e-3), "mse")

    def train():
        model.train_on_batch(x, y)

    def infer():
        model.predict_on_batch(x)

    return train, infer


def torch_fns(x, y, units):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    lstm = torch.nn.LSTM(x.shape[-1], units, batch_first=True)
    opt = torch.optim.SGD(lstm.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def train():
        opt.zero_grad()
        out, _ = lstm(xt)
        loss = torch.mean((out[:, -1] - yt) ** 2)
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            lstm(xt)

    return train, infer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="only the smallest shape")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    peers = {"lstmkit": lstmkit_fns, "keras": keras_fns}
    try:
        import torch  # noqa: F401

        peers["torch"] = torch_fns
    except ImportError:
        print("(torch not installed: skipping it)")
    print("| (B, T, D, H) | step | " + " | ".join(f"{p} ms" for p in peers) + " | "
          + " | ".join(f"{p}/lstmkit" for p in peers if p != "lstmkit") + " |")  # fmt: skip
    print("|---" * (2 + 2 * len(peers) - 1) + "|")
    for b, t, d, h in QUICK if args.quick else SHAPES:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(b, t, d)).astype("float32")
        y = rng.normal(size=(b, h)).astype("float32")
        repeats = args.repeats if h < 1024 else max(3, args.repeats // 3)
        fns = {name: make(x, y, h) for name, make in peers.items()}
        for i, step in enumerate(("train", "infer")):
            ms = {name: 1e3 * median_time(f[i], repeats) for name, f in fns.items()}
            ratios = [ms[p] / ms["lstmkit"] for p in peers if p != "lstmkit"]
            print(f"| {(b, t, d, h)} | {step} | " + " | ".join(f"{v:.1f}" for v in ms.values())
                  + " | " + " | ".join(f"{r:.2f}" for r in ratios) + " |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
