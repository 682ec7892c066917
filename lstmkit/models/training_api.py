"""compile / fit / evaluate / predict for Model: turn the model into pure functions for the trainer.

These are plain functions bound as Model methods (see functional.py); the engine is in training/.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit import legacy
from lstmkit import losses as losses_mod
from lstmkit import metrics as metrics_mod
from lstmkit.layers.base import ordered_leaves, ordered_unflatten
from lstmkit.training import callbacks as callbacks_mod
from lstmkit.training import data as data_mod
from lstmkit.training import optimizers as optimizers_mod
from lstmkit.training.loop import evaluate_loop, fit_loop, predict_loop
from lstmkit.training.trainer import Trainer


def init(model: Any) -> None:
    model.optimizer = None
    model.stop_training = False
    model.history = None
    model._compile_args = None
    model._trainer_cache = None


class ModelIO:
    """Reads the model's weights as a flat list in Keras order and writes them back."""

    def __init__(self, model: Any):
        self.model = model

    def read(self) -> tuple[list, Any]:
        return ordered_leaves(self.model.params), self.model.state

    def write(self, leaves: list, state: Any) -> None:
        self.model.set_params(ordered_unflatten(self.model.params, leaves))
        self.model.set_state(state)


def _output_names(model: Any) -> list[str]:
    names = [t.node.layer.name for t in model.outputs]
    return [n if names.count(n) == 1 else f"{n}_{i}" for i, n in enumerate(names)]


def _per_output(spec: Any, names: list[str], what: str) -> list:
    if isinstance(spec, dict):
        unknown = set(spec) - set(names)
        if unknown:
            raise ValueError(
                f"compile: {what} names unknown outputs {sorted(unknown)}; outputs are {names}."
            )
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)) and len(names) > 1 and what == "loss":
        if len(spec) != len(names):
            raise ValueError(f"compile: {len(spec)} losses for {len(names)} outputs {names}.")
        return list(spec)
    if (
        what == "metrics"
        and isinstance(spec, (list, tuple))
        and len(names) > 1
        and spec
        and all(isinstance(s, (list, tuple)) or s is None for s in spec)
    ):
        return [list(s or []) for s in spec]
    return [spec for _ in names]


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
    """Configure training: optimizer, loss(es), metrics (names or objects, as Keras)."""
    if kwargs:
        raise TypeError(f"compile: unexpected keyword argument(s) {sorted(kwargs)}.")
    if loss is None:
        raise ValueError(f"Model '{self.name}': compile needs a `loss` (e.g. loss='mse').")
    self.optimizer = optimizers_mod.get(optimizer)
    losses_mod.get(loss) if not isinstance(loss, (list, tuple, dict)) else None  # validate early
    self._compile_args = {
        "loss": loss,
        "loss_weights": loss_weights,
        "metrics": metrics or [],
        "weighted_metrics": weighted_metrics or [],
    }
    self._trainer_cache = None


def _metric_list(spec: Any, names: list[str]) -> list[list]:
    return [m if isinstance(m, (list, tuple)) else [m] for m in _per_output(spec, names, "metrics")]


def _trainer(model: Any, y_shapes: list | None = None) -> Trainer:
    """The Trainer for the model's graph, trainable flags and target shapes (which decide what
    "accuracy" means); rebuilt when they change, keeping the optimizer state when it can."""
    flags = ordered_leaves(model.trainable_mask())
    shapes = None if y_shapes is None else tuple(tuple(s[1:]) for s in y_shapes)
    cache = model._trainer_cache
    if shapes is None and cache is not None and cache[0][:2] == (id(model._nodes), tuple(flags)):
        return cache[1]
    key = (id(model._nodes), tuple(flags), shapes)
    cache = model._trainer_cache
    if cache is not None and cache[0] == key:
        return cache[1]
    names = _output_names(model)
    args = model._compile_args or {"loss": None, "loss_weights": None, "metrics": []}
    if args["loss"] is None:  # predict-only: no loss, no metrics, no optimizer
        losses = [None] * len(names)
    else:
        losses = [losses_mod.get(s) for s in _per_output(args["loss"], names, "loss")]
    lw = args["loss_weights"]
    weights = _per_output(lw, names, "loss_weights") if lw is not None else [1.0] * len(names)
    plain = _metric_list(args["metrics"], names)
    weighted = _metric_list(args.get("weighted_metrics") or [], names)
    y_shapes = y_shapes or [None] * len(names)
    metrics = [
        [
            (metrics_mod.get(m, loss=loss, y_shape=ys, y_pred_shape=t.shape), w)
            for ms, w in ((p, False), (q, True))
            for m in ms
        ]
        for p, q, loss, t, ys in zip(plain, weighted, losses, model.outputs, y_shapes)
    ]
    multi_input = len(model.inputs) > 1

    def forward(leaves, state, xs, training, key):
        params = ordered_unflatten(model.params, leaves)
        inputs = xs if multi_input else xs[0]
        return model.run(params, state, inputs, training=training, key=key)

    trainer = Trainer(
        forward=forward,
        penalty=lambda leaves: model.regularization_loss(ordered_unflatten(model.params, leaves)),
        constrain=lambda leaves: ordered_leaves(
            model.apply_constraints(ordered_unflatten(model.params, leaves))
        ),
        trainable=flags,
        optimizer=model.optimizer,
        losses=losses,
        loss_weights=[float(w) for w in weights],
        metrics=metrics,
        output_names=names,
    )
    if cache is not None and cache[0][:2] == key[:2]:
        trainer.opt_state = cache[1].opt_state  # same variables: keep the optimizer's slots
    model._trainer_cache = (key, trainer)
    return trainer


def compiled_trainer(model: Any) -> Trainer:
    """The model's Trainer, built on first use: its optimizer state is what `lstmkit.saving`
    writes to and restores from Keras files."""
    return _trainer(model)


def _require_compiled(model: Any, what: str) -> None:
    if model._compile_args is None:
        raise RuntimeError(
            f"Model '{model.name}': you must call `compile(optimizer, loss)` before `{what}()`."
        )


def _prepare_x(model: Any, x: Any) -> list[np.ndarray]:
    if x is None:
        raise ValueError(f"Model '{model.name}': no input data (x is None).")
    if hasattr(model, "build_from_data") and not model._graph_ready:
        model.build_from_data(x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x)
    names = [t.node.layer.name for t in model.inputs]
    xs = data_mod.as_array_list(x, names, "inputs x")
    model.check_input(
        [(None, *a.shape[1:]) for a in xs] if len(xs) > 1 else (None, *xs[0].shape[1:])
    )
    for t, a in zip(model.inputs, xs):
        if t.dtype.startswith("int") and not np.issubdtype(a.dtype, np.integer):
            xs[xs.index(a)] = a.astype(np.int32)
    return xs


def _prepare_y(model: Any, y: Any) -> tuple[list[np.ndarray], Trainer]:
    """Targets as one array per output, and the trainer for their shapes (labels checked)."""
    if y is None:
        raise ValueError(f"Model '{model.name}': no targets (y is None).")
    ys = data_mod.as_array_list(y, _output_names(model), "outputs y")
    trainer = _trainer(model, [a.shape for a in ys])
    for loss, t, a in zip(trainer.losses, model.outputs, ys):
        if "sparse" in type(loss).__name__.lower() or "sparse" in getattr(loss, "name", ""):
            losses_mod.check_sparse_labels(a, t.shape[-1], getattr(loss, "ignore_class", None))
    return ys, trainer


def _sample_weights(ys: list, sample_weight: Any, class_weight: dict | None) -> Any:
    """Per-sample weights: the given ones times those the classes of the first output imply."""
    sw = None if sample_weight is None else np.asarray(sample_weight, np.float32)
    if class_weight is not None:
        cw = data_mod.class_weights_to_sample_weights(ys[0], class_weight)
        sw = cw if sw is None else sw * cw
    return sw


def _training_data(model: Any, what: str, x: Any, y: Any, sample_weight: Any, class_weight: Any):
    """fit/evaluate/train_on_batch's common start: compiled?, inputs, targets, sample weights,
    and the trainer for the targets' shapes."""
    _require_compiled(model, what)
    xs = _prepare_x(model, x)
    ys, trainer = _prepare_y(model, y)
    return xs, ys, _sample_weights(ys, sample_weight, class_weight), trainer


def _batch_size(model: Any, batch_size: int | None, n: int | None) -> int:
    fixed = next((t.shape[0] for t in model.inputs if t.shape[0] is not None), None)
    stateful = any(getattr(layer, "stateful", False) for layer in model.layers)
    if stateful and fixed is not None:
        if batch_size is not None and batch_size != fixed:
            raise ValueError(
                f"Model '{model.name}' is stateful with batch size {fixed}; got "
                f"batch_size={batch_size}. Use batch_size={fixed}."
            )
        if n is not None and n % fixed:
            raise ValueError(
                f"Model '{model.name}' is stateful with batch size {fixed}; the number of "
                f"samples ({n}) must be a multiple of it."
            )
        return fixed
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return batch_size or 32


def _callbacks(model, callbacks, verbose, add_history=False, **params):
    # Only fit adds a History (and so sets `model.history`), as in Keras: evaluate and predict
    # leave the last fit's history in place.
    verbose = 1 if verbose == "auto" else int(verbose)
    return callbacks_mod.CallbackList(
        callbacks,
        add_history=add_history,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        **params,
    )


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
    xs, ys, sw, trainer = _training_data(self, "fit", x, y, sample_weight, class_weight)
    n = data_mod.check_lengths(xs, ys, sw)
    validation = None
    if validation_data is not None:
        vx, vy, *vsw = validation_data
        validation = (
            _prepare_x(self, vx),
            _prepare_y(self, vy)[0],
            np.asarray(vsw[0], np.float32) if vsw else None,
        )
    elif validation_split:
        (xs, ys, sw), (vx, vy, vsw) = _split3(xs, ys, sw, validation_split)
        validation = (vx, vy, vsw)
        n = data_mod.check_lengths(xs, ys, sw)
    bs = _batch_size(self, batch_size, n)
    steps = -(-n // bs)
    cbs = _callbacks(self, callbacks, verbose, add_history=True, epochs=epochs, steps=steps)
    nan_guard = any(isinstance(c, callbacks_mod.TerminateOnNaN) for c in cbs.callbacks)
    fit_loop(
        trainer,
        ModelIO(self),
        self,
        xs,
        ys,
        sw,
        batch_size=bs,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=shuffle,
        callbacks=cbs,
        validation=validation,
        nan_guard=nan_guard,
    )
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
    """Loss (and metrics) over the data: a float, or [loss, *metrics], or a dict."""
    xs, ys, sw, trainer = _training_data(self, "evaluate", x, y, sample_weight, None)
    n = data_mod.check_lengths(xs, ys, sw)
    bs = _batch_size(self, batch_size, n)
    cbs = _callbacks(self, callbacks, verbose, steps=-(-n // bs))
    cbs.on_test_begin()
    logs = evaluate_loop(trainer, ModelIO(self), xs, ys, sw, batch_size=bs, callbacks=cbs)
    cbs.on_test_end(logs)
    return _logs_to_return(logs, return_dict)


def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """Outputs for every sample: one array, or a list for several outputs."""
    xs = _prepare_x(self, x)
    n = data_mod.check_lengths(xs, None, None)
    bs = _batch_size(self, batch_size, n)
    stateful = any(getattr(layer, "stateful", False) for layer in self.layers)
    cbs = _callbacks(self, callbacks, verbose, steps=-(-n // bs))
    cbs.on_predict_begin()
    outs = predict_loop(
        _trainer(self), ModelIO(self), xs, batch_size=bs, pad=not stateful, callbacks=cbs
    )
    cbs.on_predict_end()
    return outs[0] if len(outs) == 1 else outs  # Keras 3 unpacks a one-output list too


def predict_on_batch(self, x):
    return predict(self, x, batch_size=None, verbose=0) if x is not None else None


def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    """One optimizer step on this batch; returns its loss (and metrics)."""
    xs, ys, sw, trainer = _training_data(self, "train_on_batch", x, y, sample_weight, class_weight)
    n = data_mod.check_lengths(xs, ys, sw)
    _batch_size(self, n, n)
    io = ModelIO(self)
    leaves, state = io.read()
    from lstmkit import utils
    from lstmkit.training.trainer import to_device

    leaves, state, mstate, _ = trainer.train_batch(
        leaves,
        state,
        trainer.fresh_metric_state(),
        to_device(xs),
        to_device(ys),
        sw,
        utils.next_key(),
    )
    io.write(leaves, state)
    return _logs_to_return(trainer.results(mstate), return_dict)


def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
    _require_compiled(self, "test_on_batch")
    n = len(
        np.asarray(
            x
            if not isinstance(x, (list, tuple, dict))
            else list(x.values())[0]
            if isinstance(x, dict)
            else x[0]
        )
    )
    return evaluate(
        self, x, y, batch_size=n, verbose=0, sample_weight=sample_weight, return_dict=return_dict
    )


def predict_classes(self, x, batch_size=32, verbose=0):
    """Keras 1/2: class indices (threshold 0.5 for one sigmoid unit, else argmax)."""
    return legacy.predict_classes(self, x, batch_size=batch_size, verbose=verbose)


def summary(self, line_length=None, positions=None, print_fn=None, **kwargs):
    from lstmkit.models.summary import render

    text = render(self)
    (print_fn or print)(text)
