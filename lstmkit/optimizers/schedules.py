"""Learning-rate schedules: Keras 3's names, arguments and numbers (`optimizers.schedules`).

A schedule is a pure function of the optimizer's step count (Keras's `iterations` before the
update), so optax evaluates it inside the jitted step. ExponentialDecay is optax's own schedule
(same formula); the others are written out because optax's versions differ from Keras's
(multiplicative piecewise scales with ``count < boundary``, no inverse-time decay, a warmup that
counts inside ``decay_steps``, a different order of the cosine's float32 operations).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import optax

from lstmkit import registry

_F32 = jnp.float32


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate``, serializable like Keras's."""

    def __call__(self, step: jax.Array | int) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement get_config().")

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_decay_steps(decay_steps: int) -> None:
    if decay_steps <= 0:
        raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}")


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored if staircase)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name
        self._optax = optax.exponential_decay(
            init_value=initial_learning_rate,
            transition_steps=decay_steps,
            decay_rate=decay_rate,
            staircase=staircase,
        )

    def __call__(self, step: jax.Array | int) -> jax.Array:
        step = jnp.asarray(step).astype(_F32)
        if self.decay_rate == 0:  # optax short-cuts this to a constant; Keras gives 0 after step 0
            return jnp.where(step > 0, 0.0, self.initial_learning_rate).astype(_F32)
        return jnp.asarray(self._optax(step), _F32)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` on ``(b[i-1], b[i]]``, ..."""

    def __init__(self, boundaries: list, values: list, name: str = "PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: jax.Array | int) -> jax.Array:
        step = jnp.asarray(step)
        boundaries = jnp.asarray(self.boundaries).astype(step.dtype)
        values = jnp.asarray(self.values)
        if jnp.issubdtype(values.dtype, jnp.floating):
            values = values.astype(_F32)
        # number of boundaries strictly below step = index of the interval (b[i-1], b[i]]
        return values[jnp.sum(step[..., None] > boundaries, axis=-1)]

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored if staircase)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: jax.Array | int) -> jax.Array:
        p = jnp.asarray(step).astype(_F32) / jnp.asarray(self.decay_steps, _F32)
        if self.staircase:
            p = jnp.floor(p)
        denominator = jnp.asarray(1.0, _F32) + jnp.asarray(self.decay_rate, _F32) * p
        return jnp.asarray(self.initial_learning_rate, _F32) / denominator

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay to ``alpha * lr`` over `decay_steps`, after an optional linear warmup.

    With `warmup_target`, the rate climbs linearly from `initial_learning_rate` to `warmup_target`
    over `warmup_steps`, then decays from `warmup_target` over the next `decay_steps`.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: jax.Array, decay_steps: jax.Array, from_lr: jax.Array) -> jax.Array:
        cosine = 0.5 * (1.0 + jnp.cos(jnp.asarray(math.pi, _F32) * (step / decay_steps)))
        return from_lr * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: jax.Array | int) -> jax.Array:
        initial = jnp.asarray(self.initial_learning_rate, _F32)
        decay_steps = jnp.asarray(self.decay_steps, _F32)
        step = jnp.asarray(step).astype(_F32)
        if self.warmup_target is None:
            return self._decay(jnp.minimum(step, decay_steps), decay_steps, initial)
        target = jnp.asarray(self.warmup_target, _F32)
        warmup_steps = jnp.asarray(self.warmup_steps, _F32)
        step = jnp.minimum(step, decay_steps + warmup_steps)
        # guard the division so the unused branch of `where` stays finite
        warmup = (target - initial) * (step / jnp.maximum(warmup_steps, 1.0)) + initial
        decayed = self._decay(step - warmup_steps, decay_steps, target)
        return jnp.where(step < warmup_steps, warmup, decayed)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


ALL_SCHEDULES = {
    cls.__name__: cls
    for cls in (ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, CosineDecay)
}


_REGISTRY = registry.Registry(
    "schedules", LearningRateSchedule, "keras.optimizers.schedules", ALL_SCHEDULES
)


def get(identifier: Any) -> LearningRateSchedule | None:
    """A schedule from an instance, a class name or a serialized dict."""
    return _REGISTRY.get(identifier)


def serialize(schedule: LearningRateSchedule) -> dict:
    """Keras 3's serialized form: ``{"module", "class_name", "config", "registered_name"}``."""
    return _REGISTRY.serialize(schedule)


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """Rebuilds a schedule from `serialize`'s dict (or Keras's)."""
    return _REGISTRY.deserialize(config)
