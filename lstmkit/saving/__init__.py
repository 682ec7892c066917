"""Saving and interop: Keras files, PyTorch weights."""

from lstmkit import catalogue as _catalogue
from lstmkit.models.files import register_file_functions
from lstmkit.saving import model_json, optimizer_vars
from lstmkit.saving.keras_format import load_model, load_weights, save_model, save_weights
from lstmkit.saving.torch_format import from_torch, to_torch
from lstmkit.utils.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

# Model.save / save_weights / load_weights and lstmkit.models.load_model use these (models sit
# below saving and cannot import it).
register_file_functions(
    save_model=save_model, save_weights=save_weights, load_weights=load_weights,
    load_model=load_model,
)  # fmt: skip
register_file_functions(
    model_config=model_json.model_config, model_from_config=model_json.model_from_class_config,
    model_to_json=model_json.model_to_json, model_from_json=model_json.model_from_json,
    optimizer_variables=optimizer_vars.to_keras,
    optimizer_slot_variables=optimizer_vars.slot_variables,
    optimizer_set_weights=optimizer_vars.set_weights,
)  # fmt: skip

__all__ = [
    "CustomObjectScope", "custom_object_scope", "from_torch", "get_custom_objects",
    "get_registered_name", "get_registered_object", "load_model", "load_weights",
    "register_keras_serializable", "save_model", "save_weights", "to_torch",
]  # fmt: skip

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("saving", __name__)
