"""Models: functional `Model` and `Sequential` (`lstmkit.models.Model` is `keras.models.Model`)."""

from lstmkit import catalogue as _catalogue
from lstmkit.models.cloning import clone_model
from lstmkit.models.files import file_function
from lstmkit.models.functional import Model
from lstmkit.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Open a Keras 3 `.keras` file (written by Keras or lstmkit); see lstmkit.saving."""
    return file_function("load_model")(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Model:
    """A new model (fresh weights) from `model.to_json()`'s string, as Keras."""
    return file_function("model_from_json")(json_string, custom_objects=custom_objects)


def save_model(model, filepath, overwrite=True, **kwargs):
    """`model.save(filepath)` as a function, as `keras.models.save_model`."""
    model.save(filepath, overwrite=overwrite, **kwargs)


__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("models", __name__)
