"""The model's side of `lstmkit.distribution`: variable paths as Keras 3 names them, the
`Placement` the training engine uses while a distribution is current, placing a loaded model,
and which process writes files.

Paths follow Keras 3's `variable.path`: the layer names from the outside in, then the weight
name ("lstm/lstm_cell/kernel"), prefixed by the model's name for a Sequential or subclassed
model, whose layers Keras builds inside the model's name scope ("sequential/lstm/lstm_cell/
kernel"); a functional model's layers are built before the model exists and carry no prefix.
"""

from __future__ import annotations

from typing import Any

import jax
from jax.experimental import multihost_utils

from lstmkit import distribution as distribution_lib
from lstmkit.distribution.placement import Placement


class _VariableInfo:
    """What a distribution asks of a variable to choose its layout: its path and shape."""

    def __init__(self, path: str, shape: tuple):
        self.path, self.shape = path, shape


def _is_model(layer: Any) -> bool:
    return hasattr(layer, "_graph_ready")


def _paths(layer: Any, prefix: str) -> dict[str, Any]:
    own = {k: f"{prefix}/{k}" for k in layer._weights}
    subs = {
        # a nested model was built before it was nested: its paths are its own
        k: variable_paths(sub) if _is_model(sub) else _paths(sub, f"{prefix}/{sub.name}")
        for k, sub in layer._sublayers.items()
    }
    return {**own, **subs}


def variable_paths(model: Any) -> dict[str, Any]:
    """A pytree shaped like `model.params` holding each weight's Keras path."""
    scoped = model.keras_style or any(c.__name__ == "Sequential" for c in type(model).__mro__)
    if scoped:  # Keras builds these layers inside the model's name scope
        return _paths(model, model.name)
    # a functional model: its layers were built before the model existed, outside any scope
    return {**{k: f"{model.name}/{k}" for k in model._weights},
            **{k: variable_paths(sub) if _is_model(sub) else _paths(sub, sub.name)
               for k, sub in model._sublayers.items()}}  # fmt: skip


def _stateful(model: Any) -> bool:
    return any(getattr(layer, "stateful", False) for layer in model.layers)


def _param_sharding(dist: Any, path: str, value: Any) -> Any:
    shape = tuple(value.shape)
    layout = dist.get_variable_layout(_VariableInfo(path, shape))
    axes, mesh = layout.axes, dist.device_mesh
    if len(axes) != len(shape):
        raise ValueError(
            f"{type(dist).__name__}: the layout {axes} for variable '{path}' has {len(axes)} "
            f"axes, but the variable has shape {shape}."
        )
    for dim, axis in zip(shape, axes):
        if axis is not None and dim % mesh.axis_size(axis):
            raise ValueError(
                f"{type(dist).__name__}: variable '{path}' of shape {shape} cannot be split by "
                f"the layout {axes}: its size {dim} is not a multiple of the "
                f"{mesh.axis_size(axis)} devices of mesh axis '{axis}'."
            )
    return layout.backend_layout


def _shapes(tree: Any) -> tuple:
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple(jax.numpy.shape(x) for x in leaves)


def placement_for(model: Any) -> Placement | None:
    """The Placement of the model's arrays under the current distribution (None: no
    distribution). Cached on the model while the distribution and the weights' shapes stay."""
    dist = distribution_lib.distribution()
    if dist is None or (dist.device_mesh.devices.size == 1 and jax.process_count() == 1):
        # One device: nothing to lay out, and the program compiled for a one-device mesh ran
        # ~40 % slower than the plain one on CPU (LSTM(1024) train step, bench/results.md).
        return None
    params, state = model.params, model.state
    key = (id(dist), _shapes(params), _shapes(state))
    cached = model.__dict__.get("_placement_cache")
    if cached is not None and cached[0] == key:
        return cached[1]
    param_shardings = jax.tree.map(
        lambda path, value: _param_sharding(dist, path, value), variable_paths(model), params
    )
    stateful = _stateful(model)
    rows = next((t.shape[0] for t in model.inputs if t.shape[0] is not None), None)
    replicated = dist.get_variable_layout(_VariableInfo("", ())).backend_layout

    def state_sharding(value: Any) -> Any:  # a stateful RNN's states are split by batch row
        shape = jax.numpy.shape(value)
        if stateful and shape and shape[0] == rows:
            return dist.get_data_layout(shape).backend_layout
        return replicated

    state_shardings = jax.tree.map(state_sharding, state)
    placement = Placement(dist, param_shardings, state_shardings, pad_predictions=not stateful)
    model._placement_cache = (key, placement)
    return placement


def distribute_model(model: Any) -> None:
    """Lay the model's weights, states and optimizer state out as the current distribution
    says (after loading a file); nothing without a distribution."""
    placement = placement_for(model)
    if placement is None:
        return
    model.set_params(placement.put("params", model.params))
    model.set_state(placement.put("state", model.state))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.opt_state is not None:
        optimizer.opt_state = placement.put(
            "opt_state", optimizer.opt_state, model.trainable_mask()
        )


def _host_readable(tree: Any) -> Any:
    def gather(x: Any) -> Any:
        if isinstance(x, jax.Array) and not (x.is_fully_addressable or x.is_fully_replicated):
            return multihost_utils.process_allgather(x, tiled=True)
        return x

    return jax.tree.map(gather, tree)


def writes_files(model: Any) -> bool:
    """Whether this process writes the model's files: with several processes only process 0
    does. Every process must call save (arrays split across processes are gathered first,
    which takes them all), so the file is the one a single device writes."""
    if jax.process_count() == 1:
        return True
    model.set_params(_host_readable(model.params))
    model.set_state(_host_readable(model.state))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.opt_state is not None:
        optimizer.opt_state = _host_readable(optimizer.opt_state)
    return jax.process_index() == 0
