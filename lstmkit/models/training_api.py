"""compile / fit / evaluate / predict for Model, as Keras 3 has them.

These are plain functions bound as Model methods (see functional.py). `training_setup` turns the
model into what the engine takes; the engine (trainer, loops, data) is in `lstmkit.training`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from lstmkit import legacy, utils
from lstmkit import losses as losses_mod
from lstmkit import optimizers as optimizers_mod
from lstmkit.callbacks import TerminateOnNaN
from lstmkit.layers.base import flush_writes
from lstmkit.models import data_sources, quick_predict
from lstmkit.models import training_setup as setup
from lstmkit.models.optimizer_link import OptimizerLink
from lstmkit.models.summary import print_summary
from lstmkit.training import data as data_mod
from lstmkit.training.data import BatchStream, check_steps
from lstmkit.training.loop import evaluate_loop, fit_loop, predict_loop

_trainer = setup.trainer_for  # the Trainer a model uses (tests read its trace counts)


def init(model: Any) -> None:
    model.optimizer = None
    model.stop_training = False
    model.history = None
    model._compile_args = None
    model._trainer_cache = None
    model.run_eagerly = False
    model.jit_compile = True
    model.steps_per_execution = 1


def compile(
    self,
    optimizer: Any = "rmsprop",
    loss: Any = None,
    loss_weights: Any = None,
    metrics: Any = None,
    weighted_metrics: Any = None,
    run_eagerly: bool = False,
    steps_per_execution: int = 1,
    jit_compile: Any = "auto",
    **kwargs: Any,
) -> None:
    """Configure training: optimizer, loss(es), metrics (names or objects, as Keras).

    `run_eagerly=True` or `jit_compile=False` run each step op by op (same numbers, slower);
    `steps_per_execution=N` runs N batches per compiled call (callbacks see every N-th batch).
    """
    if kwargs:
        raise TypeError(f"compile: unexpected keyword argument(s) {sorted(kwargs)}.")
    if loss is None:
        raise ValueError(f"Model '{self.name}': compile needs a `loss` (e.g. loss='mse').")
    steps_per_execution = check_steps(steps_per_execution, "steps_per_execution")
    if jit_compile not in ("auto", True, False):
        raise ValueError(
            f"compile: `jit_compile` must be True, False or 'auto', got {jit_compile!r}."
        )
    if jit_compile == "auto":
        jit_compile = not run_eagerly
    if jit_compile and run_eagerly:  # Keras's rule
        warnings.warn(
            "If `run_eagerly` is True, then `jit_compile` cannot also be True. "
            "Disabling `jit_compile`.",
            stacklevel=2,
        )
        jit_compile = False
    self.optimizer = optimizers_mod.get(optimizer)
    self.optimizer.link = OptimizerLink(self)  # optimizer.variables / build / set_weights
    losses_mod.get(loss) if not isinstance(loss, (list, tuple, dict)) else None  # validate early
    self.run_eagerly, self.jit_compile = bool(run_eagerly), bool(jit_compile)
    self.steps_per_execution = steps_per_execution or 1
    self._compile_args = {
        "loss": loss,
        "loss_weights": loss_weights,
        "metrics": metrics or [],
        "weighted_metrics": weighted_metrics or [],
        "jit": self.jit_compile,
    }
    self._trainer_cache = None


def _validation_freq(value: Any) -> int | list:
    if isinstance(value, bool) or not isinstance(value, (int, list, tuple)):
        raise ValueError(
            "Expected `validation_freq` to be a list or int. "
            f"Received: validation_freq={value!r} of the type {type(value)}."
        )
    if isinstance(value, int) and value <= 0:
        raise ValueError(f"`validation_freq` must be a positive integer, got {value}.")
    return value if isinstance(value, int) else list(value)


def fit(
    self,
    x=None,
    y=None,
    batch_size=None,
    epochs=1,
    verbose="auto",
    callbacks=None,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    class_weight=None,
    sample_weight=None,
    initial_epoch=0,
    steps_per_epoch=None,
    validation_steps=None,
    validation_batch_size=None,
    validation_freq=1,
    **kwargs,
):
    """Train for `epochs` epochs; returns the History."""
    if "nb_epoch" in kwargs:  # Keras 1
        epochs = legacy.pop_renamed("fit", "fit", kwargs, "nb_epoch")
    if kwargs:
        raise TypeError(f"fit: unexpected keyword argument(s) {sorted(kwargs)}.")
    steps_per_epoch = check_steps(steps_per_epoch, "steps_per_epoch")
    validation_steps = check_steps(validation_steps, "validation_steps")
    validation_freq = _validation_freq(validation_freq)
    validation, val_stream = None, None
    if data_sources.is_batch_source(x):  # a generator, PyDataset or dataset (text branch)
        stream, trainer = data_sources.source_for_training(
            self, "fit", x, steps=steps_per_epoch, shuffle=shuffle, class_weight=class_weight,
            y=y, sample_weight=sample_weight, validation_split=validation_split,
        )  # fmt: skip
        stream.require_steps_for_epochs(epochs - initial_epoch, "steps_per_epoch")
        xs = ys = sw = None
        bs = batch_size or 32
    else:
        xs, ys, sw, trainer = setup.training_data(self, "fit", x, y, sample_weight, class_weight)
        n = data_mod.check_lengths(xs, ys, sw)
    if data_sources.is_batch_source(validation_data):
        val_stream, _ = data_sources.source_for_training(
            self, "fit (validation_data)", validation_data, steps=validation_steps
        )
        val_stream.require_steps_for_epochs(epochs - initial_epoch, "validation_steps")
        validation = (None, None, None)
    elif validation_data is not None:
        vx, vy, *vsw = validation_data
        validation = (
            setup.prepare_x(self, vx),
            setup.prepare_y(self, vy)[0],
            np.asarray(vsw[0], np.float32) if vsw else None,
        )
    elif validation_split and xs is not None:
        (xs, ys, sw), validation = _split3(xs, ys, sw, validation_split)
        n = data_mod.check_lengths(xs, ys, sw)
    if xs is not None:
        bs = setup.batch_size_for(self, batch_size, n)
        setup.check_distributed_batches(trainer, n, bs, "fit")
        rng = np.random.default_rng(int(np.random.randint(2**31)))
        stream = BatchStream(n, bs, shuffle, rng, steps_per_epoch, self.steps_per_execution)
    if validation is not None and val_stream is None:
        vbs = setup.batch_size_for(self, validation_batch_size or bs, None)
        nv = data_mod.check_lengths(*validation)
        setup.check_distributed_batches(trainer, nv, vbs, "fit (validation data)")
        val_stream = BatchStream(nv, vbs, steps_per_epoch=validation_steps)
    cbs = setup.callback_list(
        self, callbacks, verbose, add_history=True, epochs=epochs, steps=stream.steps
    )
    setup.ensure_opt_state(self, trainer)
    try:
        fit_loop(
            trainer,
            setup.ModelLink(self),
            self.optimizer,
            self,
            (xs, ys, sw),
            stream,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=cbs,
            validation=validation,
            validation_stream=val_stream,
            validation_freq=validation_freq,
            nan_guard=any(isinstance(c, TerminateOnNaN) for c in cbs.callbacks),
        )
    finally:
        flush_writes()  # the weights of the last completed step, also on an interruption
    return cbs.history


def _split3(xs, ys, sw, fraction):
    arrays = [*xs, *ys, sw]
    train, val = data_mod.split_validation(arrays, fraction)
    nx, ny = len(xs), len(ys)
    return (train[:nx], train[nx : nx + ny], train[-1]), (val[:nx], val[nx : nx + ny], val[-1])


def _logs_to_return(logs: dict, return_dict: bool) -> Any:
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def evaluate(
    self,
    x=None,
    y=None,
    batch_size=None,
    verbose="auto",
    sample_weight=None,
    steps=None,
    callbacks=None,
    return_dict=False,
    **kwargs,
):
    """Loss (and metrics) over the data (the first `steps` batches when given): a float, or
    [loss, *metrics], or a dict."""
    if kwargs:
        raise ValueError(f"evaluate: arguments not recognized: {sorted(kwargs)}.")
    steps = check_steps(steps, "steps")
    if data_sources.is_batch_source(x):
        stream, trainer = data_sources.source_for_training(
            self, "evaluate", x, steps=steps, y=y, sample_weight=sample_weight
        )
        xs = ys = sw = None
    else:
        xs, ys, sw, trainer = setup.training_data(self, "evaluate", x, y, sample_weight, None)
        n = data_mod.check_lengths(xs, ys, sw)
        stream = BatchStream(n, setup.batch_size_for(self, batch_size, n), steps_per_epoch=steps)
        setup.check_distributed_batches(trainer, n, stream.batch_size, "evaluate")
    cbs = setup.callback_list(self, callbacks, verbose, steps=stream.steps)
    cbs.on_test_begin()
    link = setup.ModelLink(self)
    params, state = link.read()
    logs, state = evaluate_loop(trainer, params, state, xs, ys, sw, stream, callbacks=cbs)
    self.set_state(state)
    cbs.on_test_end(logs)
    return _logs_to_return(logs, return_dict)


def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """Outputs for every sample (of the first `steps` batches when given): one array, or a list
    for several outputs."""
    if data_sources.is_batch_source(x):
        return _predict(self, x, batch_size, verbose, steps, callbacks)
    if verbose == 0 and not callbacks and steps is None:  # one small batch: the lean path
        out = quick_predict.predict(self, x, batch_size)
        if out is not None:
            return out
    return _predict(self, setup.prepare_x(self, x), batch_size, verbose, steps, callbacks)


def _predict(model, xs, batch_size, verbose, steps, callbacks):
    steps = check_steps(steps, "steps")
    if data_sources.is_batch_source(xs):
        stream, xs = data_sources.source_for_predict(model, xs, steps), None
    else:
        n = data_mod.check_lengths(xs, None, None)
        stream = BatchStream(n, setup.batch_size_for(model, batch_size, n), steps_per_epoch=steps)
    stateful = any(getattr(layer, "stateful", False) for layer in model.layers)
    cbs = setup.callback_list(model, callbacks, verbose, steps=stream.steps)
    cbs.on_predict_begin()
    trainer = setup.trainer_for(model)
    outs, state = predict_loop(
        trainer, model.params, model.state, xs, stream, pad=not stateful, callbacks=cbs
    )
    model.set_state(state)
    cbs.on_predict_end()
    return outs[0] if len(outs) == 1 else outs  # Keras 3 unpacks a one-output list too


def predict_on_batch(self, x):
    """Outputs for `x` run as one batch (not cut into predict's default batches of 32)."""
    if x is None:
        return None
    out = quick_predict.predict(self, x, None, whole=True)
    if out is not None:
        return out
    xs = setup.prepare_x(self, x)
    return _predict(self, xs, data_mod.check_lengths(xs, None, None), 0, None, None)


def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    """One optimizer step on this batch; returns its loss (and metrics)."""
    xs, ys, sw, trainer = setup.training_data(
        self, "train_on_batch", x, y, sample_weight, class_weight
    )
    n = data_mod.check_lengths(xs, ys, sw)
    setup.batch_size_for(self, n, n)
    setup.ensure_opt_state(self, trainer)
    optimizer = self.optimizer
    opt_state = optimizer.sync_lr(optimizer.opt_state)
    params, state, opt_state, _, _, _, logs = trainer.train_step_logs(
        self.params, self.state, opt_state, trainer.fresh_metric_state(), utils.next_key_data(),
        xs, ys, sw,
    )  # fmt: skip
    optimizer.opt_state = opt_state
    self.set_params(params)
    self.set_state(state)
    return _logs_to_return(trainer.float_logs(logs), return_dict)


def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
    setup.require_compiled(self, "test_on_batch")
    n = data_mod.check_lengths(setup.prepare_x(self, x), None, None)
    return evaluate(
        self, x, y, batch_size=n, verbose=0, sample_weight=sample_weight, return_dict=return_dict
    )


def predict_classes(self, x, batch_size=32, verbose=0):
    """Keras 1/2: class indices (threshold 0.5 for one sigmoid unit, else argmax)."""
    return legacy.predict_classes(self, x, batch_size=batch_size, verbose=verbose)


def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
            show_trainable=False, layer_range=None):  # fmt: skip
    """Print the layer table as Keras 3 does (models/summary.py)."""
    print_summary(self, print_fn=print_fn, line_length=line_length, positions=positions,
                  expand_nested=expand_nested, show_trainable=show_trainable,
                  layer_range=layer_range)  # fmt: skip
