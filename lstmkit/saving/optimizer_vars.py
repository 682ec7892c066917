"""The optimizer's state as Keras 3's list of optimizer variables, and back.

Keras's order (`optimizer.variables`): `iterations` (int), `learning_rate` (float32; absent with a
schedule), then the slots that each optimizer's `build` creates over the model's trainable
variables, in Keras's variable order:

- SGD: momentum (if momentum > 0)          - Adagrad: accumulator
- RMSprop: velocity, then momentum (if > 0), then average_gradient (if centered), one list each
- Adam, AdamW: (momentum, velocity) interleaved per variable, then velocity_hat (amsgrad)
- Adadelta: (accumulated_grad, accumulated_delta_var) interleaved per variable
- Nadam: (momentum, velocity) interleaved per variable, then the scalar u_product

lstmkit's optax state (`model.optimizer.opt_state`) keeps the same slots
(`optimizers.rules.KerasRuleState`: one pytree per slot over the trainable part of the parameter
pytree), so every Keras variable maps to exactly one array of the state, and the mapping is a
permutation: nothing is approximated. Keras's order is computed here, where the file needs it.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np

from lstmkit.layers.base import ordered_leaves, ordered_unflatten
from lstmkit.models import training_setup
from lstmkit.optimizers.base import get_iterations, set_iterations, set_lr
from lstmkit.optimizers.rules import KerasRuleState
from lstmkit.saving.h5_weights import WeightFileError, leaf_owners
from lstmkit.saving.keras_graph import model_layer_order

INTERLEAVED = {"Adam": 2, "AdamW": 2, "Nadam": 2, "Adadelta": 2}


def _interleaved(optimizer: Any) -> int:
    for cls in type(optimizer).__mro__:
        if cls.__name__ in INTERLEAVED:
            return INTERLEAVED[cls.__name__]
    return 0


def _rule_state(state: Any) -> KerasRuleState:
    found = []

    def visit(s: Any) -> None:
        if isinstance(s, KerasRuleState):
            found.append(s)
        elif isinstance(s, (tuple, list)):
            for item in s:
                visit(item)

    visit(state)
    if len(found) != 1:
        raise ValueError("This optimizer's state does not have the layout lstmkit saves.")
    return found[0]


def _substitute(state: Any, is_old: Any, new: Any) -> Any:
    """`state` with the (nested) part for which `is_old` holds replaced by `new`."""
    if is_old(state):
        return new
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*[_substitute(s, is_old, new) for s in state])
    if isinstance(state, (tuple, list)):
        return type(state)(_substitute(s, is_old, new) for s in state)
    return state


def _like(reference: Any, tree: Any) -> Any:
    """`tree` with its dicts in `reference`'s key order (jax rebuilds dicts sorted by key)."""
    if isinstance(reference, dict):
        return {k: _like(v, tree[k]) for k, v in reference.items()}
    return tree


def slot_leaves(model: Any, slot: Any) -> list:
    """One optimizer slot (a pytree over the trainable parameters, None where frozen) as a list
    in lstmkit's order of `model.trainable_weights`."""
    return ordered_leaves(_like(model.params, slot))


def keras_trainable_order(model: Any) -> list[int]:
    """Indices into lstmkit's list of trainable weights, in Keras's trainable_variables order."""
    flags = ordered_leaves(model.trainable_mask())
    position: dict[tuple[int, str], int] = {}
    for (layer, key), trainable in zip(leaf_owners(model), flags):
        if trainable:
            position[(id(layer), key)] = len(position)
    order = [position[(id(layer), key)] for top in model_layer_order(model)
             for layer, key in leaf_owners(top) if (id(layer), key) in position]  # fmt: skip
    if sorted(order) != list(range(len(position))):
        raise ValueError(f"Model '{model.name}': cannot match its weights to Keras's order.")
    return order


def to_keras(model: Any) -> list[np.ndarray] | None:
    """The model's optimizer variables in Keras's layout (None if it is not compiled).

    An optimizer that has not taken a step yet has, as in Keras, only `iterations` and
    `learning_rate` (Keras builds the slots on the first step).
    """
    optimizer = model.optimizer
    if optimizer is None or getattr(model, "_compile_args", None) is None:
        return None
    state = optimizer.opt_state
    out = [np.asarray(0 if state is None else get_iterations(state), np.int32)]
    if optimizer.schedule is None:
        out.append(np.asarray(optimizer.learning_rate, np.float32))
    if state is None:
        return out
    rule, order = _rule_state(state), keras_trainable_order(model)
    slots = [slot_leaves(model, s) for s in rule.slots]  # each over the trainable weights
    k = min(_interleaved(optimizer), len(slots))
    out += [np.asarray(slots[s][i]) for i in order for s in range(k)]
    out += [np.asarray(slots[s][i]) for s in range(k, len(slots)) for i in order]
    out += [np.asarray(x) for x in rule.extra]
    return out


def from_keras(model: Any, values: list | None, where: str) -> tuple[Any, Any, float | None]:
    """Check Keras-layout optimizer variables against the compiled model: (model, state, lr).

    Nothing is assigned. Returns (model, None, None) when the file's list does not fit this
    optimizer at all (Keras then skips it with a warning too).
    """
    optimizer = model.optimizer
    template = training_setup.opt_state_template(model)
    rule, order = _rule_state(template), keras_trainable_order(model)
    n_base = 1 if optimizer.schedule is not None else 2
    expected = n_base + len(rule.slots) * len(order) + len(rule.extra)
    if values is None:
        return model, None, None
    if len(values) != expected and len(values) != n_base:
        warnings.warn(
            f"{where}: skipping the optimizer's variables: optimizer '{optimizer.name}' has "
            f"{expected} variables, the file has {len(values)} (a different optimizer or "
            "configuration?). Training resumes with a fresh optimizer state.",
            stacklevel=3,
        )
        return model, None, None
    iterations = np.asarray(values[0])
    if iterations.shape != () or iterations.dtype.kind not in "iu":
        raise WeightFileError(f"{where}: optimizer/vars/0 (iterations) is not an integer scalar.")
    lr = None
    if n_base == 2:
        lr = float(np.asarray(values[1]))
    if len(values) == n_base and int(iterations) == 0:
        return model, None, lr  # an optimizer that never stepped: nothing else to restore
    slots = [slot_leaves(model, s) for s in rule.slots]
    extra = list(rule.extra)
    if len(values) == expected:
        pos = iter(range(n_base, expected))

        def take(like: Any) -> Any:
            i = next(pos)
            v = np.asarray(values[i])
            if v.shape != tuple(like.shape):
                raise WeightFileError(f"{where}: optimizer/vars/{i} has shape {v.shape}, "
                                      f"expected {tuple(like.shape)}.")  # fmt: skip
            return jnp.asarray(v, like.dtype)

        k = min(_interleaved(optimizer), len(slots))
        for i in order:
            for s in range(k):
                slots[s][i] = take(slots[s][i])
        for s in range(k, len(slots)):
            for i in order:
                slots[s][i] = take(slots[s][i])
        extra = [take(x) for x in extra]
    count = jnp.asarray(int(iterations), jnp.int32)
    params = model.params
    slots = tuple(ordered_unflatten(_like(params, tree), leaves)
                  for tree, leaves in zip(rule.slots, slots))  # fmt: skip
    new_rule = rule._replace(count=count, slots=slots, extra=tuple(extra))
    state = set_iterations(
        _substitute(template, lambda s: isinstance(s, KerasRuleState), new_rule), count
    )
    if lr is not None:
        state = set_lr(state, lr)
    elif int(iterations) > 0:  # a schedule: the rate optax recorded at the last step
        state = set_lr(state, optimizer.schedule(jnp.asarray(int(iterations) - 1, jnp.int32)))
    return model, state, lr


def assign(model: Any, _: Any, state: Any, lr: float | None) -> None:
    """Install a state from `from_keras` on `model.optimizer` (after every check has passed)."""
    if lr is not None:
        model.optimizer.learning_rate = lr
    if state is not None:
        training_setup.install_opt_state(model, state)
