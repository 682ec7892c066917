"""Streaming: a model run one time step at a time, its recurrent states kept on the device.

`model.stream(batch_size=1)` returns a `Streamer`. Each `step(x_t)` runs the whole model on one
time step through one compiled function, (params, states, x_t) -> (y_t, new states); the states
stay jax arrays between steps. Any model whose recurrent layers return sequences streams, stateful
or not: the streamer carries the states itself ("train stateless, serve stateful"), starting from
zeros, and never touches the model's own carried states. Its outputs are the full-sequence
model's outputs, step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit.kernels import precision
from lstmkit.layers.base import Layer, ordered_leaves, ordered_unflatten
from lstmkit.layers.cells import carried_states, zero_states
from lstmkit.layers.recurrent import RNN
from lstmkit.layers.wrappers import Bidirectional


def _recurrent_paths(layer: Layer, path: tuple = ()) -> list[tuple[tuple, RNN]]:
    """(path of sub-layer keys, layer) for every RNN below `layer`; refuses what cannot stream."""
    found = []
    for key, sub in layer._sublayers.items():
        if isinstance(sub, Bidirectional):
            raise ValueError(
                f"stream: layer '{sub.name}' is Bidirectional; its backward half needs the whole "
                "sequence, so it cannot run one step at a time."
            )
        if isinstance(sub, RNN):
            for arg, bad in (("return_sequences", False), ("go_backwards", True)):
                if getattr(sub, arg) == bad:
                    raise ValueError(
                        f"stream: recurrent layer '{sub.name}' has {arg}={bad}; streaming needs "
                        "recurrent layers that return sequences, forwards in time."
                    )
            found.append((path + (key,), sub))
        else:
            found += _recurrent_paths(sub, path + (key,))
    return found


def _at(tree: dict, path: tuple) -> dict:
    for key in path:
        tree = tree[key]
    return tree


def _copy(tree: Any) -> Any:
    return {k: _copy(v) for k, v in tree.items()} if isinstance(tree, dict) else tree


@jax.jit
def _sample(y: jax.Array, temperature: jax.Array, key: jax.Array) -> jax.Array:
    """One id per row from logits or probabilities (rows of non-negative values summing to 1)."""
    is_probs = jnp.all(y >= 0) & jnp.all(jnp.abs(jnp.sum(y, axis=-1) - 1.0) < 1e-3)
    logits = jnp.where(is_probs, jnp.log(jnp.maximum(y, 1e-30)), y)  # (batch, classes)
    return jax.random.categorical(key, logits / temperature, axis=-1)  # (batch,)


class Streamer:
    """One time step at a time through `model`: `step`, `reset`, `states`, `sample`, `generate`.

    The weights are read once, when the streamer is made; make a new one after training more.
    """

    def __init__(self, model: Layer, batch_size: int = 1):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"stream: `batch_size` must be a positive integer, got {batch_size!r}."
            )
        if not getattr(model, "_graph_ready", False):
            raise ValueError(
                f"stream: model '{model.name}' is not built; give it an Input (or call it on "
                "data once) before streaming."
            )
        self.model = model
        self.batch_size = batch_size
        self._paths = _recurrent_paths(model)
        if not self._paths:
            raise ValueError(f"stream: model '{model.name}' has no recurrent layer to stream.")
        self._params = model.params
        self._base_state = model.state
        self._key = jax.random.key(0)
        self._compiled = precision.jit(self._pure_step)
        self.reset()

    def _pure_step(self, params: dict, state: dict, x_t: Any) -> tuple[Any, dict]:
        x = jax.tree_util.tree_map(lambda a: a[:, None], x_t)  # (batch, 1, ...): one time step
        y, new_state = self.model.apply(params, state, x)
        return jax.tree_util.tree_map(lambda a: a[:, 0], y), new_state  # (batch, ...)

    # ----- states ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Zero every recurrent layer's states (the start of a sequence)."""
        state = _copy(self._base_state)
        for path, rnn in self._paths:
            zeros = zero_states(rnn.cell.state_size, self.batch_size, rnn.compute_dtype)
            # As the layer carries them (an LSTM's c in float32 under a mixed policy): the
            # step's states keep their dtypes, so its program compiles once.
            _at(state, path)["states"] = carried_states(rnn.cell, zeros)
        self._state = state

    @property
    def states(self) -> dict[str, list[jax.Array]]:
        """The carried states by recurrent layer name, as device arrays ([h, c] for an LSTM)."""
        return {rnn.name: ordered_leaves(_at(self._state, p)["states"]) for p, rnn in self._paths}

    def set_states(self, states: dict[str, list]) -> None:
        """Set carried states by layer name (the structure `states` returns); shapes checked."""
        by_name = {rnn.name: p for p, rnn in self._paths}
        new = _copy(self._state)
        for name, values in states.items():
            if name not in by_name:
                raise ValueError(
                    f"Streamer.set_states: no recurrent layer named {name!r}; the streamed "
                    f"layers are {sorted(by_name)}."
                )
            holder = _at(new, by_name[name])
            current = ordered_leaves(holder["states"])
            values = list(values) if isinstance(values, (list, tuple)) else [values]
            shapes = [tuple(np.shape(v)) for v in values]
            if shapes != [tuple(c.shape) for c in current]:
                raise ValueError(
                    f"Streamer.set_states: layer '{name}' expects states shaped "
                    f"{[tuple(c.shape) for c in current]}, got {shapes}."
                )
            values = [jnp.asarray(v, c.dtype) for v, c in zip(values, current)]
            holder["states"] = ordered_unflatten(holder["states"], values)
        self._state = new

    # ----- running -----------------------------------------------------------------------------
    def step(self, x_t: Any) -> Any:
        """One time step: x_t shaped like one step of the input ((batch,) ids, (batch, features))
        -> the model's output at that step, a device array (batch, ...)."""
        # numpy arrays go to the compiled step as they are: its C++ path moves them to the
        # device (jnp.asarray first took 80 µs of a 70 µs step).
        x_t = x_t if isinstance(x_t, (jax.Array, np.ndarray)) else np.asarray(x_t)
        if x_t.shape[:1] != (self.batch_size,):
            raise ValueError(
                f"Streamer.step: expected one time step for a batch of {self.batch_size} "
                f"(shape ({self.batch_size}, ...)), got shape {tuple(x_t.shape)}."
            )
        y, self._state = self._compiled(self._params, self._state, x_t)
        return y

    def sample(
        self,
        logits_or_probs: Any,
        temperature: float = 1.0,
        seed: int | None = None,
        key: jax.Array | None = None,
    ) -> jax.Array:
        """Draw one id per row (batch,) from logits or probabilities (told apart by their values),
        sharpened (< 1) or flattened (> 1) by `temperature`. `key` or `seed` fixes the draw;
        otherwise the streamer's own key advances (seeded by `generate`)."""
        if not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"Streamer.sample: `temperature` must be > 0, got {temperature!r}.")
        if key is None:
            if seed is not None:
                key = jax.random.key(seed)
            else:
                self._key, key = jax.random.split(self._key)
        return _sample(jnp.asarray(logits_or_probs), jnp.float32(temperature), key)

    def generate(
        self,
        prompt_ids: Any,
        length: int,
        temperature: float = 1.0,
        seed: int = 0,
        on_token: Callable[[np.ndarray], Any] | None = None,
        reset: bool = True,
    ) -> np.ndarray:
        """Feed `prompt_ids` ((time,) or (batch, time)), then sample `length` ids, each fed back
        as the next input. Returns (batch, length) ids; `on_token(ids)` sees each (batch,) as it
        is drawn. The same seed gives the same ids."""
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(
                f"Streamer.generate: `length` must be a positive integer, got {length!r}."
            )
        prompt = np.asarray(prompt_ids)
        prompt = prompt[None] if prompt.ndim == 1 else prompt
        if prompt.ndim != 2 or prompt.shape[0] != self.batch_size or prompt.shape[1] < 1:
            raise ValueError(
                f"Streamer.generate: `prompt_ids` must be shaped (time,) or ({self.batch_size}, "
                f"time) with time >= 1, got shape {np.asarray(prompt_ids).shape}."
            )
        if reset:
            self.reset()
        self._key = jax.random.key(seed)
        for t in range(prompt.shape[1]):
            y = self.step(jnp.asarray(prompt[:, t]))
        out = []
        for _ in range(length):
            ids = self.sample(y, temperature)
            out.append(ids)
            if on_token is not None:
                on_token(np.asarray(ids))
            y = self.step(ids)
        return np.stack([np.asarray(i) for i in out], axis=1)
