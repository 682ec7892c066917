"""`Model.get_config` / `from_config`, `to_json` and `models.model_from_json`: the same model
configuration Keras writes into `config.json` (model_config.py), in memory or as a JSON string.

Models sit below saving, so `Model` finds these through the hook in `models/files.py`.
"""

from __future__ import annotations

import json
from typing import Any

from lstmkit.models import Model
from lstmkit.saving.model_config import FUNCTIONAL_MODULE, model_from_config, serialize_model


def model_config(model: Model) -> dict[str, Any]:
    """Keras's `model.get_config()`: the `config` part of the serialized model."""
    return serialize_model(model)["config"]


def model_from_class_config(
    class_name: str, config: dict[str, Any], custom_objects: dict | None = None
) -> Model:
    """Keras's `Model.from_config` / `Sequential.from_config`: a new model, fresh weights."""
    module = "keras" if class_name == "Sequential" else FUNCTIONAL_MODULE
    return model_from_config(
        {"module": module, "class_name": class_name, "config": config}, custom_objects
    )


def model_to_json(model: Model, **kwargs: Any) -> str:
    """Keras's `model.to_json(**kwargs)`: the serialized model; kwargs go to `json.dumps`."""
    return json.dumps(serialize_model(model), **kwargs)


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Model:
    """Keras's `models.model_from_json`: a new model (uncompiled, fresh weights)."""
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_from_json: the string is not JSON ({e}).") from None
    return model_from_config(config, custom_objects)
