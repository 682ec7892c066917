"""Streaming one step: Embedding(65, 256) -> LSTM(512) -> LSTM(512) -> Dense(65) at batch 1.

Each system runs in its own process (no shared thread pools or caches):
- numpy: the two matrix-vector products [x; h] @ [W; U] of the two LSTM layers' shapes (the
  floor: what any implementation must read from memory per step), in its own process too: with
  two threads its OpenBLAS threads wait spinning after each product, and in the lstmkit process
  they held the second core through lstmkit's blocks (1.12 ms a step instead of 0.37-0.47);
- lstmkit: `model.stream().step(x_t)`, the output awaited each step (a generator needs it);
- PyTorch: `nn.LSTM(num_layers=2)` called on one step at a time with (h, c) carried;
- Keras 3 (JAX backend): a stateful model, `predict_on_batch` on one step.
Timing: B blocks of N steps per system and process, the processes run in turn for R rounds;
the figures are the fastest block's wall time (this machine is shared: the fastest block is the
least disturbed) and the median block's CPU time (the process's own cost, whoever else holds
the cores).
Threads: 1 per process by default (BLAS, XLA, torch): at batch 1 the step is a few
matrix-vector products, and on a shared 2-core machine more threads only wait on each other;
`--threads N` changes it for all.
Run: python bench/bench_stream.py [--steps N] [--blocks B] [--rounds R] [--threads N] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
from children import run_child, thread_env

VOCAB, EMBED, UNITS = 65, 256, 512


def blocks(fn, steps: int, n_blocks: int) -> list:
    """Per-step (wall, CPU) seconds of each block of `steps` calls.

    CPU time (the process's, all threads) is what a step costs when the machine is shared: wall
    time also counts the time other processes held the cores."""
    for _ in range(20):
        fn()
    out = []
    for _ in range(n_blocks):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(steps):
            fn()
        out.append(((time.perf_counter() - t) / steps, (time.process_time() - c) / steps))
    return out


def run_numpy(steps, n_blocks):
    # The LSTM layers' [W; U]: (256 + 512, 4 * 512) and (512 + 512, 4 * 512).
    rng = np.random.default_rng(0)
    w = [rng.normal(size=(k, 4 * UNITS)).astype(np.float32) for k in (EMBED + UNITS, 2 * UNITS)]
    v = [np.ones(m.shape[0], np.float32) for m in w]
    times = blocks(lambda: (v[0] @ w[0], v[1] @ w[1]), steps, n_blocks)
    return {"numpy": times, "versions": f"numpy {np.__version__}"}


def run_lstmkit(steps, n_blocks):
    import jax

    import lstmkit
    from lstmkit import layers as L

    model = lstmkit.Sequential([
        lstmkit.Input(shape=(None,), dtype="int32"), L.Embedding(VOCAB, EMBED),
        L.LSTM(UNITS, return_sequences=True), L.LSTM(UNITS, return_sequences=True),
        L.Dense(VOCAB),
    ])  # fmt: skip
    streamer = model.stream(batch_size=1)
    x = jax.numpy.asarray([7], "int32")
    step = lambda: streamer.step(x).block_until_ready()  # noqa: E731
    return {"lstmkit": blocks(step, steps, n_blocks), "versions": f"jax {jax.__version__}"}


def run_torch(steps, n_blocks):
    import torch

    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    torch.manual_seed(0)
    emb, lstm = torch.nn.Embedding(VOCAB, EMBED), torch.nn.LSTM(EMBED, UNITS, 2, batch_first=True)
    head = torch.nn.Linear(UNITS, VOCAB)
    x = torch.tensor([[7]])
    state = [(torch.zeros(2, 1, UNITS), torch.zeros(2, 1, UNITS))]

    def step():
        with torch.inference_mode():
            y, state[0] = lstm(emb(x), state[0])
            return head(y[:, 0])

    return {"torch": blocks(step, steps, n_blocks), "versions": f"torch {torch.__version__}"}


def run_keras(steps, n_blocks):
    import keras

    model = keras.Sequential([
        keras.Input(batch_shape=(1, 1), dtype="int32"), keras.layers.Embedding(VOCAB, EMBED),
        keras.layers.LSTM(UNITS, return_sequences=True, stateful=True),
        keras.layers.LSTM(UNITS, return_sequences=True, stateful=True), keras.layers.Dense(VOCAB),
    ])  # fmt: skip
    x = np.array([[7]], "int32")
    times = blocks(lambda: model.predict_on_batch(x), max(steps // 10, 10), n_blocks)
    return {"keras": times, "versions": f"keras {keras.__version__}"}


NOTES = """What the runs showed (2026-12-01, quiet machine, load 1-3):
- One thread per process: lstmkit 1.09-1.21x numpy's floor over three runs in one hour (the
  table is one of them); target 1.3x. Until lstmkit turned JAX's asynchronous CPU dispatch off
  (kernels/runtime.py) it was 1.38-1.44x: each step was handed to an XLA worker thread and
  awaited, two thread wake-ups (50-80 us) a step. Two threads
  (`--threads 2`, same hour): numpy 0.253 ms, lstmkit 0.328 ms (1.30x, was 1.50x), PyTorch
  1.609, Keras 0.595; after the pool's workers were made to spin 2 ms (04:15): one thread
  1.15x, two threads 0.31-0.35 ms against numpy's 0.248 (1.24-1.43x over three runs).
- Where an lstmkit step goes (perf, one thread): the native kernel's matrix-vector loops, level
  with numpy's sgemv over the same bytes (two layers alone, jitted: 0.49-0.51 ms against numpy's
  0.48-0.49 in one process); the rest (~30 us) is JAX's dispatch of the step (13 arrays in, a
  pytree of states out), the Embedding's gather and the Dense's product.
- The numpy floor runs in its own process: with two threads its OpenBLAS threads wait spinning
  after each product, and in the lstmkit process they held the second core (1.12 ms a step).
- Keras 3 runs with JAX's defaults (asynchronous dispatch on); PyTorch's `nn.LSTM` at batch 1,
  one step per call, is dominated by its per-call overhead.
"""

SYSTEMS = {"numpy": run_numpy, "lstmkit": run_lstmkit, "torch": run_torch, "keras": run_keras}


def summary(times: list) -> tuple[float, float]:
    """(fastest block's wall ms, median block's CPU ms) per step."""
    return min(w for w, _ in times) * 1e3, statistics.median(c for _, c in times) * 1e3


def write_section(path: Path, text: str) -> None:
    """Replace (or add) this benchmark's section of bench/results.md; other sections stay."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    section = re.compile(r"^## Streaming.*?(?=^## |^<!-- |\Z)", re.S | re.M)
    new = section.sub(lambda _: text, old) if section.search(old) else old.rstrip() + "\n\n" + text
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--system", choices=sorted(SYSTEMS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update bench/results.md")
    args = parser.parse_args()
    if args.system:  # a child: one system, results as JSON on the last line
        print(json.dumps(SYSTEMS[args.system](args.steps, args.blocks)))
        return
    results, versions = {}, {}
    env = thread_env(args.threads, LSTMKIT_NUM_THREADS=str(args.threads))
    for _ in range(args.rounds):
        for system in SYSTEMS:
            cmd = [sys.executable, __file__, "--system", system, "--steps", str(args.steps),
                   "--blocks", str(args.blocks)]  # fmt: skip
            out = run_child(system, cmd, env)
            if out is not None:
                versions[system] = out.pop("versions")
                results.setdefault(system, []).extend(out[system])
    floor_wall, floor_cpu = summary(results["numpy"])
    rows = ["| system | wall ms per step (fastest block) | CPU ms per step (median block) "
            "| wall × numpy | CPU × numpy |", "|---|---|---|---|---|"]  # fmt: skip
    for name, label in [("numpy", "numpy: two matrix-vector products (the floor)"),
                        ("lstmkit", "lstmkit `model.stream().step`"),
                        ("torch", "PyTorch `nn.LSTM`, one step at a time"),
                        ("keras", "Keras 3 `predict_on_batch`, stateful")]:  # fmt: skip
        if name in results:
            wall, cpu = summary(results[name])
            rows.append(f"| {label} | {wall:.3f} | {cpu:.3f} | {wall / floor_wall:.2f} "
                        f"| {cpu / floor_cpu:.2f} |")  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = (
        "## Streaming\n\n"
        "`python bench/bench_stream.py --write`: one step of Embedding(65, 256) -> LSTM(512) -> "
        "LSTM(512) -> Dense(65) at batch 1, output awaited every step; each system in its own "
        "process, numpy's two products [x; h] @ [W; U] of the same shapes too; "
        f"{args.rounds} rounds of the processes in turn.\n\n"
        f"{platform.machine()}, {os.cpu_count()} cores, load {load:.1f} at the end; "
        f"{', '.join(versions.values())}; {args.threads} thread(s) per process; "
        f"{args.blocks} blocks of {args.steps} steps (Keras: a tenth as many).\n\n"
        + "\n".join(rows)
        + "\n\n"
        + NOTES
    )
    print(text)
    if args.write:
        write_section(Path(__file__).with_name("results.md"), text)


if __name__ == "__main__":
    main()
