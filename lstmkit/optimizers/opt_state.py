"""Pure helpers on an lstmkit optimizer's optax state: the learning rate and the step count.

The state is an ``optax.InjectStatefulHyperparamsState`` (possibly inside a chain): its
``hyperparams["learning_rate"]`` is the rate, its ``count`` Keras's ``iterations``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def _find_inject_state(state: Any) -> Any:
    """The (outermost) inject_hyperparams state holding a learning rate, or None."""
    if isinstance(getattr(state, "hyperparams", None), dict) and hasattr(state, "_replace"):
        if "learning_rate" in state.hyperparams:
            return state
    if isinstance(state, (tuple, list)):
        for item in state:
            found = _find_inject_state(item)
            if found is not None:
                return found
    return None


def _replace_inject_state(state: Any, new: Any, old: Any) -> Any:
    if state is old:
        return new
    if isinstance(state, (tuple, list)):
        items = [_replace_inject_state(s, new, old) for s in state]
        if hasattr(state, "_fields"):
            return type(state)(*items)
        return type(state)(items)
    return state


def _inject_state(opt_state: Any) -> Any:
    found = _find_inject_state(opt_state)
    if found is None:
        raise ValueError(
            "This optax state holds no learning rate: build it with an lstmkit optimizer's "
            "to_optax() (which keeps the rate in an inject_hyperparams state)."
        )
    return found


def get_lr(opt_state: Any) -> jax.Array:
    """The learning rate in the state: the settable rate, or the schedule's last value."""
    return _inject_state(opt_state).hyperparams["learning_rate"]


def set_lr(opt_state: Any, value: float | jax.Array) -> Any:
    """A copy of `opt_state` with the learning rate set (same shape and dtype: no recompile)."""
    inner = _inject_state(opt_state)
    hyperparams = dict(inner.hyperparams)
    if not (isinstance(value, jax.Array) and value.dtype == jnp.float32 and value.shape == ()):
        value = jnp.asarray(value, jnp.float32)
    hyperparams["learning_rate"] = value
    return _replace_inject_state(opt_state, inner._replace(hyperparams=hyperparams), inner)


def set_iterations(state: Any, count: Any) -> Any:
    """`state` with every step counter (optax's inject_hyperparams, its schedules', the rule's)
    set to `count`."""
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        state = type(state)(*[set_iterations(s, count) for s in state])
        return state._replace(count=count) if "count" in state._fields else state
    if isinstance(state, (tuple, list)):
        return type(state)(set_iterations(s, count) for s in state)
    if isinstance(state, dict):
        return {k: set_iterations(v, count) for k, v in state.items()}
    return state


def get_iterations(opt_state: Any) -> jax.Array:
    """Keras's ``optimizer.iterations``: how many updates the state has seen (int32)."""
    return _inject_state(opt_state).count
