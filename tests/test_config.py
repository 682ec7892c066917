"""`lstmkit.config` answers as `keras.config` does (JAX backend), and its switches act."""

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.catalogue import NotSupportedError
from lstmkit.layers import lambda_layer
from lstmkit.saving.keras_format import KerasFileError


def test_values_match_keras():
    for name in ("backend", "epsilon", "floatx", "image_data_format"):
        assert getattr(lstmkit.config, name)() == getattr(keras.config, name)(), name


def test_set_dtype_policy_is_the_global_policy():
    try:
        lstmkit.config.set_dtype_policy("mixed_bfloat16")
        assert lstmkit.config.dtype_policy().name == "mixed_bfloat16"
        layer = lstmkit.layers.Dense(2)
        assert (layer.compute_dtype, layer.variable_dtype) == ("bfloat16", "float32")
    finally:
        lstmkit.config.set_dtype_policy("float32")
    assert lstmkit.layers.Dense(2).compute_dtype == "float32"


def test_enable_unsafe_deserialization_lets_lambdas_load(tmp_path):
    x = lstmkit.Input((3,))
    model = lstmkit.Model(x, lstmkit.layers.Lambda(lambda t: t * 2.0 + 1.0)(x))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(KerasFileError, match="safe_mode"):
        lstmkit.models.load_model(path)
    try:
        lstmkit.config.enable_unsafe_deserialization()
        loaded = lstmkit.models.load_model(path)
    finally:
        lambda_layer._UNSAFE_ENABLED[0] = False  # a process-wide switch: leave it as found
    data = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(loaded(data)), data * 2.0 + 1.0)


def test_unsupported_setting_points_to_the_catalogue():
    with pytest.raises(NotSupportedError, match="keras_catalogue"):
        lstmkit.config.set_floatx  # noqa: B018
