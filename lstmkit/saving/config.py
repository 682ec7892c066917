"""Layers to and from Keras 3's serialized form (`{"module", "class_name", "config", ...}`).

lstmkit's layers already speak Keras's argument names; this module adds what Keras writes and
lstmkit leaves implicit (the dtype as a DTypePolicy dict, nested layers as full entries, keys
such as `quantization_config`), and takes it away again on the way in.

Reading is safe: a class is looked up by name among lstmkit's own layers or, only if the caller
says so, in `custom_objects`. Nothing in a file is imported, evaluated or unpickled; serialized
lambdas (Python bytecode) are refused, except in a `Lambda` layer's config when the caller passed
`safe_mode=False` (layers/lambda_layer.py), as Keras.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit import layers as layers_mod
from lstmkit import legacy
from lstmkit.layers.base import Layer, is_shape
from lstmkit.layers.lambda_layer import is_lambda_entry
from lstmkit.saving.ops_layers import OP_CLASSES, is_op
from lstmkit.utils import object_registration

HOST_PREPROCESSING = ("TextVectorization", "StringLookup", "IntegerLookup")

BUILTIN_LAYERS: dict[str, type] = {
    name: getattr(layers_mod, name) for name in layers_mod.__all__
    if name not in ("Input", "Layer") and isinstance(getattr(layers_mod, name), type)
}  # fmt: skip
# Keras writes these with default values that lstmkit has no argument for: drop them when default.
KERAS_ONLY_DEFAULTS = {"quantization_config": None, "activity_regularizer": None, "ragged": False,
                       "optional": False, "lora_rank": None, "lora_alpha": None,
                       "sparse": False}  # fmt: skip
# lstmkit layers that do take `activity_regularizer` (so a non-None value is kept).
TAKES_ACTIVITY_REGULARIZER = {"Dense", "Embedding", "LSTM", "GRU", "SimpleRNN", "RNN", "Conv1D",
                              "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "EinsumDense"}  # fmt: skip
NESTED_KEYS = ("layer", "backward_layer", "cell", "cells")
REFUSED_CLASSES = {"__lambda__", "TFOpLambda", "SlicingOpLambda"}
LAMBDA_FUNCTION_KEYS = ("function", "output_shape", "mask")
# Weightless layers whose build Keras records (a `build_config`) all the same.
WEIGHTLESS_BUILT = {"Flatten", "RepeatVector", "Permute", "Lambda", "Add", "Subtract", "Multiply",
                    "Average", "Maximum", "Minimum", "Concatenate", "Dot"}  # fmt: skip


class UnsafeOrUnknownError(ValueError):
    """A file asks for code lstmkit will not run, or a class it does not know."""


def dtype_policy(name: str) -> dict[str, Any]:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}  # fmt: skip


def jsonable(value: Any) -> Any:
    """Tuples -> lists, numpy scalars and arrays -> Python values: what json.dumps accepts."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) or hasattr(value, "__array__") and hasattr(value, "shape"):
        return np.asarray(value).tolist()
    return value


# ----- lstmkit -> Keras ---------------------------------------------------------------------------
def serialize_layer(layer: Any) -> dict[str, Any]:
    """Keras 3's entry for one layer (without a functional model's `name`/`inbound_nodes`)."""
    cls = type(layer).__name__
    if is_op(layer):
        name = layer.keras_class_name
        config = jsonable(layer.get_config())
        return {"module": layer.keras_module, "class_name": name, "config": config,
                "registered_name": name}  # fmt: skip
    builtin = BUILTIN_LAYERS.get(cls) is type(layer)
    if builtin:
        entry = {"module": "keras.layers", "class_name": cls, "config": keras_layer_config(layer),
                 "registered_name": None}  # fmt: skip
    else:
        entry = custom_entry(layer)
    shape = getattr(layer, "_build_shape", None)
    shapes = is_shape(shape) or (isinstance(shape, list) and all(map(is_shape, shape)))
    if layer.built and (layer.params or cls in WEIGHTLESS_BUILT or not builtin) and shapes:
        entry["build_config"] = {"input_shape": list(shape)}
    if layer.built and hasattr(layer, "keras_build_config"):  # build(query_shape, value_shape)
        entry["build_config"] = layer.keras_build_config()
    return entry


def custom_entry(obj: Any) -> dict[str, Any]:
    """Keras's entry for a user's layer or model: its get_config(), the dtype as a policy, and
    the registered name ("package>Name") by which loading finds the class again."""
    cls = type(obj)
    try:
        config = dict(obj.get_config())
    except NotImplementedError as e:
        raise ValueError(f"Layer '{obj.name}' ({cls.__name__}) cannot be saved: {e}") from e
    if isinstance(config.get("dtype"), str):
        config["dtype"] = dtype_policy(config["dtype"])
    registered = object_registration.is_registered(cls)
    return {"module": None if registered else cls.__module__, "class_name": cls.__name__,
            "config": jsonable(config),
            "registered_name": object_registration.get_registered_name(cls)}  # fmt: skip


def keras_layer_config(layer: Layer) -> dict[str, Any]:
    """The `config` Keras 3 writes for a built-in layer."""
    cls = type(layer).__name__
    if cls == "InputLayer":
        return {"batch_shape": list(layer.batch_shape), "dtype": layer.dtype, "sparse": False,
                "ragged": False, "name": layer.name, "optional": False}  # fmt: skip
    config = dict(layer.get_config())
    config["dtype"] = dtype_policy(str(config.get("dtype") or layer.dtype))
    if layer.dtype_policy.is_mixed:  # "mixed_bfloat16": get_config's dtype is the weights'
        config["dtype"] = dtype_policy(layer.dtype_policy.name)
    if cls == "Dense":
        if config.get("activity_regularizer") is None:
            config.pop("activity_regularizer", None)
        config.setdefault("quantization_config", None)
    elif cls == "Embedding":
        config.setdefault("activity_regularizer", None)
        config.setdefault("quantization_config", None)
    elif cls in ("LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"):
        config.setdefault("activity_regularizer", None)
        if cls == "SimpleRNN" and config.get("seed") is None:
            config.pop("seed", None)  # Keras's SimpleRNN config has no seed
    elif cls == "RNN":
        config["cell"] = serialize_layer(layer.cell)
    elif cls == "StackedRNNCells":
        config["cells"] = [serialize_layer(c) for c in layer.cells]
    elif cls == "Bidirectional":  # Keras writes the forward copy as `layer`, and the backward one
        config["layer"] = serialize_layer(layer.forward_layer)
        config["backward_layer"] = serialize_layer(layer.backward_layer)
    elif cls == "TimeDistributed":
        config["layer"] = serialize_layer(layer.layer)
    elif cls == "SpatialDropout1D":
        config["dtype"] = layer.dtype  # Keras writes this layer's dtype as a plain name
    elif cls == "EinsumDense":
        config.setdefault("quantization_config", None)
    elif cls == "Flatten" and config.get("data_format") is None:
        config["data_format"] = "channels_last"
    return jsonable(config)


# ----- Keras -> lstmkit ---------------------------------------------------------------------------
def _custom(custom_objects: dict | None, *names: Any) -> Any:
    """A custom object by name: custom_objects first, then a custom_object_scope or the
    registry."""
    names = [n for n in names if isinstance(n, str)]
    for name in names:
        if custom_objects and name in custom_objects:
            return custom_objects[name]
    for name in names:
        obj = object_registration.get_registered_object(name)
        if obj is not None:
            return obj
    return None


def custom_class(entry: dict, custom_objects: dict | None) -> Any:
    """The class a custom entry names, if the caller lent or registered it; else None."""
    return _custom(custom_objects, entry.get("registered_name"), entry.get("class_name"))


def _is_keras_module(module: Any) -> bool:
    return isinstance(module, str) and (module == "keras" or module.startswith("keras."))


def resolve_objects(value: Any, custom_objects: dict | None, where: str) -> Any:
    """Walk a config value: refuse lambdas, swap custom functions/classes for `custom_objects`.

    Built-in entries (Keras's initializers, regularizers, constraints, activations, losses...)
    stay dicts for lstmkit's own `get()` to read; anything else must be in `custom_objects`.
    """
    if isinstance(value, list):
        return [resolve_objects(v, custom_objects, where) for v in value]
    if not isinstance(value, dict):
        return value
    class_name = value.get("class_name")
    if class_name in REFUSED_CLASSES:
        raise UnsafeOrUnknownError(
            f"{where}: refusing to load a Python lambda ({class_name}): it would run code "
            "stored in the file. Rewrite it as a named function or layer and pass it in "
            "custom_objects."
        )
    if class_name in ("__keras_tensor__", "__tuple__") or "class_name" not in value:
        return {k: resolve_objects(v, custom_objects, where) for k, v in value.items()}
    module, registered = value.get("module"), value.get("registered_name")
    inner = value.get("config")
    if class_name == "function":
        fn = _custom(custom_objects, inner, registered)
        if fn is not None:
            return fn
        if _is_keras_module(module) or module in (None, "builtins"):
            return value
        raise UnsafeOrUnknownError(
            f"{where}: unknown function {inner!r} (module {module!r}). Pass it as "
            f"custom_objects={{{inner!r}: {inner}}}."
        )
    obj = _custom(custom_objects, class_name, registered)
    if obj is not None:
        config = resolve_objects(inner or {}, custom_objects, where)
        return obj.from_config(config) if hasattr(obj, "from_config") else obj(**config)
    if not _is_keras_module(module) and module is not None:
        raise UnsafeOrUnknownError(
            f"{where}: unknown class {class_name!r} (module {module!r}). Custom classes load "
            f"only through custom_objects={{{class_name!r}: {class_name}}}."
        )
    return value


def deserialize_layer(entry: Any, custom_objects: dict | None = None) -> Layer:
    """An lstmkit layer from Keras 3's entry for it."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(
            f"Expected a serialized layer ({{'class_name', 'config'}}), got {entry!r}."
        )
    class_name, module = entry["class_name"], entry.get("module")
    config = dict(entry.get("config") or {})
    where = f"layer '{config.get('name', '?')}' ({class_name})"
    if class_name in REFUSED_CLASSES:
        raise UnsafeOrUnknownError(
            f"Refusing to load {where}: a Lambda layer stores Python bytecode, and loading it "
            "would run code from the file. Replace it with a named layer class and pass that "
            "class in custom_objects."
        )
    custom = _custom(custom_objects, entry.get("registered_name"), class_name)
    if custom is not None:
        config = resolve_objects(config, custom_objects, where)
        return custom.from_config(config) if hasattr(custom, "from_config") else custom(**config)
    if (module, class_name) in OP_CLASSES:
        return OP_CLASSES[module, class_name](**_plain(config, class_name))
    if class_name in HOST_PREPROCESSING:  # text branch: string layers cannot sit in a model
        raise UnsafeOrUnknownError(
            f"{where} runs in numpy on strings before the model and cannot be part of an lstmkit "
            "model (Keras on JAX cannot run it inside a model either). Load the model without it "
            "and vectorize the texts first; a lone vectorizer saves and loads as its own .keras."
        )
    if class_name not in BUILTIN_LAYERS or not (_is_keras_module(module) or module is None):
        known = ", ".join(sorted(BUILTIN_LAYERS))
        raise UnsafeOrUnknownError(
            f"Unknown layer class {class_name!r} (module {module!r}) for layer "
            f"'{config.get('name', '?')}'. lstmkit knows: {known}. A custom layer loads only "
            f"through custom_objects={{{class_name!r}: YourClass}}."
        )
    if class_name == "Lambda":
        return _lambda_layer(config, custom_objects, where)
    return BUILTIN_LAYERS[class_name](**lstmkit_layer_kwargs(class_name, config, custom_objects))


def _lambda_layer(config: dict, custom_objects: dict | None, where: str) -> Layer:
    """A Lambda layer: its Python lambdas go to `Lambda.from_config`, which loads them only
    outside safe mode; named functions come from custom_objects."""
    lambdas = {k: config.pop(k) for k in LAMBDA_FUNCTION_KEYS if is_lambda_entry(config.get(k))}
    kwargs = lstmkit_layer_kwargs("Lambda", config, custom_objects)
    for key in LAMBDA_FUNCTION_KEYS:
        value = kwargs.get(key)
        if isinstance(value, dict) and value.get("class_name") == "function":
            name = value.get("config")
            raise UnsafeOrUnknownError(
                f"{where}: its {key} is the Python function {name!r}, which lstmkit does not "
                f"import from a file. Pass it as custom_objects={{{name!r}: {name}}}."
            )
    return layers_mod.Lambda.from_config({**kwargs, **lambdas})


def _plain(config: dict, class_name: str) -> dict:
    return {k: v for k, v in config.items() if k not in ("dtype", "trainable")}


def lstmkit_layer_kwargs(class_name: str, config: dict, custom_objects: dict | None) -> dict:
    """Keras's layer config -> the keyword arguments of lstmkit's constructor."""
    config = dict(config)
    where = f"layer '{config.get('name', '?')}' ({class_name})"
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name", "float32")
    if dtype is not None:
        mixed = ("mixed_bfloat16", "mixed_float16")  # lstmkit.mixed_precision's policies
        if not isinstance(dtype, str) or (dtype.startswith("mixed_") and dtype not in mixed):
            raise ValueError(f"{where}: dtype policy {dtype!r} is not supported by lstmkit.")
        config["dtype"] = dtype
    config = legacy.rename_config_keys(class_name, config)
    for key, default in KERAS_ONLY_DEFAULTS.items():
        if key not in config or (key == "activity_regularizer"
                                 and class_name in TAKES_ACTIVITY_REGULARIZER):  # fmt: skip
            continue
        if config[key] is not None and config[key] != default:
            raise ValueError(
                f"{where}: Keras option {key}={config[key]!r} is not supported by lstmkit."
            )
        config.pop(key)
    nested = {k: config.pop(k) for k in NESTED_KEYS if k in config}
    config = resolve_objects(config, custom_objects, where)
    if "cells" in nested:
        config["cells"] = [deserialize_layer(c, custom_objects) for c in nested["cells"]]
    if "cell" in nested:
        config["cell"] = deserialize_layer(nested["cell"], custom_objects)
    if "layer" in nested:
        inner = deserialize_layer(nested["layer"], custom_objects)
        if class_name == "Bidirectional" and inner.name.startswith("forward_"):
            inner.name = inner.name[len("forward_") :]  # lstmkit adds the prefix itself
        config["layer"] = inner
    if nested.get("backward_layer") is not None:
        config["backward_layer"] = deserialize_layer(nested["backward_layer"], custom_objects)
    if "shape" in config and class_name == "InputLayer":
        config["shape"] = tuple(config["shape"])
    if "batch_shape" in config and config["batch_shape"] is not None:
        config["batch_shape"] = tuple(config["batch_shape"])
    return config
