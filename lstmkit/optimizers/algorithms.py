"""Keras-named optimizers (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Nadam) and `get`.

Each is configuration plus ``to_optax()``; see `base` for the learning-rate protocol
and `rules` for the update arithmetic (Keras's, in float32).
"""

from __future__ import annotations

from typing import Any

import jax
import optax

from lstmkit import registry
from lstmkit.optimizers import rules
from lstmkit.optimizers.base import Optimizer
from lstmkit.optimizers.opt_state import get_iterations, get_lr, set_lr
from lstmkit.optimizers.schedules import LearningRateSchedule


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum: ``v = m*v - lr*g; w += v``."""

    _config_keys = ("momentum", "nesterov")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, **kwargs)
        if not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = float(momentum)
        self.nesterov = nesterov

    def _rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        return rules.sgd(learning_rate, self.momentum, self.nesterov)

    def slot_names(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum > 0 else ()


class RMSprop(Optimizer):
    """RMSprop: divide by the root of a moving average of squared gradients."""

    _config_keys = ("rho", "momentum", "epsilon", "centered")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        return rules.rmsprop(learning_rate, self.rho, self.momentum, self.epsilon, self.centered)

    def slot_names(self) -> tuple[str, ...]:
        return ("velocity", *(("momentum",) if self.momentum > 0 else ()),
                *(("average_gradient",) if self.centered else ()))  # fmt: skip


class Adam(Optimizer):
    """Adam (optionally AMSGrad), with Keras's placement of epsilon."""

    _config_keys = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        return rules.adam(learning_rate, self.beta_1, self.beta_2, self.epsilon, self.amsgrad)

    def slot_names(self) -> tuple[str, ...]:
        return ("momentum", "velocity", *(("velocity_hat",) if self.amsgrad else ()))


class AdamW(Optimizer):
    """Adam with decoupled weight decay (``weight_decay=0.004`` by default, must be a float)."""

    _config_keys = Adam._config_keys

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    _rule = Adam._rule
    slot_names = Adam.slot_names


class Adagrad(Optimizer):
    """Adagrad: divide by the root of the running sum of squared gradients."""

    _config_keys = ("initial_accumulator_value", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        return rules.adagrad(learning_rate, self.initial_accumulator_value, self.epsilon)

    def slot_names(self) -> tuple[str, ...]:
        return ("accumulator",)


class Adadelta(Optimizer):
    """Adadelta (Keras scales its step by `learning_rate`, 0.001 by default)."""

    _config_keys = ("rho", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def _rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        return rules.adadelta(learning_rate, self.rho, self.epsilon)

    def slot_names(self) -> tuple[str, ...]:
        return ("accumulated_grad", "accumulated_delta_var")


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat's momentum schedule, as Keras)."""

    _config_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        return rules.nadam(learning_rate, self.beta_1, self.beta_2, self.epsilon)

    def slot_names(self) -> tuple[str, ...]:
        return ("momentum", "velocity")

    # Keras creates the running momentum product unnamed, outside the optimizer's name scope.
    extra_names = ("variable",)


ALL_OPTIMIZERS = {
    cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Nadam)
}


def _not_a_callable(identifier: Any) -> Any:
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r}. Pass a name "
        f"({', '.join(sorted(ALL_OPTIMIZERS))}), a config dict or an optimizer instance."
    )


# Names match in any case ("adam", "Adam"), as Keras's do.
_REGISTRY = registry.Registry(
    "optimizers", Optimizer, "keras.optimizers", ALL_OPTIMIZERS, fold_case=True,
    wrap=_not_a_callable,
)  # fmt: skip


def serialize(optimizer: Optimizer) -> dict:
    """Keras 3's serialized form: ``{"module", "class_name", "config", "registered_name"}``."""
    return _REGISTRY.serialize(optimizer)


def deserialize(config: dict) -> Optimizer:
    """Rebuilds an optimizer from `serialize`'s dict (or Keras's); class names match any case."""
    return _REGISTRY.deserialize(config)


def get(identifier: Any) -> Optimizer | None:
    """An optimizer from a name ("adam", case-insensitive), a serialized dict or an instance."""
    return _REGISTRY.get(identifier)


__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adam",
    "AdamW",
    "Adagrad",
    "Adadelta",
    "Nadam",
    "get",
    "serialize",
    "deserialize",
    "get_lr",
    "set_lr",
    "get_iterations",
]
