"""The fit / evaluate / predict loops: batches in, callbacks out, the parameters kept on the device.

`io` is the model side of the conversation (the loops never import models):
  io.read() -> (params, state)       the live pytrees
  io.publish(params, state)          register a deferred write-back into the layers (cheap)
  io.changed() -> bool               someone read or wrote the weights since the last publish
Between steps the parameters stay in the loop: only a callback that reads the weights (or the end
of fit, or an interruption) writes them into the layer objects; one that wrote them is seen by
`io.changed()` and its values are read back before the next step. The optimizer's state lives on
`optimizer.opt_state` (its `iterations` reads the step count there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit import utils
from lstmkit.training import data as data_mod
from lstmkit.training.adapters import Batch
from lstmkit.training.data import BatchStream
from lstmkit.training.trainer import Trainer


def _take(arrays: list | None, idx: np.ndarray) -> list | None:
    return None if arrays is None else [a[idx] for a in arrays]


def _fetch(x: list | None, y: list | None, sw: Any, item: Any) -> tuple:
    """A batch's (x, y, sample_weight): rows of the arrays, or a Batch from an adapter."""
    if isinstance(item, Batch):
        return item.x, item.y, item.sw
    return _take(x, item), _take(y, item), _take_sw(sw, item)


def _rows(item: Any) -> int:
    return item.rows if isinstance(item, Batch) else data_mod.rows(item)


def _run_chunk(trainer: Trainer, carry: tuple, x: list, y: list, sw: Any, chunk: list) -> tuple:
    """One execution: several equal batches in one scanned call, else one call per batch."""
    if (len(chunk) > 1 and not isinstance(chunk[0], Batch)
            and all(data_mod.rows(idx) == data_mod.rows(chunk[0]) for idx in chunk)):  # fmt: skip
        idx = np.stack([data_mod.as_indices(i) for i in chunk])  # (steps, batch)
        return trainer.train_steps(*carry, _take(x, idx), _take(y, idx), _take_sw(sw, idx))
    for item in chunk:
        *carry, loss = trainer.train_step(*carry, *_fetch(x, y, sw, item))
    return (*carry, loss)


def _take_sw(sw: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if sw is None else sw[idx]


def fit_loop(
    trainer: Trainer,
    io: Any,
    optimizer: Any,
    model: Any,
    data: tuple[list, list, np.ndarray | None],
    stream: BatchStream,
    *,
    epochs: int,
    initial_epoch: int,
    callbacks: Any,
    validation: tuple | None,
    validation_stream: BatchStream | None,
    validation_freq: int | list,
    nan_guard: bool,
) -> None:
    """Train; callbacks get device logs lazily (see CallbackList), epochs get floats."""
    x, y, sw = data
    key = utils.next_key()
    lr_version = None
    model.stop_training = False
    logs: dict[str, float] = {}
    callbacks.on_train_begin()
    # A restored backup (BackupAndRestore) says where a resumed fit starts, as Keras's
    # model._initial_epoch; read once.
    initial_epoch = getattr(model, "_initial_epoch", None) or initial_epoch
    model._initial_epoch = None
    params, state = io.read()  # after on_train_begin: a callback may have set the weights
    wants_begin = callbacks.wants("on_train_batch_begin")
    wants_end = callbacks.wants("on_train_batch_end")  # else skip even building its logs
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        mstate = trainer.fresh_metric_state()
        logs, stepped = {}, False
        for begin, end, chunk in stream.epoch():
            if wants_begin:
                callbacks.on_train_batch_begin(begin)
            if io.changed():  # a callback read or set the weights: take what the layers hold
                params, state = io.read()
            opt_state = optimizer.opt_state
            if optimizer.lr_version != lr_version:  # a new rate set from outside: into the state
                opt_state, lr_version = optimizer.sync_lr(opt_state), optimizer.lr_version
            carry = (params, state, opt_state, mstate, key)
            *carry, loss = _run_chunk(trainer, carry, x, y, sw, chunk)
            if nan_guard and not np.isfinite(float(loss)):
                # TerminateOnNaN: keep the weights from before the step that produced NaN.
                logs = {**trainer.float_results(mstate), "loss": float(loss)}
                callbacks.on_train_batch_end(end, logs)
                model.stop_training = True  # the callback has reported the batch
                break
            params, state, optimizer.opt_state, mstate, key = carry
            io.publish(params, state)
            stepped = True
            if wants_end:
                callbacks.on_train_batch_end(end, lambda m=mstate: trainer.results(m))
            if model.stop_training:
                break
        if stepped and not logs:
            logs = trainer.float_results(mstate)  # the epoch's metrics: read once, here
        if validation is not None and _should_validate(epoch, validation_freq):
            if io.changed():
                params, state = io.read()
            val_logs, state = evaluate_loop(trainer, params, state, *validation, validation_stream)
            io.publish(params, state)
            logs = {**logs, **{f"val_{k}": v for k, v in val_logs.items()}}
        callbacks.on_epoch_end(epoch, logs)
        if getattr(stream, "exhausted", False) and stream.steps_per_epoch:
            model.stop_training = True  # a generator ran out: Keras stops training
        if model.stop_training:
            break
    callbacks.on_train_end(logs if epochs > initial_epoch else {})


def _should_validate(epoch: int, freq: int | list) -> bool:
    """Keras's rule: an int validates every `freq` epochs, a list on those (1-based) epochs."""
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return epoch + 1 in freq


def evaluate_loop(
    trainer: Trainer,
    params: Any,
    state: Any,
    x: list,
    y: list,
    sw: np.ndarray | None,
    stream: BatchStream,
    callbacks: Any = None,
) -> tuple[dict[str, float], Any]:
    """Loss and metrics over the stream's batches: (logs as floats, the final state)."""
    if x is not None:
        data_mod.check_lengths(x, y, sw)
    mstate = trainer.fresh_metric_state()
    for begin, end, chunk in stream.epoch():
        if callbacks is not None:
            callbacks.on_test_batch_begin(begin)
        for item in chunk:
            state, mstate = trainer.test_step(params, state, mstate, *_fetch(x, y, sw, item))
        if callbacks is not None:
            callbacks.on_test_batch_end(end, lambda m=mstate: trainer.results(m))
    return trainer.float_results(mstate), state


def predict_loop(
    trainer: Trainer,
    params: Any,
    state: Any,
    x: list,
    stream: BatchStream,
    *,
    pad: bool,
    callbacks: Any = None,
) -> tuple[list[np.ndarray], Any]:
    """Outputs for the stream's batches. Batches are padded to power-of-two sizes (not for
    stateful models, where rows matter), so predicting on inputs of many sizes compiles a
    handful of programs, not one per size."""
    chunks: list[list[np.ndarray]] = []
    for begin, end, chunk in stream.epoch():
        if callbacks is not None:
            callbacks.on_predict_batch_begin(begin)
        for item in chunk:
            xb, rows = _fetch(x, None, None, item)[0], _rows(item)
            if pad:
                # adapter batches have no fixed size: a power of two at least `rows`
                cap = stream.batch_size or 2 ** (rows - 1).bit_length()
                xb = data_mod.pad_rows(xb, data_mod.bucket(rows, cap))
            ys, state = trainer.predict_step(params, state, xb)
            chunks.append([np.asarray(y)[:rows] for y in ys])
        if callbacks is not None:
            callbacks.on_predict_batch_end(end, {})
    return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))], state
