"""The fit / evaluate / predict loops: batching, callbacks, and writing weights back each step.

`io` is the model side of the conversation: `io.read() -> (leaves, state)` and
`io.write(leaves, state)`. Callbacks see the model object itself (duck-typed: stop_training,
get_weights, optimizer, ...). Weights are written back after every completed step, so an
interrupted fit leaves the weights of the last completed step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit import utils
from lstmkit.training import data as data_mod
from lstmkit.training.trainer import Trainer, to_device


def _sw_device(sw):
    return None if sw is None else np.asarray(sw, np.float32)


def fit_loop(
    trainer: Trainer,
    io: Any,
    model: Any,
    x: list,
    y: list,
    sw: np.ndarray | None,
    *,
    batch_size: int,
    epochs: int,
    initial_epoch: int,
    shuffle: bool,
    callbacks: Any,
    validation: tuple | None,
    nan_guard: bool,
) -> None:
    n = data_mod.check_lengths(x, y, sw)
    rng = np.random.default_rng(int(np.random.randint(2**31)))
    model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        mstate = trainer.fresh_metric_state()
        logs: dict[str, float] = {}
        for step, idx in enumerate(data_mod.batches(n, batch_size, shuffle, rng)):
            callbacks.on_train_batch_begin(step)
            leaves, state = io.read()
            xs, ys = to_device(data_mod.take(x, idx)), to_device(data_mod.take(y, idx))
            sw_b = None if sw is None else _sw_device(sw[idx])
            new_leaves, new_state, new_mstate, loss = trainer.train_batch(
                leaves, state, mstate, xs, ys, sw_b, utils.next_key()
            )
            if nan_guard and not np.isfinite(float(loss)):
                # TerminateOnNaN: keep the weights from before the step that produced NaN.
                logs = {**trainer.results(mstate), "loss": float(loss)}
                callbacks.on_train_batch_end(step, logs)
                model.stop_training = True  # the callback has reported the batch
                break
            io.write(new_leaves, new_state)
            mstate = new_mstate
            logs = trainer.results(mstate)
            callbacks.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        if validation is not None and not (nan_guard and model.stop_training and not logs):
            val_logs = evaluate_loop(trainer, io, *validation, batch_size=batch_size)
            logs = {**logs, **{f"val_{k}": v for k, v in val_logs.items()}}
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callbacks.on_train_end(logs if epochs > initial_epoch else {})


def evaluate_loop(
    trainer: Trainer,
    io: Any,
    x: list,
    y: list,
    sw: np.ndarray | None,
    *,
    batch_size: int,
    callbacks: Any = None,
) -> dict[str, float]:
    n = data_mod.check_lengths(x, y, sw)
    mstate = trainer.fresh_metric_state()
    leaves, state = io.read()
    for step, idx in enumerate(data_mod.batches(n, batch_size, False, None)):
        if callbacks is not None:
            callbacks.on_test_batch_begin(step)
        xs, ys = to_device(data_mod.take(x, idx)), to_device(data_mod.take(y, idx))
        sw_b = None if sw is None else _sw_device(sw[idx])
        state, mstate = trainer.test_batch(leaves, state, mstate, xs, ys, sw_b)
        if callbacks is not None:
            callbacks.on_test_batch_end(step, trainer.results(mstate))
    io.write(leaves, state)
    return trainer.results(mstate)


def predict_loop(
    trainer: Trainer, io: Any, x: list, *, batch_size: int, pad: bool, callbacks: Any = None
) -> list[np.ndarray]:
    """Batches are padded to power-of-two sizes (not for stateful models, where rows matter),
    so predicting on inputs of many sizes compiles a handful of programs, not one per size."""
    n = data_mod.check_lengths(x, None, None)
    leaves, state = io.read()
    chunks: list[list[np.ndarray]] = []
    for step, idx in enumerate(data_mod.batches(n, batch_size, False, None)):
        if callbacks is not None:
            callbacks.on_predict_batch_begin(step)
        xb = data_mod.take(x, idx)
        rows = len(idx)
        if pad:
            xb = data_mod.pad_rows(xb, data_mod.bucket(rows, batch_size))
        ys, state = trainer.predict_batch(leaves, state, to_device(xb))
        chunks.append([np.asarray(y)[:rows] for y in ys])
        if callbacks is not None:
            callbacks.on_predict_batch_end(step, {})
    io.write(leaves, state)
    return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
