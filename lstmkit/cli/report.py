"""What `lstmkit train` tells a newcomer: what is trained, how good it got, where the files
are, and what to try next."""

from __future__ import annotations

import argparse
import math
import os
import shlex
from typing import Any

import numpy as np

from lstmkit.cli import corpus
from lstmkit.cli.checkpoint import CHECKPOINT, Settings, describe


def _row(name: str, text: str, width: int = 11) -> None:
    print(f"  {name:<{width}}{text}")


def before(
    text: corpus.Corpus,
    vocab: corpus.Vocabulary,
    model: Any,
    s: Settings,
    data: tuple,
    steps_per_epoch: int,
    done: int,
    target: int,
    out: str,
) -> None:
    train_x, val_x = data
    print("lstmkit train: a character-level LSTM language model (it learns to predict the next")
    print("character of a text from the characters before it)")
    _row("text", text.description)
    _row("vocabulary", f"{len(vocab)} different characters")
    _row(
        "split",
        f"{train_x.size:,} characters to train on, {val_x.size:,} to validate on (the last 5 %)",
    )
    _row("model", describe(model, len(vocab), s))
    _row(
        "batches",
        f"{s.batch_size} streams x {s.seq_length} characters a step; each row "
        f"continues the row before (stateful), {steps_per_epoch} steps an epoch",
    )
    resumed = f", resuming after step {done}" if done else ""
    _row(
        "training",
        f"to step {target}{resumed}; Adam(learning_rate={s.learning_rate}), "
        "sparse categorical crossentropy on the logits",
    )
    _row(
        "writing",
        f"{os.path.join(out, CHECKPOINT)} (every epoch), {os.path.join(out, 'history.csv')}",
    )
    print(flush=True)


def _quality(nats: float) -> str:
    bits = nats / math.log(2)
    return f"{nats:.3f} nats = {bits:.2f} bits a character, perplexity {math.exp(nats):.1f}"


def _unigram_loss(text: corpus.Corpus, vocab: corpus.Vocabulary) -> float:
    """The validation loss of a model that knows only how often each character occurs."""
    train, val = corpus.split(vocab.encode(text.text))
    counts = np.bincount(train, minlength=len(vocab)) + 1.0  # +1: no zero probabilities
    return float(-np.mean(np.log(counts / counts.sum())[val]))


def after(
    meta: dict,
    vocab: corpus.Vocabulary,
    args: argparse.Namespace,
    text: corpus.Corpus,
    steps: int,
    seconds: float,
    interrupted: bool,
) -> None:
    s, progress, logs = meta["settings"], meta["progress"], meta["logs"]
    chars = steps * s["batch_size"] * s["seq_length"]
    where = (
        f"epoch {progress['epoch']} done"
        if not progress["step"]
        else (
            f"{progress['step']} of {progress['steps_per_epoch']} steps into epoch "
            f"{progress['epoch'] + 1}"
        )
    )
    print()
    if interrupted:
        print(f"Interrupted after step {progress['global_step']} ({where}); saved, resumable.")
    else:
        print(
            f"Trained {steps} steps in {seconds:.0f} s ({chars / max(seconds, 1e-9):,.0f} "
            f"characters a second, compilation and validation included); at step "
            f"{progress['global_step']}, {where}."
        )
    if "loss" in logs:
        _row(
            "loss",
            f"{logs['loss']:.3f} on the training text (the bar's running mean over the epoch)",
        )
    if "val_loss" in logs:
        _row("val_loss", _quality(logs["val_loss"]) + " on the held-out 5 %")
    _row(
        "frequency",
        _quality(_unigram_loss(text, vocab)) + ": each character's frequency, no context",
    )
    _row("uniform", _quality(math.log(len(vocab))) + f": guessing among {len(vocab)} characters")
    ckpt = os.path.join(args.out, CHECKPOINT)
    print("Files:")
    history = os.path.join(args.out, "history.csv")
    width = max(len(ckpt), len(history)) + 3
    _row(ckpt, "the model: weights, optimizer state, vocabulary (a Keras 3 .keras file)", width)
    _row(history, "loss and val_loss of every epoch (CSVLogger)", width)
    stdlib = text.source == corpus.STDLIB
    prompt = "def " if stdlib else text.text[:4]
    sample = "def main():" if stdlib else (text.text.splitlines() or [text.text])[0][:40]
    source = "" if stdlib else " " + shlex.quote(args.text or text.source)
    more = int(float(f"{10 * progress['global_step']:.1g}"))  # ten times as long, rounded
    q = shlex.quote
    print("Next:")
    print(f"  lstmkit generate {q(ckpt)} --prompt {q(prompt)} --length 300 --temperature 0.8")
    print(
        f"  lstmkit inspect {q(ckpt)} --text {q(sample)} --out "
        f"{q(os.path.join(args.out, 'trace.png'))}"
    )
    print(
        f"  lstmkit train{source} --out {q(args.out)} --resume --max-steps {more}"
        "    (train further: lower val_loss, better text)"
    )
