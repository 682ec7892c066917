"""What `fit`/`evaluate`/`predict` hand the training engine: pure functions of the model's
parameter pytree, the trainable mask, the optimizer's state, and the deferred write-back.

The engine (`lstmkit.training`) never imports models; this module turns a model into what it
takes: `Trainer(forward=model.run, penalty=model.regularization_loss,
constrain=model.apply_constraints, mask=model.trainable_mask(), tx=optimizer.to_optax(), ...)`
and a `ModelLink` through which the loops read and publish `(params, state)`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from lstmkit import losses as losses_mod
from lstmkit import metrics as metrics_mod
from lstmkit.callbacks import CallbackList
from lstmkit.layers.base import defer_write
from lstmkit.models import distributed
from lstmkit.training import data as data_mod
from lstmkit.training.trainer import Trainer


class ModelLink:
    """The loops' view of the model: its live pytrees, and a write-back deferred until someone
    reads or sets the weights (then `changed()` tells the loop to read them again)."""

    def __init__(self, model: Any):
        self.model = model
        self._flushed = False

    def read(self) -> tuple[Any, Any]:
        self._flushed = False
        return self.model.params, self.model.state

    def publish(self, params: Any, state: Any) -> None:
        self._flushed = False

        def write() -> None:
            self._flushed = True
            self.model.set_params(params)
            self.model.set_state(state)

        defer_write(self.model, write)

    def changed(self) -> bool:
        return self._flushed


def output_names(model: Any) -> list[str]:
    names = [t.node.layer.name for t in model.outputs]
    return [n if names.count(n) == 1 else f"{n}_{i}" for i, n in enumerate(names)]


def per_output(spec: Any, names: list[str], what: str) -> list:
    """A compile argument (one value, a list, or a dict by output name) as one entry per output."""
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


def _metric_list(spec: Any, names: list[str]) -> list[list]:
    return [m if isinstance(m, (list, tuple)) else [m] for m in per_output(spec, names, "metrics")]


def _mask_key(model: Any) -> tuple:
    leaves, treedef = jax.tree.flatten(model.trainable_mask())
    return (id(model._nodes), tuple(leaves), treedef)


def trainer_for(model: Any, y_shapes: list | None = None) -> Trainer:
    """The Trainer for the model's graph, trainable mask and target shapes (which decide what
    "accuracy" means); rebuilt when they change."""
    args = model._compile_args or {"loss": None, "loss_weights": None, "metrics": []}
    shapes = None if y_shapes is None else tuple(tuple(s[1:]) for s in y_shapes)
    mask_key = _mask_key(model)
    key = (*mask_key, args.get("jit", True))
    cache = model._trainer_cache
    if cache is not None and cache[0][0] == key and shapes in (None, cache[0][1]):
        cache[1].placement = distributed.placement_for(model)
        cache[1].mask_key = mask_key
        return cache[1]
    names = output_names(model)
    if args["loss"] is None:  # predict-only: no loss, no metrics, no optimizer
        losses = [None] * len(names)
    else:
        losses = [losses_mod.get(s) for s in per_output(args["loss"], names, "loss")]
    lw = args["loss_weights"]
    weights = per_output(lw, names, "loss_weights") if lw is not None else [1.0] * len(names)
    plain = _metric_list(args["metrics"], names)
    weighted = _metric_list(args.get("weighted_metrics") or [], names)
    ys = y_shapes or [None] * len(names)
    metrics = [
        [
            (metrics_mod.get(m, loss=loss, y_shape=y, y_pred_shape=t.shape), w)
            for ms, w in ((p, False), (q, True))
            for m in ms
        ]
        for p, q, loss, t, y in zip(plain, weighted, losses, model.outputs, ys)
    ]
    multi_input = len(model.inputs) > 1

    def forward(params, state, xs, training, key):
        inputs = xs if multi_input else xs[0]
        return model.run(params, state, inputs, training=training, key=key)

    trainer = Trainer(
        forward=forward,
        penalty=model.regularization_loss,
        constrain=model.apply_constraints,
        mask=model.trainable_mask(),
        tx=model.optimizer.to_optax() if model.optimizer is not None else None,
        losses=losses,
        loss_weights=[float(w) for w in weights],
        metrics=metrics,
        output_names=names,
        jit=args.get("jit", True),
    )
    model._trainer_cache = ((key, shapes), trainer)
    trainer.placement = distributed.placement_for(model)  # None without a distribution
    trainer.mask_key = mask_key  # the model's mask now: ensure_opt_state's owner
    return trainer


def ensure_opt_state(model: Any, trainer: Trainer) -> None:
    """Give `model.optimizer` a state for the model's trainable parameters (kept while the
    graph and the trainable mask stay the same, as Keras keeps its optimizer variables).
    `trainer` is trainer_for's, just now: its mask key is the model's."""
    optimizer, owner = model.optimizer, trainer.mask_key
    if optimizer.opt_state is None or optimizer.state_owner != owner:
        optimizer.opt_state = trainer.init_opt_state(model.params)
        optimizer.state_owner = owner
        optimizer.lr_version += 1  # the fresh state holds the rate the trainer was built with


def install_opt_state(model: Any, state: Any) -> None:
    """Put a restored optimizer state on `model.optimizer` (saving/optimizer_vars uses this)."""
    model.optimizer.opt_state = state
    model.optimizer.state_owner = _mask_key(model)


def opt_state_template(model: Any) -> Any:
    """A fresh optimizer state shaped for the model's trainable parameters."""
    return trainer_for(model).init_opt_state(model.params)


def require_compiled(model: Any, what: str) -> None:
    if model._compile_args is None:
        raise RuntimeError(
            f"Model '{model.name}': you must call `compile(optimizer, loss)` before `{what}()`."
        )


def prepare_x(model: Any, x: Any) -> list[np.ndarray]:
    """Inputs as one array per model input, integer inputs cast to int32."""
    if x is None:
        raise ValueError(f"Model '{model.name}': no input data (x is None).")
    if hasattr(model, "build_from_data") and not model._graph_ready:
        model.build_from_data(x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x)
    names = [t.node.layer.name for t in model.inputs]
    xs = data_mod.as_array_list(x, names, "inputs x")
    model.check_input(
        [(None, *a.shape[1:]) for a in xs] if len(xs) > 1 else (None, *xs[0].shape[1:])
    )
    return [
        a.astype(np.int32)
        if t.dtype.startswith("int") and not np.issubdtype(a.dtype, np.integer)
        else a
        for t, a in zip(model.inputs, xs)
    ]


def prepare_y(model: Any, y: Any) -> tuple[list[np.ndarray], Trainer]:
    """Targets as one array per output, and the trainer for their shapes (labels checked)."""
    if y is None:
        raise ValueError(f"Model '{model.name}': no targets (y is None).")
    ys = data_mod.as_array_list(y, output_names(model), "outputs y")
    trainer = trainer_for(model, [a.shape for a in ys])
    for loss, t, a in zip(trainer.losses, model.outputs, ys):
        if "sparse" in type(loss).__name__.lower() or "sparse" in getattr(loss, "name", ""):
            losses_mod.check_sparse_labels(a, t.shape[-1], getattr(loss, "ignore_class", None))
    return ys, trainer


def sample_weights(ys: list, sample_weight: Any, class_weight: dict | None) -> Any:
    """Per-sample weights: the given ones times those the classes of the first output imply."""
    sw = None if sample_weight is None else np.asarray(sample_weight, np.float32)
    if class_weight is not None:
        cw = data_mod.class_weights_to_sample_weights(ys[0], class_weight)
        sw = cw if sw is None else sw * cw
    return sw


def training_data(model: Any, what: str, x: Any, y: Any, sample_weight: Any, class_weight: Any):
    """fit/evaluate/train_on_batch's common start: compiled?, inputs, targets, sample weights,
    and the trainer for the targets' shapes."""
    require_compiled(model, what)
    xs = prepare_x(model, x)
    ys, trainer = prepare_y(model, y)
    return xs, ys, sample_weights(ys, sample_weight, class_weight), trainer


def batch_size_for(model: Any, batch_size: int | None, n: int | None) -> int:
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


def callback_list(model, callbacks, verbose, add_history=False, **params) -> CallbackList:
    # Only fit adds a History (and so sets `model.history`), as in Keras: evaluate and predict
    # leave the last fit's history in place.
    verbose = 1 if verbose == "auto" else int(verbose)
    return CallbackList(
        callbacks,
        add_history=add_history,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        **params,
    )


def check_distributed_batches(trainer: Trainer, n: int, batch_size: int, what: str) -> None:
    """Under a distribution: a clear error before any step if a batch cannot be split evenly
    over the data-parallel devices."""
    if trainer.placement is not None:
        trainer.placement.check_batch_size(n, batch_size, what)
