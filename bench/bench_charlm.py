"""Learns like Keras: the `lstmkit train` character model, trained by Keras 3 and by lstmkit.

Same text (the default corpus of `lstmkit train`: Python standard library source), same model
(Embedding -> stacked stateful LSTM -> Dense logits), same initial weights (lstmkit draws them,
Keras loads them with set_weights), same batches (contiguous streams, `fit(shuffle=False)`), Adam,
from-logits sparse categorical crossentropy. Each framework trains in its own subprocess;
this script records the loss after N steps for both and the characters per second each trains,
and writes the "Character model" section of bench/results.md.

    python bench/bench_charlm.py                 # units 128, 300 steps (a few minutes on CPU)
    python bench/bench_charlm.py --units 64 --steps 100 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results.md")
SECTION = "## Character model (lstmkit train) against Keras 3"


# ----- one framework, in its own process ------------------------------------------------------
def _model(lib, vocab: int, a: dict):
    layers = lib.layers
    stack = [lib.Input(batch_shape=(a["batch_size"], None), dtype="int32")]
    stack.append(layers.Embedding(vocab, a["embedding"]))
    for _ in range(a["layers"]):
        stack.append(layers.LSTM(a["units"], return_sequences=True, stateful=True))
    stack.append(layers.Dense(vocab))
    model = lib.Sequential(stack)
    model.compile(
        optimizer=lib.optimizers.Adam(learning_rate=a["learning_rate"]),
        loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def child(framework: str, work: str) -> None:
    a = json.load(open(os.path.join(work, "args.json")))
    data = np.load(os.path.join(work, "data.npz"))
    x, y, vocab = data["x"], data["y"], int(data["vocab"])
    if framework == "keras":
        os.environ["KERAS_BACKEND"] = "jax"
        import keras as lib

        model = _model(lib, vocab, a)
        init = np.load(os.path.join(work, "init.npz"))
        model.set_weights([init[f"w{i}"] for i in range(len(init.files))])
    else:
        import lstmkit as lib

        lib.utils.set_random_seed(a["seed"])
        model = _model(lib, vocab, a)
        weights = model.get_weights()
        np.savez(os.path.join(work, "init.npz"), **{f"w{i}": w for i, w in enumerate(weights)})
    losses, times = [], []
    reset = framework == "lstmkit-reset"

    class Record(lib.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if reset:  # every batch from zero states: what Keras 3's fit does (see SECTION)
                self.model.reset_states()

        def on_train_batch_end(self, batch, logs=None):
            losses.append(float(logs["loss"]))  # the running mean over the epoch, as Keras logs
            times.append(time.perf_counter())

    model.fit(x, y, batch_size=a["batch_size"], epochs=1, shuffle=False, verbose=0,
              callbacks=[Record()])  # fmt: skip
    means = np.asarray(losses, np.float64)
    k = np.arange(1, len(means) + 1)
    per_step = k * means - np.concatenate([[0.0], (k * means)[:-1]])  # each batch's own loss
    chars = (len(times) - 1) * a["batch_size"] * a["seq_length"]
    result = {
        "framework": framework,
        "version": getattr(lib, "__version__", "?"),
        "per_step": per_step.tolist(),
        "running_mean": means.tolist(),
        "chars_per_s": chars / (times[-1] - times[0]),  # steps 2..N: compilation left out
    }
    lstm = model.layers[1]
    carried = lstm.states if framework == "keras" else model.get_states()[lstm.name]
    result["final_states_abs_sum"] = float(sum(np.abs(np.asarray(v)).sum() for v in carried))
    json.dump(result, open(os.path.join(work, f"{framework}.json"), "w"))


# ----- the comparison -------------------------------------------------------------------------
def prepare(work: str, a: dict) -> dict:
    sys.path.insert(0, os.path.dirname(HERE))
    from lstmkit.cli import corpus

    text = corpus.stdlib_corpus()
    vocab = corpus.Vocabulary.of(text.text)
    train, _ = corpus.split(vocab.encode(text.text))
    x, y = corpus.streams(train, a["batch_size"], a["seq_length"])
    n = a["steps"] * a["batch_size"]
    if len(x) < n:
        raise SystemExit(f"the corpus gives {len(x) // a['batch_size']} steps, fewer than --steps")
    np.savez(os.path.join(work, "data.npz"), x=x[:n], y=y[:n], vocab=len(vocab))
    json.dump(a, open(os.path.join(work, "args.json"), "w"))
    return {"characters": len(text.text), "vocab": len(vocab)}


def run_child(framework: str, work: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.path.dirname(HERE), "KERAS_BACKEND": "jax"}
    cmd = [sys.executable, os.path.abspath(__file__), "--child", framework, "--work", work]
    subprocess.run(cmd, check=True, env=env)
    return json.load(open(os.path.join(work, f"{framework}.json")))


def section(a: dict, info: dict, carried: dict, reset: dict, keras: dict) -> str:
    tail = max(1, a["steps"] // 15)

    def last(r: dict) -> float:
        return float(np.mean(r["per_step"][-tail:]))

    def rel(r: dict) -> str:
        return f"{(last(r) - last(keras)) / last(keras):+.2%}"

    def speed(r: dict) -> str:
        return f"{r['chars_per_s']:,.0f} (x{r['chars_per_s'] / keras['chars_per_s']:.2f})"

    lstms = f"{a['layers']} x LSTM({a['units']}, stateful)"
    same = abs(last(reset) - last(keras)) / last(keras)
    rows = [(f"Keras {keras['version']} (JAX) fit", keras, "-"), ("lstmkit fit, states reset "
            "every batch (as Keras's fit)", reset, rel(reset)), ("lstmkit fit, states carried "
            "(`lstmkit train`)", carried, rel(carried))]  # fmt: skip
    return "\n".join([
        SECTION,
        "",
        f"`python bench/bench_charlm.py` ({time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, shared with other jobs: expect noise in the speeds). "
        f"Embedding({info['vocab']}, {a['embedding']}) -> {lstms} -> Dense({info['vocab']}); "
        f"{a['batch_size']} contiguous streams x {a['seq_length']} characters a step; "
        f"Adam({a['learning_rate']}); the default `lstmkit train` text ({info['characters']:,} "
        "characters of standard-library Python); the same initial weights (lstmkit's, loaded "
        "into Keras with set_weights) and the same batches, `fit(shuffle=False)`.",
        "",
        "Keras 3's `fit` on the JAX backend does not carry a stateful LSTM's states from one "
        "batch to the next: its `layer.states` are not variables of the jitted train step, "
        f"and they stay zero (after {a['steps']} steps: sum |states| = "
        f"{keras['final_states_abs_sum']:g}; lstmkit's: {carried['final_states_abs_sum']:.1f}). "
        "So the like-for-like comparison is lstmkit with its states reset before every batch; "
        "the last row is what `lstmkit train` does, each row continuing the text of the one "
        "before.",
        "",
        f"| {a['steps']} steps | loss of step 1 | training loss, mean of the last {tail} steps "
        "| vs Keras | characters per second (steps 2..N) |",
        "|---|---|---|---|---|",
        *[f"| {name} | {r['per_step'][0]:.5f} | {last(r):.4f} | {d} | {speed(r)} |"
          for name, r, d in rows],  # fmt: skip
        "",
        f"Target, loss within 3 % of Keras's after {a['steps']} steps (like for like): "
        f"{same:.2%}, {'met' if same <= 0.03 else 'NOT met'}.",
        "",
    ])  # fmt: skip


def write_section(text: str) -> None:
    """Replace this script's section of bench/results.md (or add it); other sections stay."""
    old = open(RESULTS).read() if os.path.exists(RESULTS) else "# Benchmark results\n"
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else (
        old.rstrip("\n") + "\n\n" + text)  # fmt: skip
    with open(RESULTS, "w") as f:
        f.write(new)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--seq-length", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=0.002)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true", help="print, don't touch results.md")
    p.add_argument("--child", choices=["lstmkit", "lstmkit-reset", "keras"], help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child, args.work)
    a = {k: v for k, v in vars(args).items() if k not in ("child", "work", "no_write")}
    with tempfile.TemporaryDirectory() as work:
        info = prepare(work, a)
        carried = run_child("lstmkit", work)  # first: it draws the initial weights
        reset = run_child("lstmkit-reset", work)
        keras = run_child("keras", work)
    text = section(a, info, carried, reset, keras)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
