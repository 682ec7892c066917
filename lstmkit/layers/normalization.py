"""LayerNormalization and BatchNormalization, with Keras 3's weights, numbers and masks.

BatchNormalization keeps `moving_mean` / `moving_variance` as non-trainable weights. In training
(and only while the layer is trainable) it normalizes with the batch's statistics and assigns the
new moving averages through its variables: inside a pure call that assignment is recorded by the
stateless scope, so `Model.run` returns it in `new_params` and `fit` keeps it (the mechanism a
Keras-style layer's `self.moving_mean.assign(...)` uses too). Otherwise it uses the moving ones.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit import constraints, initializers, ops, regularizers
from lstmkit.layers.base import Layer
from lstmkit.layers.cells import resolve
from lstmkit.layers.variables import current_scope

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): guards the masked statistics' division


def _resolved(layer: Layer, module: Any, **given: Any) -> None:
    """Set `layer.<arg>` to the resolved object for each `<arg>=value` (errors name the layer)."""
    for arg, value in given.items():
        setattr(layer, arg, resolve(layer.name, arg, module.get, value))


def _check_axes(layer: Layer, axes: list[int], shape: Any) -> None:
    rank = len(shape)
    bad = [a for a in axes if not -rank <= a < rank]
    if bad:
        raise ValueError(f"Layer '{layer.name}': axis {bad} is out of bounds for inputs of "
                         f"shape {tuple(shape)} (axis={layer.axis}).")  # fmt: skip
    unknown = [a for a in axes if shape[a] is None]
    if unknown:
        raise ValueError(f"Layer '{layer.name}': the size of axis {unknown} must be known, "
                         f"got input shape {tuple(shape)}.")  # fmt: skip


class LayerNormalization(Layer):
    """Normalizes each sample over `axis` to zero mean and unit variance, then `* gamma + beta`.
    `rms_scaling=True` (deprecated in Keras, kept for its files) divides by the standard
    deviation only and has no beta."""

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis):
            axis = list(axis)
        elif isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Layer '{self.name}': `axis` must be an int or a list of ints, "
                            f"got {axis!r}.")  # fmt: skip
        self.axis = axis
        self.epsilon = epsilon
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        _resolved(self, initializers, beta_initializer=beta_initializer,
                  gamma_initializer=gamma_initializer)  # fmt: skip
        _resolved(self, regularizers, beta_regularizer=beta_regularizer,
                  gamma_regularizer=gamma_regularizer)  # fmt: skip
        _resolved(self, constraints, beta_constraint=beta_constraint,
                  gamma_constraint=gamma_constraint)  # fmt: skip

    @property
    def axes(self) -> list[int]:
        return sorted(self.axis) if isinstance(self.axis, list) else [self.axis]

    def build(self, input_shape):
        _check_axes(self, self.axes, input_shape)
        self.axis = self.axes  # Keras keeps the sorted list once built (and writes it so)
        shape = tuple(input_shape[a] for a in self.axis)
        if self.scale or self.rms_scaling:
            self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer,
                            self.gamma_constraint)  # fmt: skip
        if self.center and not self.rms_scaling:
            self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                            self.beta_constraint)  # fmt: skip

    def check_input(self, shape):
        _check_axes(self, self.axes, shape)
        built = self._build_shape
        if built is not None and len(built) == len(shape):
            if any(shape[a] != built[a] for a in self.axes):
                raise ValueError(f"Layer '{self.name}' was built for inputs of shape "
                                 f"{tuple(built)} (normalized axes {self.axes}), but was "
                                 f"called on shape {tuple(shape)}.")  # fmt: skip

    def pure_call(self, params, inputs, **kwargs):
        return ops.layer_normalization(inputs, params.get("gamma"), params.get("beta"),
                                       self.axes, self.epsilon,
                                       rms_scaling=self.rms_scaling)  # fmt: skip

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "dtype": self.dtype,
            "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
            "scale": self.scale, "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }  # fmt: skip


class BatchNormalization(Layer):
    """Normalizes over every axis but `axis` with the batch's statistics in training (updating
    the moving ones: `moving = moving * momentum + batch * (1 - momentum)`) and with the moving
    statistics at inference or when the layer is not trainable. A mask (batch, steps) leaves the
    masked steps out of the batch statistics. `renorm=True` is Keras's batch renormalization."""

    supports_masking = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Layer '{self.name}': `axis` must be an int, got {axis!r}.")
        if synchronized:
            raise ValueError(f"Layer '{self.name}': synchronized=True needs the TensorFlow "
                             "backend (as in Keras on JAX); use synchronized=False.")  # fmt: skip
        if renorm and set(renorm_clipping or {}) - {"rmax", "rmin", "dmax"}:
            raise ValueError(f"Layer '{self.name}': `renorm_clipping` takes the keys 'rmax', "
                             f"'rmin', 'dmax'; got {renorm_clipping!r}.")  # fmt: skip
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.renorm, self.synchronized = bool(renorm), False
        self.renorm_clipping = (renorm_clipping or {}) if renorm else renorm_clipping
        self.renorm_momentum = renorm_momentum
        _resolved(self, initializers, beta_initializer=beta_initializer,
                  gamma_initializer=gamma_initializer,
                  moving_mean_initializer=moving_mean_initializer,
                  moving_variance_initializer=moving_variance_initializer)  # fmt: skip
        _resolved(self, regularizers, beta_regularizer=beta_regularizer,
                  gamma_regularizer=gamma_regularizer)  # fmt: skip
        _resolved(self, constraints, beta_constraint=beta_constraint,
                  gamma_constraint=gamma_constraint)  # fmt: skip

    def build(self, input_shape):
        _check_axes(self, [self.axis], input_shape)
        shape = (input_shape[self.axis],)
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer,
                            self.gamma_constraint)  # fmt: skip
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                            self.beta_constraint)  # fmt: skip
        self.add_weight(name="moving_mean", shape=shape,
                        initializer=self.moving_mean_initializer, trainable=False)  # fmt: skip
        variance = self.add_weight(name="moving_variance", shape=shape,
                                   initializer=self.moving_variance_initializer,
                                   trainable=False)  # fmt: skip
        if self.renorm:  # Keras's renorm statistics; the stddevs start at sqrt(moving_variance)

            def sqrt_variance(shape, dtype=None):
                return jnp.sqrt(variance.value)

            for name in ("moving_stddev", "renorm_mean", "renorm_stddev"):
                init = self.moving_mean_initializer if name == "renorm_mean" else sqrt_variance
                self.add_weight(name=name, shape=shape, initializer=init, trainable=False)

    def check_input(self, shape):
        _check_axes(self, [self.axis], shape)
        built = self._build_shape
        if built is not None and (len(built) != len(shape) or shape[self.axis] != built[self.axis]):
            raise ValueError(f"Layer '{self.name}' was built for inputs of shape {tuple(built)}, "
                             f"but was called on shape {tuple(shape)}.")  # fmt: skip

    def reduction_axes(self, ndim: int) -> list[int]:
        return [a for a in range(ndim) if a != self.axis % ndim]

    def moments(self, x, mask):
        """The batch's mean and variance per feature, (features,); masked steps left out."""
        axes = self.reduction_axes(x.ndim)
        if mask is None:
            return ops.moments(x, axes)
        if mask.ndim != x.ndim - 1:
            raise ValueError(f"Layer '{self.name}': the mask must have one dimension less than "
                             f"the inputs; got mask shape {tuple(mask.shape)}, inputs "
                             f"{tuple(x.shape)}.")  # fmt: skip
        keep = jnp.broadcast_to(mask[..., None], x.shape).astype(bool)
        count = jnp.sum(keep.astype(x.dtype), axes, keepdims=True)  # (1, ..., features)
        mean = jnp.sum(jnp.where(keep, x, 0.0), axes, keepdims=True) / (count + _KERAS_EPSILON)
        sq = jnp.square(jnp.where(keep, x - mean, 0.0))
        variance = jnp.sum(sq, axes, keepdims=True) / (count + _KERAS_EPSILON)
        size = x.shape[self.axis]
        return mean.reshape(size), variance.reshape(size)

    def pure_call(self, params, inputs, *, training=False, mask=None, **kwargs):
        x = jnp.asarray(inputs)
        x = x.astype(jnp.result_type(x.dtype, jnp.float32))
        moving_mean = params["moving_mean"].astype(x.dtype)  # (features,)
        moving_variance = params["moving_variance"].astype(x.dtype)
        gamma, beta = params.get("gamma"), params.get("beta")
        if training and self.trainable:
            mean, variance = self.moments(x, mask)
            m, updates = self.momentum, {}
            updates["moving_mean"] = moving_mean * m + mean * (1.0 - m)
            if self.renorm:
                gamma, beta, renorm_updates = self.renorm_step(params, mean, variance, gamma, beta)
                updates.update(renorm_updates)
            else:
                updates["moving_variance"] = moving_variance * m + variance * (1.0 - m)
            if current_scope() is not None:  # recorded; Model.run returns it in new_params
                for name, value in updates.items():
                    self._variables[name].assign(value)
        else:
            mean, variance = moving_mean, moving_variance
        out = ops.batch_normalization(x, mean, variance, self.axis, beta, gamma, self.epsilon)
        return out.astype(self.dtype)

    def renorm_step(self, params, mean, variance, gamma, beta):
        """Batch renormalization: the correction (r, d) folded into gamma and beta, and the
        new renorm and moving statistics (Keras's formulas)."""
        stddev = jnp.sqrt(variance + self.epsilon)  # (features,)
        renorm_mean, renorm_stddev = params["renorm_mean"], params["renorm_stddev"]
        r = stddev / jnp.maximum(renorm_stddev, jnp.sqrt(jnp.float32(self.epsilon)))
        d = (mean - renorm_mean) / jnp.maximum(renorm_stddev, jnp.sqrt(jnp.float32(self.epsilon)))
        clip = self.renorm_clipping
        r = r if clip.get("rmin") is None else jnp.maximum(r, clip["rmin"])
        r = r if clip.get("rmax") is None else jnp.minimum(r, clip["rmax"])
        d = d if clip.get("dmax") is None else jnp.clip(d, -clip["dmax"], clip["dmax"])
        r, d = jax.lax.stop_gradient(r), jax.lax.stop_gradient(d)
        new_gamma = r if gamma is None else r * gamma
        new_beta = d if gamma is None else d * gamma
        new_beta = new_beta if beta is None else new_beta + beta
        m, rm = self.momentum, self.renorm_momentum
        moving_stddev = params["moving_stddev"] * m + stddev * (1.0 - m)
        updates = {
            "renorm_mean": renorm_mean * rm + mean * (1.0 - rm),
            "renorm_stddev": renorm_stddev * rm + stddev * (1.0 - rm),
            "moving_stddev": moving_stddev,
            "moving_variance": jax.nn.relu(moving_stddev * moving_stddev - self.epsilon),
        }
        return new_gamma, new_beta, updates

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "dtype": self.dtype,
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(
                self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized, "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping, "renorm_momentum": self.renorm_momentum,
        }  # fmt: skip
