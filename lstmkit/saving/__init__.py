"""Saving and interop: Keras files, PyTorch weights."""

from lstmkit.saving.keras_format import load_model, load_weights, save_model, save_weights
from lstmkit.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from lstmkit.saving.torch_format import from_torch, to_torch

__all__ = [
    "CustomObjectScope", "custom_object_scope", "from_torch", "get_custom_objects",
    "get_registered_name", "get_registered_object", "load_model", "load_weights",
    "register_keras_serializable", "save_model", "save_weights", "to_torch",
]  # fmt: skip
