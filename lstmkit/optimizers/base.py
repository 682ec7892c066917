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
from lstmkit.optimizers.schedules import LearningRateSchedule

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

    @staticmethod
    def _check_lr(learning_rate: Any) -> float | LearningRateSchedule:
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
    def iterations(self) -> int:
        """How many updates the optimizer has applied (Keras's `optimizer.iterations`)."""
        if self.opt_state is not None:
            return int(get_iterations(self.opt_state))
        return self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = int(value)
        if self.opt_state is not None:
            self.opt_state = set_iterations(self.opt_state, jnp.asarray(int(value), jnp.int32))

    # --- the learning rate -------------------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The current learning rate, as a float (a schedule is evaluated at `iterations`)."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

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

    # --- optax ---------------------------------------------------------------------------------

    def _rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        raise NotImplementedError

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

    def __repr__(self) -> str:
        return f"<lstmkit.optimizers.{type(self).__name__} name={self.name!r}>"


# --- pure helpers on the optax state --------------------------------------------------------


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
