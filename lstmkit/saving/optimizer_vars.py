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

import functools
import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np

from lstmkit.layers.base import ordered_leaves, ordered_unflatten
from lstmkit.models import training_setup
from lstmkit.models.distributed import variable_paths
from lstmkit.optimizers.opt_state import get_iterations, set_iterations, set_lr
from lstmkit.optimizers.rules import KerasRuleState
from lstmkit.optimizers.variables import OptimizerVariable
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


def slot_layout(model: Any, rule: KerasRuleState) -> list[tuple[int, int]]:
    """(slot, index into lstmkit's trainable weights) of each slot variable, in Keras's order."""
    order = keras_trainable_order(model)
    k = min(_interleaved(model.optimizer), len(rule.slots))
    return [(s, i) for i in order for s in range(k)] + [
        (s, i) for s in range(k, len(rule.slots)) for i in order
    ]


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
    rule = _rule_state(state)
    slots = [slot_leaves(model, s) for s in rule.slots]  # each over the trainable weights
    out += [np.asarray(slots[s][i]) for s, i in slot_layout(model, rule)]
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

        for s, i in slot_layout(model, rule):
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


# ----- optimizer.variables: the same list as live variables -------------------------------------
def _read_slot(model: Any, slot: int, index: int) -> np.ndarray:
    rule = _rule_state(model.optimizer.opt_state)
    return np.asarray(slot_leaves(model, rule.slots[slot])[index])


def _read_extra(model: Any, index: int) -> np.ndarray:
    return np.asarray(_rule_state(model.optimizer.opt_state).extra[index])


def _write_one(model: Any, position: int, value: np.ndarray) -> None:
    values = to_keras(model)
    values[position] = value
    set_weights(model, values)


def slot_variables(model: Any) -> list[OptimizerVariable]:
    """The built optimizer's slot variables (and scalars), named and ordered as Keras's
    `optimizer.variables` after `iteration` and `learning_rate`: `adam/<variable path with _>_
    momentum`, ..."""
    optimizer = model.optimizer
    rule = _rule_state(optimizer.opt_state)
    names, extra_names = optimizer.slot_names(), optimizer.extra_names
    if len(names) != len(rule.slots) or len(extra_names) != len(rule.extra):
        raise ValueError(f"Optimizer '{optimizer.name}': its slots have no Keras names.")
    flags = ordered_leaves(model.trainable_mask())
    all_paths = ordered_leaves(_like(model.params, variable_paths(model)))
    paths = [p for p, trainable in zip(all_paths, flags) if trainable]
    first = 1 if optimizer.schedule is not None else 2  # after iteration (and learning_rate)
    out = []
    for k, (s, i) in enumerate(slot_layout(model, rule)):
        out.append(OptimizerVariable(
            f"{optimizer.name}/{paths[i].replace('/', '_')}_{names[s]}",
            functools.partial(_read_slot, model, s, i),
            functools.partial(_write_one, model, first + k),
        ))  # fmt: skip
    first += len(out)
    for j, path in enumerate(extra_names):
        out.append(OptimizerVariable(path, functools.partial(_read_extra, model, j),
                                     functools.partial(_write_one, model, first + j)))  # fmt: skip
    return out


def set_weights(model: Any, values: list) -> None:
    """`optimizer.set_weights`: every variable from a list in `optimizer.variables`' order."""
    optimizer = model.optimizer
    current = to_keras(model) or []
    where = f"Optimizer '{optimizer.name}': set_weights"
    if len(values) != len(current):
        raise ValueError(
            f"{where} expected a list of {len(current)} arrays (optimizer.variables), "
            f"got {len(values)}."
        )
    for i, (old, new) in enumerate(zip(current, values)):
        if np.shape(new) != old.shape:
            raise ValueError(
                f"{where}: variable {i} has shape {old.shape}, it was given shape {np.shape(new)}."
            )
    values = [np.asarray(v, c.dtype) for v, c in zip(values, current)]
    assign(model, *from_keras(model, values, where))
