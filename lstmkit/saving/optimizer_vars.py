"""The optimizer's state as Keras 3's list of optimizer variables, and back.

Keras's order (`optimizer.variables`): `iterations` (int), `learning_rate` (float32; absent with a
schedule), then the slots that each optimizer's `build` creates over the model's trainable
variables, in Keras's variable order:

- SGD: momentum (if momentum > 0)          - Adagrad: accumulator
- RMSprop: velocity, then momentum (if > 0), then average_gradient (if centered), one list each
- Adam, AdamW: (momentum, velocity) interleaved per variable, then velocity_hat (amsgrad)
- Adadelta: (accumulated_grad, accumulated_delta_var) interleaved per variable
- Nadam: (momentum, velocity) interleaved per variable, then the scalar u_product

lstmkit's optax state keeps the same slots (`optimizer_rules.KerasRuleState`: one pytree per slot,
over the trainable weights in lstmkit's order), so every Keras variable maps to exactly one array
of the state, and the mapping is a permutation: nothing is approximated.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np

from lstmkit.layers.base import ordered_leaves
from lstmkit.models.training_api import compiled_trainer
from lstmkit.saving.h5_weights import WeightFileError, leaf_owners
from lstmkit.saving.keras_graph import model_layer_order
from lstmkit.training.optimizer_base import get_iterations, set_lr
from lstmkit.training.optimizer_rules import KerasRuleState

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


def _set_counts(state: Any, count: Any) -> Any:
    """Every step counter in the state (optax's inject_hyperparams, its schedules', the rule's)
    set to `count`."""
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        state = type(state)(*[_set_counts(s, count) for s in state])
        return state._replace(count=count) if "count" in state._fields else state
    if isinstance(state, (tuple, list)):
        return type(state)(_set_counts(s, count) for s in state)
    if isinstance(state, dict):
        return {k: _set_counts(v, count) for k, v in state.items()}
    return state


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
    state = compiled_trainer(model).opt_state
    out = [np.asarray(0 if state is None else get_iterations(state), np.int32)]
    if optimizer.schedule is None:
        out.append(np.asarray(optimizer.learning_rate, np.float32))
    if state is None:
        return out
    rule, order = _rule_state(state), keras_trainable_order(model)
    k = min(_interleaved(optimizer), len(rule.slots))
    out += [np.asarray(rule.slots[s][i]) for i in order for s in range(k)]
    out += [np.asarray(rule.slots[s][i]) for s in range(k, len(rule.slots)) for i in order]
    out += [np.asarray(x) for x in rule.extra]
    return out


def from_keras(model: Any, values: list | None, where: str) -> tuple[Any, Any, float | None]:
    """Check Keras-layout optimizer variables against the compiled model: (trainer, state, lr).

    Nothing is assigned. Returns (trainer, None, None) when the file's list does not fit this
    optimizer at all (Keras then skips it with a warning too).
    """
    optimizer = model.optimizer
    trainer = compiled_trainer(model)
    template = trainer.tx.init(trainer.split(ordered_leaves(model.params))[0])
    rule, order = _rule_state(template), keras_trainable_order(model)
    n_base = 1 if optimizer.schedule is not None else 2
    expected = n_base + len(rule.slots) * len(order) + len(rule.extra)
    if values is None:
        return trainer, None, None
    if len(values) != expected and len(values) != n_base:
        warnings.warn(
            f"{where}: skipping the optimizer's variables: optimizer '{optimizer.name}' has "
            f"{expected} variables, the file has {len(values)} (a different optimizer or "
            "configuration?). Training resumes with a fresh optimizer state.",
            stacklevel=3,
        )
        return trainer, None, None
    iterations = np.asarray(values[0])
    if iterations.shape != () or iterations.dtype.kind not in "iu":
        raise WeightFileError(f"{where}: optimizer/vars/0 (iterations) is not an integer scalar.")
    lr = None
    if n_base == 2:
        lr = float(np.asarray(values[1]))
    if len(values) == n_base and int(iterations) == 0:
        return trainer, None, lr  # an optimizer that never stepped: nothing else to restore
    slots = [list(s) for s in rule.slots]
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
    new_rule = rule._replace(count=count, slots=tuple(slots), extra=tuple(extra))
    state = _set_counts(_substitute(template, lambda s: isinstance(s, KerasRuleState), new_rule),
                        count)  # fmt: skip
    if lr is not None:
        state = set_lr(state, lr)
    elif int(iterations) > 0:  # a schedule: the rate optax recorded at the last step
        state = set_lr(state, optimizer.schedule(jnp.asarray(int(iterations) - 1, jnp.int32)))
    return trainer, state, lr


def assign(model: Any, trainer: Any, state: Any, lr: float | None) -> None:
    """Install a state from `from_keras` (after every check has passed)."""
    if lr is not None:
        model.optimizer.learning_rate = lr
    if state is None:
        return
    model.optimizer.iterations = int(get_iterations(state))
    trainer.opt_state = state
