"""`lstmkit inspect`: the glass box on a text — every gate and state of every LSTM layer of a
trained character model, character by character, drawn into one PNG."""

from __future__ import annotations

import argparse
import inspect as pyinspect
import os

import numpy as np

from lstmkit import inspect
from lstmkit.cli import checkpoint
from lstmkit.cli.errors import CliError

MAX_CHARS = 400  # beyond this the heat maps' columns get too thin to read
GATES = ("i", "f", "o", "input_gate", "forget_gate", "output_gate")  # today's names and Keras's


def plot(traced: dict, path: str, chars: list[str]) -> None:
    """Draw `lstmkit.inspect.trace(model, ids)` with the characters along the time axis.

    `plot_trace(trace, path, tokens=...)` takes the whole model's trace; the older
    `plot_trace(trace, sample, path, title)` took one layer's, so it gets the layers flattened
    ("lstm_1/f", ...) into one figure."""
    if "tokens" in pyinspect.signature(inspect.plot_trace).parameters:
        inspect.plot_trace(traced, path, tokens=chars)
        return
    flat = {f"{layer}/{name}": values for layer, q in traced.items() for name, values in q.items()}
    fig = inspect.plot_trace(flat, title=repr("".join(chars)))
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        ax.set_xticks(range(len(chars)), [repr(c)[1:-1] for c in chars])
    fig.savefig(path)


def run(args: argparse.Namespace) -> int:
    if not args.text:
        raise CliError("--text is empty; give the characters to trace")
    if len(args.text) > MAX_CHARS:
        raise CliError(f"--text has {len(args.text)} characters; at most {MAX_CHARS} fit a plot")
    if not args.out.lower().endswith(".png"):
        raise CliError(f"--out {args.out}: give a .png file name")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise CliError(f"--out {args.out}: no such directory {folder}")
    model, vocab, _ = checkpoint.load_for_inference(args.checkpoint)
    ids = vocab.encode(args.text, "--text")[None, :]  # (batch=1, time)
    traced = inspect.trace(model, ids)
    try:
        plot(traced, args.out, list(args.text))
    except ImportError as e:
        raise CliError(f"{e}") from None
    layers = ", ".join(traced)
    quantities = ", ".join(next(iter(traced.values())))
    print(f"wrote {args.out}: {layers} ({quantities}) over the {ids.shape[1]} characters")
    saturated = {name: _saturation(q) for name, q in traced.items()}
    for name, share in saturated.items():
        print(f"  {name}: {share:.0%} of gate values are saturated (above 0.9 or below 0.1)")
    return 0


def _saturation(quantities: dict) -> float:
    """Share of the sigmoid gates' values near 0 or 1: gates that act as switches."""
    gates = [np.asarray(v) for k, v in quantities.items() if k in GATES]
    if not gates:
        return 0.0
    values = np.concatenate([g.reshape(-1) for g in gates])
    return float(np.mean((values > 0.9) | (values < 0.1)))
