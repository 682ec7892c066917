"""The optimizer base class and the helpers that read and write the rate in an optax state.

An optimizer object holds configuration only. ``opt.to_optax()`` gives the optax transformation
that the jitted training step uses; its state keeps the current learning rate (through
``optax.inject_hyperparams``), so a callback can change the rate between steps without a
recompile::

    tx = opt.to_optax()
    state = tx.init(params)
    updates, state = tx.update(grads, state, params)      # inside jax.jit
    params = optax.apply_updates(params, updates)
    opt.learning_rate = 1e-4                               # e.g. from ReduceLROnPlateau
    state = opt.sync_lr(state)                             # outside jit, before the next step
"""

from __future__ import annotations

import collections
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lstmkit import legacy
from lstmkit.naming import to_snake_case
from lstmkit.optimizers import rules, schedules
from lstmkit.optimizers.opt_state import get_iterations, get_lr, set_iterations, set_lr  # noqa: F401
from lstmkit.optimizers.schedules import LearningRateSchedule
from lstmkit.optimizers.variables import OptimizerVariable

_name_uids: collections.defaultdict = collections.defaultdict(int)


def _auto_name(class_name: str) -> str:
    """``adam``, then ``adam_1``, ``adam_2``... as Keras names optimizers."""
    base = to_snake_case(class_name)
    uid = _name_uids[base]
    _name_uids[base] += 1
    return base if uid == 0 else f"{base}_{uid}"


def _f32(value: float) -> float:
    """The value a float32 variable holds, as a Python float (what Keras reports)."""
    return float(np.float32(value))


class Optimizer:
    """Base class: the arguments every Keras optimizer takes, the learning rate, config, optax.

    Subclasses define ``_rule(learning_rate) -> optax.GradientTransformation`` and name their
    own config entries in ``_config_keys``.
    """

    _config_keys: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        if "lr" in kwargs:  # Keras 2
            learning_rate = legacy.pop_renamed(type(self).__name__, "optimizer", kwargs, "lr")
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                "Argument `decay` is no longer supported and will be ignored.", stacklevel=3
            )
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        unsupported = {
            "use_ema": use_ema,
            "loss_scale_factor": loss_scale_factor,
            "gradient_accumulation_steps": gradient_accumulation_steps,
        }
        for key, value in unsupported.items():
            if value:
                raise NotImplementedError(f"lstmkit optimizers do not support `{key}` yet.")
        self.name = name if name is not None else _auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        # The optax state over the model's trainable parameters (on the device), kept here by
        # training as Keras keeps its optimizer variables; `iterations` reads its step count.
        self.opt_state: Any = None
        self.state_owner: Any = None  # what the state was built for (set by the model)
        self._iterations = 0
        self.lr_version = 0  # bumped when the rate is set: training then copies it into the state
        self._learning_rate: float | LearningRateSchedule = self._check_lr(learning_rate)
        self._lr_cache: tuple[Any, jax.Array | None] = (None, None)  # see sync_lr
        # The compiled model's side (set by `compile`): builds the state and names its slots in
        # Keras's order (`build()`, `slot_variables()`, `set_weights(values)`, `weight_shapes()`).
        self.link: Any = None

    @staticmethod
    def _check_lr(learning_rate: Any) -> float | LearningRateSchedule:
        if isinstance(learning_rate, OptimizerVariable):
            learning_rate = learning_rate.numpy()
        if isinstance(learning_rate, LearningRateSchedule):
            return learning_rate
        if isinstance(learning_rate, (int, float, np.floating)) and not isinstance(
            learning_rate, bool
        ):
            return _f32(learning_rate)
        if isinstance(learning_rate, (jax.Array, np.ndarray)) and np.ndim(learning_rate) == 0:
            return _f32(learning_rate)
        raise ValueError(
            "Argument `learning_rate` should be a float or a "
            "lstmkit.optimizers.schedules.LearningRateSchedule. "
            f"Received instead: learning_rate={learning_rate!r}"
        )

    # --- the step count ----------------------------------------------------------------------

    @property
    def iterations(self) -> OptimizerVariable:
        """How many updates the optimizer has applied: Keras's `optimizer.iterations` variable
        (`int(opt.iterations)`, `.numpy()`, `.assign(0)`)."""
        return OptimizerVariable(
            f"{self.name}/iteration",
            lambda: np.int32(self._count()),
            lambda value: setattr(self, "iterations", int(value)),
        )

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = int(value)
        if self.opt_state is not None:
            self.opt_state = set_iterations(self.opt_state, jnp.asarray(int(value), jnp.int32))

    def _count(self) -> int:
        if self.opt_state is not None:
            return int(get_iterations(self.opt_state))
        return self._iterations

    # --- the learning rate -------------------------------------------------------------------

    @property
    def learning_rate(self) -> OptimizerVariable | jax.Array:
        """Keras's `optimizer.learning_rate`: a float32 variable (`float(lr)`, `.numpy()`,
        `.assign(1e-4)`), or with a schedule its value at `iterations` (an array)."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return jnp.asarray(self._learning_rate(self._count()), jnp.float32)
        return OptimizerVariable(
            f"{self.name}/learning_rate",
            lambda: np.float32(self._learning_rate),
            lambda value: setattr(self, "learning_rate", value),
        )

    @learning_rate.setter
    def learning_rate(self, value: float | LearningRateSchedule) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule) and not isinstance(
            value, LearningRateSchedule
        ):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                "If you need the learning rate to be settable, you should instantiate the "
                "optimizer with a float `learning_rate` argument."
            )
        self._learning_rate = self._check_lr(value)
        self.lr_version += 1

    @property
    def schedule(self) -> LearningRateSchedule | None:
        """The learning-rate schedule, or None for a constant (settable) rate."""
        lr = self._learning_rate
        return lr if isinstance(lr, LearningRateSchedule) else None

    def sync_lr(self, opt_state: Any) -> Any:
        """`opt_state` carrying this optimizer's current learning rate (call outside jit).

        A no-op for a schedule, which optax evaluates from the step count at every update.
        """
        if self.schedule is not None:
            return opt_state
        value, array = self._lr_cache
        if value != self._learning_rate or array is None or array.is_deleted():
            # one transfer per new value, cast on the host (jnp's cast of a Python float
            # compiles a program)
            array = jnp.asarray(np.asarray(self._learning_rate, np.float32), jnp.float32)
            self._lr_cache = (self._learning_rate, array)
        return set_lr(opt_state, array)

    # --- Keras's optimizer variables ----------------------------------------------------------

    @property
    def built(self) -> bool:
        """Whether the slots exist (after the first step, `build`, or a loaded state)."""
        return self.opt_state is not None

    @property
    def variables(self) -> list[OptimizerVariable]:
        """Keras's list, in Keras's order: `iteration`, `learning_rate` (not with a schedule),
        then once built each slot over the model's trainable variables (`adam/dense_kernel_
        momentum`, ...), as the .keras file stores them."""
        out = [self.iterations]
        if self.schedule is None:
            out.append(self.learning_rate)
        if self.built and self.link is not None:
            out += self.link.slot_variables()
        return out

    def build(self, variables: list) -> None:
        """Create the slots for the compiled model's trainable variables (Keras's `build`)."""
        if self.link is None:
            raise ValueError(
                f"Optimizer '{self.name}': lstmkit builds an optimizer for a model: call "
                "`model.compile(optimizer=...)` with it first, then "
                "`optimizer.build(model.trainable_variables)`."
            )
        expected = sorted(self.link.weight_shapes())
        given = sorted(tuple(np.shape(v)) for v in variables)
        if given != expected:
            raise ValueError(
                f"Optimizer '{self.name}': build expected the compiled model's "
                f"{len(expected)} trainable variables (shapes {expected}), got {len(given)} "
                f"(shapes {given})."
            )
        if not self.built:
            self.link.build()

    def set_weights(self, weights: list) -> None:
        """Set every variable from a list in `variables`' order (Keras's `set_weights`)."""
        if not self.built or self.link is None:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been built. "
                "Please call `optimizer.build(trainable_variables)` to create the optimizer "
                "weights before calling `set_weights()`."
            )
        self.link.set_weights(list(weights))

    # --- optax ---------------------------------------------------------------------------------

    def _rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        raise NotImplementedError

    def slot_names(self) -> tuple[str, ...]:
        """Keras's names of the per-variable slots, in the order the rule keeps them."""
        return ()

    extra_names: tuple[str, ...] = ()  # Keras's paths of the optimizer-wide scalars

    def _transform(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        """Keras's order: clip the gradients, decay the weights, apply the rule."""
        parts = []
        if self.clipnorm and self.clipnorm > 0:
            parts.append(rules.clip_by_norm_per_variable(self.clipnorm))
        elif self.global_clipnorm and self.global_clipnorm > 0:
            parts.append(optax.clip_by_global_norm(self.global_clipnorm))
        elif self.clipvalue and self.clipvalue > 0:
            parts.append(optax.clip(self.clipvalue))
        parts.append(self._rule(learning_rate))
        if self.weight_decay is not None:
            parts.append(rules.decoupled_weight_decay(self.weight_decay, learning_rate))
        return optax.chain(*parts)

    def to_optax(self) -> optax.GradientTransformationExtraArgs:
        """The optax transformation; ``update`` needs ``params`` when weight_decay is set.

        Its state is an ``optax.InjectStatefulHyperparamsState``: ``state.count`` is Keras's
        ``iterations`` and ``state.hyperparams["learning_rate"]`` the rate (see get_lr/set_lr).
        """

        def transform(learning_rate):
            return self._transform(learning_rate)

        inject = optax.inject_hyperparams(transform, hyperparam_dtype=jnp.float32)
        return inject(learning_rate=self._learning_rate)

    def init(self, params: Any) -> Any:
        """Shortcut for ``self.to_optax().init(params)``."""
        return self.to_optax().init(params)

    # --- config --------------------------------------------------------------------------------

    def get_config(self) -> dict:
        """Keras 3's optimizer config (same keys, same order)."""
        lr = self._learning_rate
        config = {
            "name": self.name,
            "learning_rate": schedules.serialize(lr)
            if isinstance(lr, LearningRateSchedule)
            else lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __getstate__(self) -> dict:
        # A copy or pickle is not attached to the model (the link holds it weakly).
        return {**self.__dict__, "link": None}

    def __repr__(self) -> str:
        return f"<lstmkit.optimizers.{type(self).__name__} name={self.name!r}>"
