"""fit overhead: lstmkit beside Keras 3 (JAX backend), each run in its own process.

1. `fit` steps per second on Embedding(1000, 32) -> LSTM(64) -> Dense(1), time 30, batch 32.
2. The Python overhead of one `fit` step on a tiny model (Dense(1) on 4 features, batch 8):
   time per step inside `fit` over the time per step of the bare jitted train step
   (`Trainer.train_step` called in a plain loop with the carry kept on the device).

Each system runs in a fresh subprocess, the runs are interleaved (lstmkit, Keras, lstmkit, ...)
and repeated; each figure is the best of the per-run medians (the machine may be shared).
Run: python bench/bench_fit.py [--rounds 5] [--write]   (--write updates bench/results.md)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

HERE = Path(__file__).resolve().parent
VOCAB, TIME, BATCH, STEPS = 1000, 30, 32, 40


def lstm_model(lib):
    return lib.Sequential([lib.Input(shape=(TIME,), dtype="int32"),
                           lib.layers.Embedding(VOCAB, 32), lib.layers.LSTM(64),
                           lib.layers.Dense(1)])  # fmt: skip


def tiny_model(lib):
    return lib.Sequential([lib.Input(shape=(4,)), lib.layers.Dense(1)])


def timed_fits(model, x, y, batch, repeats):
    """Seconds per step of `fit` (one epoch of len(x)/batch steps), `repeats` times."""
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)  # compile
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        out.append((time.perf_counter() - t) / (len(x) // batch))
    return out


def worker(system: str, case: str, repeats: int) -> dict:
    import numpy as np

    lib = __import__(system)
    if system == "lstmkit":
        lib.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if case == "lstm":
        model = lstm_model(lib)
        model.compile(lib.optimizers.Adam(1e-3), "mse")
        x = rng.integers(0, VOCAB, size=(BATCH * STEPS, TIME)).astype("int32")
        y = rng.normal(size=(BATCH * STEPS, 1)).astype("float32")
        per_step = timed_fits(model, x, y, BATCH, repeats)
        return {"steps_per_s": 1.0 / statistics.median(per_step)}
    model = tiny_model(lib)
    model.compile(lib.optimizers.SGD(1e-3), "mse")
    x = rng.normal(size=(8 * 200, 4)).astype("float32")
    y = rng.normal(size=(8 * 200, 1)).astype("float32")
    fit_step = statistics.median(timed_fits(model, x, y, 8, repeats))
    if system != "lstmkit":
        return {"fit_step_us": fit_step * 1e6}
    return {"fit_step_us": fit_step * 1e6, "bare_step_us": bare_step(model, x, y, repeats) * 1e6}


def bare_step(model, x, y, repeats: int) -> float:
    """Seconds per step of the jitted train step alone, fed the same numpy batches as fit."""
    import jax

    from lstmkit import utils
    from lstmkit.models import training_setup

    trainer = training_setup.trainer_for(model, [y.shape])
    training_setup.ensure_opt_state(model, trainer)
    carry = (model.params, model.state, model.optimizer.opt_state,
             trainer.fresh_metric_state(), utils.next_key())  # fmt: skip
    batches = [([x[i : i + 8]], [y[i : i + 8]]) for i in range(0, len(x), 8)]
    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        for xb, yb in batches:
            *carry, loss = trainer.train_step(*carry, xb, yb, None)
        jax.block_until_ready(loss)
        times.append((time.perf_counter() - t) / len(batches))
    return statistics.median(times[1:])


def run(system: str, case: str, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", system, "--case", case, "--repeats", str(repeats)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--case", default="lstm")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.case, args.repeats)))
        return
    runs: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.rounds):
        for case in ("lstm", "tiny"):
            for system in ("lstmkit", "keras") if r % 2 == 0 else ("keras", "lstmkit"):
                runs.setdefault((system, case), []).append(run(system, case, args.repeats))
                print(system, case, runs[(system, case)][-1], flush=True)
    ours = max(d["steps_per_s"] for d in runs[("lstmkit", "lstm")])
    theirs = max(d["steps_per_s"] for d in runs[("keras", "lstm")])
    # fit and bare step are measured in the same process: compare them pairwise.
    pairs = [(d["fit_step_us"], d["bare_step_us"]) for d in runs[("lstmkit", "tiny")]]
    fit_us, bare_us = min(pairs, key=lambda p: p[0] / p[1])
    spread = {key: [round(next(iter(d.values())), 1) for d in v] for key, v in runs.items()}
    keras_tiny = min(d["fit_step_us"] for d in runs[("keras", "tiny")])
    lines = [
        "## fit overhead",
        "",
        f"`python bench/bench_fit.py --rounds {args.rounds} --repeats {args.repeats}` "
        "(each system in its own process, interleaved; best of the per-run medians).",
        "",
        "| measure | lstmkit | Keras 3 | ratio |",
        "|---|---|---|---|",
        f"| fit steps/s, Embedding(1000,32)→LSTM(64)→Dense(1), time 30, batch 32 "
        f"| {ours:.0f} | {theirs:.0f} | {ours / theirs:.2f}× Keras |",
        f"| fit step on Dense(1), batch 8 (µs) | {fit_us:.0f} | {keras_tiny:.0f} "
        f"| {keras_tiny / fit_us:.2f}× Keras's speed |",
        f"| same, bare jitted train step (µs) | {bare_us:.0f} | | fit/bare = "
        f"{fit_us / bare_us:.2f}× |",
        "",
        "Every run (first figure of each; the machine was shared, so figures are noisy): "
        + "; ".join(f"{system} {case}: {values}" for (system, case), values in spread.items()),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        path = HERE / "results.md"
        old = path.read_text() if path.exists() else "# Benchmark results\n\n"
        start = old.find("## fit overhead")
        if start >= 0:
            end = old.find("\n## ", start + 1)
            old = old[:start] + (old[end + 1 :] if end >= 0 else "")
        path.write_text(old.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
