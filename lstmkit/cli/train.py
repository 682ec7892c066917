"""`lstmkit train`: a character-level LSTM language model, trained with Keras's fit.

The model (checkpoint.build_model) is stateful: the text is cut into `batch_size` contiguous
streams, and each batch continues the last one row by row (corpus.streams), so no shuffling.
Each epoch starts the streams from zero states; `fit` is called once per epoch (or part of one,
when `--max-steps` or a resume cuts it), which is how a run stops and resumes on any step.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import fields

from lstmkit import utils
from lstmkit.callbacks import CSVLogger
from lstmkit.cli import checkpoint, corpus, report
from lstmkit.cli.callbacks import Checkpointer, RunProgbar, StopOnInterrupt, StreamValidation
from lstmkit.cli.checkpoint import CHECKPOINT, Settings
from lstmkit.cli.errors import CliError

HISTORY = "history.csv"
INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C


def _settings(args: argparse.Namespace, base: Settings | None) -> Settings:
    """Flags over the defaults, or, on --resume, the checkpoint's settings (a flag that
    disagrees with them is an error: a model cannot change size half-way)."""
    if base is None:
        given = {f.name: getattr(args, f.name) for f in fields(Settings)}
        return Settings(**{k: v for k, v in given.items() if v is not None})
    for f in fields(Settings):
        value = getattr(args, f.name)
        if value is not None and value != getattr(base, f.name):
            flag = "--" + f.name.replace("_", "-")
            raise CliError(
                f"--resume: {flag} {value} differs from the checkpoint's {getattr(base, f.name)}; "
                f"leave {flag} out to continue, or train a new model in another --out"
            )
    return base


def _corpus(args: argparse.Namespace, meta: dict | None) -> corpus.Corpus:
    if meta is None:
        return corpus.read_text_file(args.text) if args.text else corpus.stdlib_corpus()
    recorded = meta["corpus"]
    if args.text:
        text = corpus.read_text_file(args.text)
    elif recorded["source"] == corpus.STDLIB:
        text = corpus.stdlib_corpus()
    elif not os.path.exists(recorded["source"]):
        raise CliError(
            f"--resume: {args.out} was trained on {recorded['source']}, which no longer exists; "
            "give that text as TEXT_FILE"
        )
    else:
        text = corpus.read_text_file(recorded["source"])
    if text.sha256 != recorded["sha256"]:
        raise CliError(
            f"--resume: the text differs from the one {args.out} was trained on "
            f"({recorded['description']}); resume with the same text"
        )
    return text


def _data(text: corpus.Corpus, meta: dict, s: Settings, args: argparse.Namespace):
    vocab = corpus.Vocabulary(meta["vocabulary"])
    where = args.text or "the standard library text"
    return corpus.training_data(text.text, vocab, s.batch_size, s.seq_length, where)


def _start(args: argparse.Namespace):
    """(model, meta, carried states, settings, corpus, data) for a new run or a resumed one;
    the text is checked before a model is built."""
    path = os.path.join(args.out, CHECKPOINT)
    if args.resume:
        if not os.path.isdir(args.out):
            raise CliError(f"--resume: no such directory {args.out}; train without --resume first")
        if not os.path.exists(path):
            raise CliError(
                f"--resume: {args.out} holds no {CHECKPOINT}; it is not the --out of `lstmkit "
                "train` (or training stopped before the first checkpoint)"
            )
        model, meta, states = checkpoint.load_for_training(path)
        s = _settings(args, checkpoint.settings_of(meta))
        text = _corpus(args, meta)
        return model, meta, states, s, text, _data(text, meta, s, args)
    if os.path.exists(path):
        raise CliError(
            f"{args.out} already holds a checkpoint ({path}); add --resume to continue it, or "
            "choose another --out"
        )
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CliError(f"--out {args.out} is a file; give a directory")
    s = _settings(args, None)
    text = _corpus(args, None)
    vocab = corpus.Vocabulary.of(text.text)
    record = {
        "source": text.source,
        "sha256": text.sha256,
        "characters": len(text.text),
        "description": text.description,
    }
    meta = checkpoint.new_meta(vocab, s, record)
    data = _data(text, meta, s, args)
    utils.set_random_seed(s.seed)  # the same seed, the same initial weights
    model = checkpoint.build_model(len(vocab), s, s.batch_size)
    checkpoint.compile_model(model, s)
    return model, meta, None, s, text, data


def _target_steps(args: argparse.Namespace, steps_per_epoch: int) -> int:
    """Total steps (over every run of this DIR): --epochs, --max-steps or both (the first
    reached). --max-steps alone trains as many epochs as it takes; neither: one epoch."""
    epochs = args.epochs if args.epochs is not None else (None if args.max_steps else 1)
    limits = [n for n in (epochs and epochs * steps_per_epoch, args.max_steps) if n]
    return min(limits)


def run(args: argparse.Namespace) -> int:
    model, meta, states, s, text, ((x, y), (vx, vy)) = _start(args)
    vocab = corpus.Vocabulary(meta["vocabulary"])
    steps_per_epoch = len(x) // s.batch_size
    progress = meta["progress"]
    done = progress["epoch"] * steps_per_epoch + progress["step"]
    target = _target_steps(args, steps_per_epoch)
    if done >= target:
        raise CliError(
            f"{args.out} has already trained {done} steps ({progress['epoch']} epochs of "
            f"{steps_per_epoch} steps); raise --epochs or --max-steps to train further"
        )
    os.makedirs(args.out, exist_ok=True)
    history = os.path.join(args.out, HISTORY)
    if not args.resume:
        open(history, "w").close()  # a new run starts a new history
    report.before(text, vocab, model, s, (x, vx), steps_per_epoch, done, target, args.out)

    epochs = math.ceil(target / steps_per_epoch)
    saver = Checkpointer(args.out, meta, steps_per_epoch)
    stopper = StopOnInterrupt()
    callbacks = [
        StreamValidation(vx, vy, s.batch_size),
        saver,
        CSVLogger(history, append=True),
        stopper,
        RunProgbar(epochs),
    ]
    epoch, step = progress["epoch"], progress["step"]
    start, first_done = time.perf_counter(), done
    with stopper:
        while done < target and not stopper.requested:
            last = min(steps_per_epoch, target - epoch * steps_per_epoch)
            if step == 0:
                model.reset_states()  # each epoch reads the streams from their start
            else:
                model.set_states(states)  # a run stopped inside this epoch: continue it
            saver.begin(step)
            b = s.batch_size
            model.fit(
                x[step * b : last * b],
                y[step * b : last * b],
                batch_size=b,
                epochs=epoch + 1,
                initial_epoch=epoch,
                shuffle=False,
                verbose=1,
                callbacks=callbacks,
            )
            progress = meta["progress"]
            epoch, step, done = progress["epoch"], progress["step"], progress["global_step"]
            states = model.get_states() if step else None
    seconds = time.perf_counter() - start
    report.after(meta, vocab, args, text, done - first_done, seconds, stopper.requested)
    return INTERRUPTED if stopper.requested else 0
