"""The steady-state path of `predict_on_batch` and of a one-batch `predict(verbose=0)`.

On a small model the general predict path (input conversion and checks, the trainer lookup with
its trainable-mask walk, a batch stream, a callback list with four hooks, the concatenation of
one chunk) cost ~45 µs around a ~11 µs jitted call. Here only what can change between two calls
is redone each time: the weights and carried state are read from the layers on every call (so a
`set_weights`, a `fit` or an `assign` between two calls is always seen), while the trainer, the
checks of an input signature and where each weight lies (which layer, which key) are kept in a
plan that is dropped when the model's graph or its trainer changes (`compile`, a `fit` after a
change of the trainable flags, a rebuilt Sequential) or a layer gains, loses or replaces a
weight, a state or a sub-layer. The weights go to the jitted step as a flat list of leaves, not
as `model.params`, whose nested dicts were built and flattened again at every call: LSTM(1) on
a (1, 3, 1) input, 56-60 -> 48-50 µs a call (AMD Zen 3, the faster half of the processes).
Anything unusual (several inputs, a dict, a dataset, a stateful model, a distribution,
callbacks, a progress bar, several batches) returns None: the caller runs the general path.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from lstmkit.layers.variables import flush_writes
from lstmkit.models import distributed
from lstmkit.models import training_setup as setup
from lstmkit.training import data as data_mod


class _Slot:
    """Where one leaf of `params` or `state` lies: `layer.<attr>[key]`."""

    __slots__ = ("layer", "key")

    def __init__(self, layer: Any, key: str):
        self.layer, self.key = layer, key


def _slots(layer: Any, attr: str) -> Any:
    """`layer.params` (attr "_weights") or `layer.state` ("_state") with a _Slot for each leaf:
    the same dicts, merged the same way (layers/base.py), so the same tree structure."""
    own = {k: _Slot(layer, k) for k in getattr(layer, attr)}
    return {**own, **{k: _slots(sub, attr) for k, sub in layer._sublayers.items()}}


def _layers(layer: Any) -> list:
    """The layer and its sub-layers, all the way down."""
    return [layer] + [x for sub in layer._sublayers.values() for x in _layers(sub)]


class _Plan:
    """What stays the same between two predictions (see the module docstring)."""

    def __init__(self, model: Any):
        self.trainer = setup.trainer_for(model)  # may build and cache the model's trainer
        self.trainer_cache = model._trainer_cache
        self.nodes = model._nodes
        self.stateful = any(getattr(layer, "stateful", False) for layer in model.layers)
        self.int_input = model.inputs[0].dtype.startswith("int")
        self.checked: set = set()  # (shape without the batch, dtype) already accepted
        params, params_def = jax.tree.flatten(_slots(model, "_weights"))
        state, state_def = jax.tree.flatten(_slots(model, "_state"))
        self.params = [(s.layer, s.key) for s in params]
        self.state = [(s.layer, s.key) for s in state]
        self.step = self.trainer.predict_on_leaves(params_def, state_def)
        # The structure of params and state: a layer that gains a weight or a state changes the
        # length of its dict (new_weight adds the key before it may replace the dict by a
        # reordered one), a sub-layer added, dropped or replaced changes its _sublayers' values.
        layers = _layers(model)
        self.dicts = [d for x in layers for d in (x._weights, x._state)]
        self.lengths = list(map(len, self.dicts))
        self.parents = [x._sublayers for x in layers if x._sublayers]
        self.children = [tuple(d.values()) for d in self.parents]

    def valid_for(self, model: Any) -> bool:
        return (
            model._trainer_cache is self.trainer_cache
            and model._nodes is self.nodes
            and list(map(len, self.dicts)) == self.lengths
            and [tuple(d.values()) for d in self.parents] == self.children  # layers: no __eq__
        )

    def leaves(self) -> tuple[list, list]:
        """The current values of the weights and of the carried state, in the step's order."""
        flush_writes()
        return (
            [layer._weights[key] for layer, key in self.params],
            [layer._state[key] for layer, key in self.state],
        )


def _plan(model: Any) -> _Plan | None:
    if not model.__dict__.get("_graph_ready") or len(model.inputs) != 1:
        return None
    plan = model.__dict__.get("_quick_predict")
    if plan is None or not plan.valid_for(model):
        plan = model.__dict__["_quick_predict"] = _Plan(model)
    return plan


def predict(model: Any, x: Any, batch_size: int | None, whole: bool = False) -> Any:
    """The model's outputs on `x` as one batch padded as `predict` pads it (`whole`: `x` is
    the batch, as `predict_on_batch`), or None when the general path must run."""
    if not isinstance(x, (np.ndarray, jax.Array)) or x.ndim == 0 or x.shape[0] == 0:
        return None
    plan = _plan(model)
    if plan is None or plan.stateful:
        return None
    n = x.shape[0]
    if not whole:
        batch_size = setup.batch_size_for(model, batch_size, None)  # checks it as predict does
        if n > batch_size:
            return None  # several batches: the general loop
    placement = distributed.placement_for(model)
    if placement is not None:
        return None
    # A JAX array on the default device goes in as it is: through numpy it was copied in again
    # (0.45 ms of a 22 ms call at (64, 100, 128) -> LSTM(256)).
    on_device = isinstance(x, jax.Array) and x.devices() == {jax.devices()[0]}
    a = x if on_device else np.asarray(x)
    if a.dtype == np.float64:  # as data.as_array_list
        a = a.astype(np.float32)
    if plan.int_input and not np.issubdtype(a.dtype, np.integer):  # as setup.prepare_x
        a = a.astype(np.int32)
    signature = (a.shape[1:], a.dtype)
    if signature not in plan.checked:
        model.check_input((None, *a.shape[1:]))  # raises the general path's error
        plan.checked.add(signature)
    rows = n if whole else data_mod.bucket(n, batch_size)
    if rows != n:
        a = data_mod.pad_rows([np.asarray(a)], rows)[0]
    plan.trainer.placement = None  # as trainer_for leaves it without a distribution
    ys, state = plan.step(*plan.leaves(), [a])
    if plan.state:  # (a step's new state has the keys of the layers' state, no others)
        model.set_state(state)
    # A fresh writable array per output, as the general path's concatenation gives.
    outs = [np.array(y) if rows == n else np.array(np.asarray(y)[:n]) for y in ys]
    return outs[0] if len(outs) == 1 else outs
