"""Keras-named initializer classes: configuration objects over `lstmkit.kernels.initializers`.

`init(shape, dtype=None, key=None)` returns a JAX array. Without a key, an initializer built
with an int `seed` derives its key from that seed (same values on every call, bit-identical
to Keras 3 on the JAX backend); an unseeded one draws `lstmkit.utils.next_key()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit import catalogue as _catalogue
from lstmkit import registry, utils
from lstmkit.kernels import initializers as ops

Shape = Sequence[int]


class Initializer:
    """Base class: subclasses implement `_make(key, shape, dtype)` and `get_config()`."""

    def __call__(self, shape: Shape, dtype=None, key: jax.Array | None = None) -> jax.Array:
        dtype = jnp.float32 if dtype is None else dtype
        return self._make(key, tuple(shape), dtype)

    def _make(self, key: jax.Array | None, shape: tuple[int, ...], dtype) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__} does not implement _make().")

    def get_config(self) -> dict[str, Any]:
        """Keras's config dict for this initializer."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """Rebuild from `get_config()` output."""
        return cls(**config)

    def clone(self) -> Initializer:
        return type(self).from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros."""

    def _make(self, key, shape, dtype):
        return ops.zeros(key, shape, dtype)


class Ones(Initializer):
    """All ones."""

    def _make(self, key, shape, dtype):
        return ops.ones(key, shape, dtype)


def _serialize_value(value: Any) -> Any:
    """Keras's form for a Constant value: plain scalars as is, arrays tagged with dtype."""
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        arr = np.asarray(value)
        if arr.ndim == 0:
            return arr.item()
        tag = "__numpy__" if isinstance(value, (np.ndarray, np.generic)) else "__tensor__"
        return {"class_name": tag, "config": {"value": arr.tolist(), "dtype": str(arr.dtype)}}
    return value


def _deserialize_value(value: Any) -> Any:
    if isinstance(value, dict) and value.get("class_name") in ("__numpy__", "__tensor__"):
        cfg = value["config"]
        return np.asarray(cfg["value"], dtype=cfg.get("dtype"))
    return value


class Constant(Initializer):
    """A constant `value`: a scalar, or an array of the weight's shape (e.g. pretrained)."""

    def __init__(self, value: Any = 0.0):
        self.value = value

    def _make(self, key, shape, dtype):
        return ops.constant(key, shape, dtype, value=self.value)

    def get_config(self):
        return {"value": _serialize_value(self.value)}

    @classmethod
    def from_config(cls, config):
        return cls(_deserialize_value(config.get("value", 0.0)))


class Identity(Initializer):
    """`gain` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def _make(self, key, shape, dtype):
        return ops.identity(key, shape, dtype, gain=self.gain)

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Base for random initializers: holds the optional int `seed`."""

    def __init__(self, seed: int | None = None):
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"{type(self).__name__}: `seed` must be an int or None, got {seed!r}.")
        self.seed = seed

    def _key(self, key: jax.Array | None) -> jax.Array:
        if key is not None:
            return key
        if self.seed is not None:
            return ops.seed_key(self.seed)
        return utils.next_key()

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Normal samples, `mean` and `stddev`."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def _make(self, key, shape, dtype):
        return ops.random_normal(self._key(key), shape, dtype, self.mean, self.stddev)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal samples within two `stddev` of `mean`."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def _make(self, key, shape, dtype):
        return ops.truncated_normal(self._key(key), shape, dtype, self.mean, self.stddev)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform samples in `[minval, maxval)`."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def _make(self, key, shape, dtype):
        return ops.random_uniform(self._key(key), shape, dtype, self.minval, self.maxval)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(RandomInitializer):
    """Variance `scale / n` with n from `mode`; see `ops.initializers.variance_scaling`."""

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ):
        if scale <= 0.0:
            raise ValueError(f"VarianceScaling: `scale` must be positive, got {scale}.")
        if mode not in ops.VS_MODES:
            raise ValueError(f"VarianceScaling: unknown mode {mode!r}; use one of {ops.VS_MODES}.")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ops.VS_DISTRIBUTIONS:
            raise ValueError(
                f"VarianceScaling: unknown distribution {distribution!r}; "
                f"use one of {ops.VS_DISTRIBUTIONS}."
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed)

    def _make(self, key, shape, dtype):
        return ops.variance_scaling(
            self._key(key), shape, dtype, self.scale, self.mode, self.distribution,
            self.input_axes, self.output_axes,
        )  # fmt: skip

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed by the class."""

    _SETTINGS: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(
        self,
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ):
        scale, mode, distribution = self._SETTINGS
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform in `±sqrt(6 / (fan_in + fan_out))`."""

    _SETTINGS = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal, std `sqrt(2 / (fan_in + fan_out))`."""

    _SETTINGS = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """Uniform in `±sqrt(6 / fan_in)`."""

    _SETTINGS = (2.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal, std `sqrt(2 / fan_in)`."""

    _SETTINGS = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """Uniform in `±sqrt(3 / fan_in)`."""

    _SETTINGS = (1.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal, std `sqrt(1 / fan_in)`."""

    _SETTINGS = (1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """`gain` times a random orthogonal matrix (rank >= 2 shapes)."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        self.gain = gain
        super().__init__(seed)

    def _make(self, key, shape, dtype):
        return ops.orthogonal(self._key(key), shape, dtype, gain=self.gain)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# Lower-case aliases, as Keras exports them.
zeros, ones, constant, identity = Zeros, Ones, Constant, Identity
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal = VarianceScaling, Orthogonal
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal, lecun_uniform, lecun_normal = HeUniform, HeNormal, LecunUniform, LecunNormal
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal

_CLASSES: list[type[Initializer]] = [
    Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal,
    VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform,
    LecunNormal, Orthogonal,
]  # fmt: skip
_BY_NAME: dict[str, type[Initializer]] = {c.__name__: c for c in _CLASSES}
_BY_NAME.update({n: c for n, c in globals().items() if isinstance(c, type) and c in _CLASSES})
_BY_NAME.update(
    {
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
        "normal": RandomNormal,
        "uniform": RandomUniform,
        "one": Ones,
        "zero": Zeros,
    }
)


def _array_initializer(value: Any) -> Callable[..., jax.Array]:
    """An initializer returning exactly `value` (Keras accepts arrays as identifiers)."""

    def initialize(shape: Shape, dtype=None, key=None) -> jax.Array:
        if tuple(shape) != tuple(np.shape(value)):
            raise ValueError(
                f"Array initializer has shape {tuple(np.shape(value))}, but the weight "
                f"needs shape {tuple(shape)}."
            )
        return jnp.asarray(value, dtype=jnp.float32 if dtype is None else dtype)

    return initialize


_REGISTRY = registry.Registry(
    "initializers",
    Initializer,
    "keras.initializers",
    _BY_NAME,
    special=lambda ident, _: (
        _array_initializer(ident)
        if isinstance(ident, (np.ndarray, np.generic, jax.Array))
        else registry.PASS
    ),
)


def get(identifier: Any) -> Initializer | Callable[..., jax.Array] | None:
    """Resolve None, an Initializer (instance or class), a Keras name, a Keras-serialized
    dict, an array, or a plain callable `(shape, dtype)` to an initializer."""
    return _REGISTRY.get(identifier)


def serialize(initializer: Initializer | Callable[..., Any] | None) -> dict[str, Any] | None:
    """Keras 3's serialized form: `{"module", "class_name", "config", "registered_name"}`."""
    return _REGISTRY.serialize(initializer)


def deserialize(config: dict[str, Any]) -> Initializer:
    """Inverse of `serialize` for the built-in initializers."""
    return _REGISTRY.deserialize(config)


# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("initializers", __name__)
