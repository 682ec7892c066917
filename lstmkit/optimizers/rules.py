"""Keras 3's update rules as optax transformations (pure ``init`` / ``update`` pairs).

Optax ships most of these algorithms, but its formulas differ from Keras's in small ways that
change the numbers: where epsilon sits relative to the bias correction (Adam), the initial
accumulator (Adagrad, RMSprop), the momentum cache (Nadam), the learning rate inside the
momentum buffer (SGD, RMSprop), the per-variable norm clip. Each rule here reproduces the Keras
arithmetic operation by operation in float32, and takes the learning rate as a value so that
``optax.inject_hyperparams`` can keep it in the optimizer state.

Every rule's updates are the full deltas (learning rate and sign included): ``params + updates``
is the new value, as after Keras's ``apply_gradients``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

_F32 = jnp.float32


class KerasRuleState(NamedTuple):
    """State of a Keras rule: the step count and one accumulator pytree per slot."""

    count: jax.Array  # int32 scalar: Keras's `iterations` before this update
    slots: tuple  # accumulators, each a pytree shaped like the params
    extra: tuple = ()  # optimizer-wide scalars (Nadam's running momentum product)


# A leaf rule maps (gradient, *slot leaves, **step scalars) -> (delta, *new slot leaves).
LeafRule = Callable[..., tuple]


def _rule(
    slot_inits: Sequence[float],
    leaf_rule: LeafRule,
    step_scalars: Callable[[jax.Array, tuple], tuple[dict, tuple]] | None = None,
    extra_init: tuple = (),
) -> optax.GradientTransformation:
    """Builds a transformation applying `leaf_rule` to every variable, as Keras's update_step."""

    def init(params: Any) -> KerasRuleState:
        slots = tuple(
            jax.tree.map(lambda p, v=value: jnp.full_like(p, v), params) for value in slot_inits
        )
        extra = tuple(jnp.asarray(x, _F32) for x in extra_init)
        return KerasRuleState(jnp.zeros([], jnp.int32), slots, extra)

    def update(grads: Any, state: KerasRuleState, params: Any = None) -> tuple[Any, Any]:
        del params
        scalars, extra = (
            ({}, state.extra) if step_scalars is None else step_scalars(state.count, state.extra)
        )
        leaves, treedef = jax.tree.flatten(grads)
        slot_leaves = [treedef.flatten_up_to(s) for s in state.slots]
        outs = [leaf_rule(g, *ss, **scalars) for g, *ss in zip(leaves, *slot_leaves, strict=True)]
        deltas = treedef.unflatten([o[0] for o in outs])
        slots = tuple(treedef.unflatten([o[i + 1] for o in outs]) for i in range(len(state.slots)))
        return deltas, KerasRuleState(state.count + 1, slots, extra)

    return optax.GradientTransformation(init, update)


def _local_step(count: jax.Array, offset: int = 1) -> jax.Array:
    return (count + offset).astype(_F32)  # Keras: cast(iterations + 1, float32)


def sgd(learning_rate: jax.Array, momentum: float, nesterov: bool) -> optax.GradientTransformation:
    """Keras SGD: the velocity holds ``-lr * g`` terms, so a changing lr enters it as Keras's."""
    lr = jnp.asarray(learning_rate, _F32)
    mom = jnp.asarray(momentum, _F32)
    if momentum == 0:
        return _rule((), lambda g: (-(g * lr),))

    def leaf(g, m):
        m = m * mom - g * lr
        delta = m * mom - g * lr if nesterov else m
        return delta, m

    return _rule((0.0,), leaf)


def rmsprop(
    learning_rate: jax.Array, rho: float, momentum: float, epsilon: float, centered: bool
) -> optax.GradientTransformation:
    """Keras RMSprop: epsilon inside the square root, lr inside the momentum buffer."""
    lr = jnp.asarray(learning_rate, _F32)
    use_momentum = momentum > 0

    def leaf(g, velocity, *rest):
        rest = list(rest)
        velocity = rho * velocity + (1 - rho) * jnp.square(g)
        new_rest = []
        if centered:
            avg = rest.pop()
            avg = rho * avg + (1 - rho) * g
            denominator = velocity - jnp.square(avg) + epsilon
        else:
            denominator = velocity + epsilon
        increment = (lr * g) / jnp.sqrt(denominator)
        if use_momentum:
            m = momentum * rest.pop(0) + increment
            new_rest.append(m)
            delta = -m
        else:
            delta = -increment
        if centered:
            new_rest.append(avg)
        return (delta, velocity, *new_rest)

    slots = (0.0,) + ((0.0,) if use_momentum else ()) + ((0.0,) if centered else ())
    return _rule(slots, leaf)


def adam(
    learning_rate: jax.Array, beta_1: float, beta_2: float, epsilon: float, amsgrad: bool
) -> optax.GradientTransformation:
    """Keras Adam: bias correction folded into the step size, epsilon added after."""
    lr = jnp.asarray(learning_rate, _F32)

    def scalars(count, extra):
        step = _local_step(count)
        b1_power = jnp.power(jnp.asarray(beta_1, _F32), step)
        b2_power = jnp.power(jnp.asarray(beta_2, _F32), step)
        return {"alpha": lr * jnp.sqrt(1 - b2_power) / (1 - b1_power)}, extra

    def leaf(g, m, v, *v_hat, alpha):
        m = m + (g - m) * (1 - beta_1)
        v = v + (jnp.square(g) - v) * (1 - beta_2)
        new_hat = ()
        v_used = v
        if amsgrad:
            v_used = jnp.maximum(v_hat[0], v)
            new_hat = (v_used,)
        return (-((m * alpha) / (jnp.sqrt(v_used) + epsilon)), m, v, *new_hat)

    return _rule((0.0, 0.0, 0.0) if amsgrad else (0.0, 0.0), leaf, scalars)


def adagrad(
    learning_rate: jax.Array, initial_accumulator_value: float, epsilon: float
) -> optax.GradientTransformation:
    """Keras Adagrad: accumulator starts at `initial_accumulator_value`, epsilon in the root."""
    lr = jnp.asarray(learning_rate, _F32)

    def leaf(g, acc):
        acc = acc + jnp.square(g)
        return -((lr * g) / jnp.sqrt(acc + epsilon)), acc

    return _rule((initial_accumulator_value,), leaf)


def adadelta(learning_rate: jax.Array, rho: float, epsilon: float) -> optax.GradientTransformation:
    """Keras Adadelta (its update is scaled by the learning rate, unlike the paper's)."""
    lr = jnp.asarray(learning_rate, _F32)

    def leaf(g, acc_grad, acc_delta):
        acc_grad = rho * acc_grad + (1 - rho) * jnp.square(g)
        delta = -((jnp.sqrt(acc_delta + epsilon) * g) / jnp.sqrt(acc_grad + epsilon))
        acc_delta = rho * acc_delta + (1 - rho) * jnp.square(delta)
        return lr * delta, acc_grad, acc_delta

    return _rule((0.0, 0.0), leaf)


def nadam(
    learning_rate: jax.Array, beta_1: float, beta_2: float, epsilon: float
) -> optax.GradientTransformation:
    """Keras Nadam: Dozat's momentum schedule ``u_t = b1 (1 - 0.5 * 0.96**t)`` and its product."""
    lr = jnp.asarray(learning_rate, _F32)
    b1 = jnp.asarray(beta_1, _F32)
    b2 = jnp.asarray(beta_2, _F32)
    decay = jnp.asarray(0.96, _F32)

    def scalars(count, extra):
        step, next_step = _local_step(count), _local_step(count, 2)
        (u_product,) = extra
        u_product = u_product * beta_1 * (1.0 - 0.5 * jnp.power(0.96, step))
        u_t = b1 * (1.0 - 0.5 * jnp.power(decay, step))
        u_t_1 = b1 * (1.0 - 0.5 * jnp.power(decay, next_step))
        found = {
            "u_t": u_t,
            "u_t_1": u_t_1,
            "u_product_t": u_product,
            "u_product_t_1": u_product * u_t_1,
            "b2_power": jnp.power(b2, step),
        }
        return found, (u_product,)

    def leaf(g, m, v, u_t, u_t_1, u_product_t, u_product_t_1, b2_power):
        m = m + (g - m) * (1 - b1)
        v = v + (jnp.square(g) - v) * (1 - b2)
        m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * g) / (1 - u_product_t)
        v_hat = v / (1 - b2_power)
        return -((m_hat * lr) / (jnp.sqrt(v_hat) + epsilon)), m, v

    return _rule((0.0, 0.0), leaf, scalars, extra_init=(1.0,))


def clip_by_norm_per_variable(clipnorm: float) -> optax.GradientTransformation:
    """Keras `clipnorm`: each gradient's own L2 norm is clipped (optax clips the global norm)."""

    def clip(g):
        l2sum = jnp.sum(jnp.square(g), keepdims=True)
        positive = l2sum > 0
        l2norm = jnp.where(positive, jnp.sqrt(jnp.where(positive, l2sum, 1.0)), l2sum)
        return (g * clipnorm) / jnp.maximum(l2norm, clipnorm)

    def update(grads: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        del params
        return jax.tree.map(clip, grads), state

    return optax.GradientTransformation(optax.init_empty_state, update)


def decoupled_weight_decay(
    weight_decay: float, learning_rate: jax.Array
) -> optax.GradientTransformation:
    """Keras `weight_decay` (every optimizer, AdamW's default): ``w -= w * wd * lr``."""
    lr = jnp.asarray(learning_rate, _F32)

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        if params is None:
            raise ValueError("weight_decay needs the params: call update(grads, state, params).")
        decayed = jax.tree.map(lambda u, p: u - p * weight_decay * lr, updates, params)
        return decayed, state

    return optax.GradientTransformation(optax.init_empty_state, update)
