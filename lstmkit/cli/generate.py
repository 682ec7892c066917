"""`lstmkit generate`: sample a text one character at a time from a trained character model,
printing each character as soon as it is drawn. The same --seed gives the same text."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from lstmkit.cli import checkpoint
from lstmkit.cli.errors import CliError


def open_stream(model: Any) -> Any:
    """The model's streamer (`model.stream(batch_size=1)`): zero states, then one compiled
    `step(ids (1,)) -> logits (1, vocab)` per character, the states kept on the device."""
    stream = model.stream(batch_size=1)
    stream.reset()
    return stream


def sample(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Draw an id from softmax(logits / temperature), in float64 so the probabilities sum to 1."""
    z = np.asarray(logits, np.float64).reshape(-1) / temperature  # (vocab,)
    p = np.exp(z - z.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def generate(model: Any, prompt_ids: np.ndarray, length: int, temperature: float, seed: int):
    """Yield `length` sampled ids: the prompt is read first, then each drawn id is fed back."""
    stream = open_stream(model)
    rng = np.random.default_rng(seed)
    logits = None
    for i in prompt_ids:
        logits = np.asarray(stream.step(np.array([i], np.int32)))
    for _ in range(length):
        nxt = sample(logits, temperature, rng)
        yield nxt
        logits = np.asarray(stream.step(np.array([nxt], np.int32)))


def run(args: argparse.Namespace) -> int:
    model, vocab, _ = checkpoint.load_for_inference(args.checkpoint)
    default = "\n" if "\n" in vocab.index else vocab.chars[0]  # start as a new line would
    prompt = args.prompt if args.prompt is not None else default
    if not prompt:
        raise CliError("--prompt is empty; give at least one character to start from")
    prompt_ids = vocab.encode(prompt, "--prompt")
    out = sys.stdout
    out.write(prompt)
    out.flush()
    for i in generate(model, prompt_ids, args.length, args.temperature, args.seed):
        out.write(vocab.chars[i])
        out.flush()  # show each character as soon as it is drawn
    out.write("\n")
    out.flush()
    return 0
