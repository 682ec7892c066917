"""Helpers for testing lstmkit layers against their Keras 3 twins (Keras is the oracle)."""

from __future__ import annotations

import jax
import keras
import numpy as np

ATOL = 1e-5  # the project's bar: max abs error against Keras in float32


def randn(rng: np.random.Generator, *shape, scale: float = 1.0) -> np.ndarray:
    return (rng.normal(size=shape) * scale).astype(np.float32)


def flatten(y) -> list[np.ndarray]:
    """Outputs (array, list of arrays, nested lists for stacked cells) -> flat list of arrays."""
    if isinstance(y, (list, tuple)):
        return [a for item in y for a in flatten(item)]
    return [np.asarray(y)]


def assert_same(ours, theirs, what: str = "", atol: float = ATOL) -> None:
    """Same structure (after flattening), same shapes, values within `atol`."""
    ours, theirs = flatten(ours), flatten(theirs)
    assert len(ours) == len(theirs), f"{what}: {len(ours)} outputs, Keras has {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape, f"{what}: output {i} shape {a.shape}, Keras {b.shape}"
        err = float(np.max(np.abs(a - b))) if a.size else 0.0
        assert err <= atol, f"{what}: output {i} differs from Keras by {err:.3g}"


def copy_random_weights(rng: np.random.Generator, theirs, ours, scale: float = 0.5) -> None:
    """Give the built Keras layer random weights and copy them into the built lstmkit layer."""
    theirs.set_weights([randn(rng, *w.shape, scale=scale) for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())


def keras_state_variables(layer) -> list:
    """The variables holding a stateful Keras RNN's states (Bidirectional: both directions)."""
    subs = (
        [layer.forward_layer, layer.backward_layer] if hasattr(layer, "forward_layer") else [layer]
    )
    return [v for sub in subs if sub.states is not None for v in keras.tree.flatten(sub.states)]


def reset_keras_states(layer) -> None:
    """`layer.reset_states()`, except that Keras 3.15's RNN.reset_state fails on the nested
    states of stacked cells ('list' object has no attribute 'assign'): zero them leaf by leaf."""
    for v in keras_state_variables(layer):
        v.assign(np.zeros(v.shape, v.dtype))


class KerasRunner:
    """Calls a built Keras layer under one `jax.jit`, as Keras's own trainer does.

    Eager Keras re-traces and recompiles its scan on every call (about 0.3 s); this compiles
    once. All the layer's variables, including a stateful RNN's states (which Keras keeps out of
    `non_trainable_variables`), go in through a `StatelessScope`, and the updated states are
    written back. Calling `layer.call` also avoids Keras 3.15's Bidirectional.compute_mask, which
    crashes for stateful layers that return states ("unsupported operand type(s) for *:
    'generator' and 'int'").
    """

    def __init__(self, layer):
        self.layer = layer
        self.variables = list(layer.variables) + keras_state_variables(layer)

        def run(values, x, mask, initial_state, training):
            with keras.StatelessScope(state_mapping=list(zip(self.variables, values))) as scope:
                kw = {"mask": mask, "initial_state": initial_state, "training": training}
                out = layer.call(x, **kw)
            return out, [scope.get_current_value(v) for v in self.variables]

        self.fn = jax.jit(run, static_argnums=4)

    def __call__(self, x, mask=None, initial_state=None, training=False):
        values = [v.value for v in self.variables]
        out, values = self.fn(values, x, mask, initial_state, bool(training))
        for v, value in zip(self.variables, values):
            v.assign(value)
        return out


def flatten_symbolic(y) -> list:
    """Symbolic outputs (nested lists/tuples of symbolic tensors) -> flat list."""
    if isinstance(y, (list, tuple)):
        return [t for item in y for t in flatten_symbolic(item)]
    return [y]
