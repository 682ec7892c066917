"""Models to and from `config.json`: Keras 3's Sequential and Functional configs, compile_config.

A functional model is written as Keras writes it: layers in Keras's order, each with its
`inbound_nodes` (`{"args": [...], "kwargs": {...}}`, tensors as `__keras_tensor__` entries naming
`[layer, node index, tensor index]`), then `input_layers` / `output_layers`. Reading replays the
calls in that order, as `keras.src.models.functional.functional_from_config` does.
"""

from __future__ import annotations

from typing import Any

from lstmkit import losses as losses_mod
from lstmkit import metrics as metrics_mod
from lstmkit import optimizers as optimizers_mod
from lstmkit.layers.core import InputLayer
from lstmkit.layers.symbolic import is_symbolic, tree_leaves
from lstmkit.models import Model, Sequential
from lstmkit.saving import keras_graph
from lstmkit.saving.config import (
    UnsafeOrUnknownError,
    custom_class,
    custom_entry,
    deserialize_layer,
    dtype_policy,
    jsonable,
    resolve_objects,
    serialize_layer,
)

FUNCTIONAL_MODULE = "keras.src.models.functional"


# ----- lstmkit -> Keras ---------------------------------------------------------------------------
def serialize_model(model: Any) -> dict[str, Any]:
    """The whole `config.json` of a `.keras` file."""
    if isinstance(model, Sequential):
        entry = _sequential_config(model)
    elif model.keras_style and model._graph_ready:  # a subclassed model: its own config
        entry = custom_entry(model)
        shape = model._build_shape
        entry["build_config"] = {"input_shape": list(shape) if isinstance(shape, tuple)
                                 else [list(s) for s in shape]}  # fmt: skip
    elif isinstance(model, Model) and getattr(model, "_graph_ready", False):
        entry = _functional_config(model)
    else:
        raise ValueError(
            f"Model '{model.name}' has no graph yet: build it (call it on data, or give it an "
            "Input) before saving."
        )
    entry["compile_config"] = compile_config(model)
    return jsonable(entry)


def _is_graph_model(layer: Any) -> bool:
    """A Sequential or functional model used as a layer (Keras writes its own model config)."""
    return isinstance(layer, Sequential) or (
        isinstance(layer, Model) and not layer.keras_style and layer._graph_ready
    )


def _layer_entry(layer: Any) -> dict[str, Any]:
    if not _is_graph_model(layer):
        return serialize_layer(layer)
    entry = (
        _sequential_config(layer) if isinstance(layer, Sequential) else _functional_config(layer)
    )
    entry["compile_config"] = compile_config(layer)
    return entry


def _sequential_config(model: Sequential) -> dict[str, Any]:
    layers = [_layer_entry(layer) for layer in model.layers]
    config = {"name": model.name, "trainable": model.trainable, "dtype": dtype_policy("float32"),
              "layers": layers}  # fmt: skip
    entry = {"module": "keras", "class_name": "Sequential", "config": config,
             "registered_name": None}  # fmt: skip
    if model._graph_ready:
        (inp,) = model.inputs
        layers.insert(0, serialize_layer(inp.node.layer))
        config["build_input_shape"] = list(inp.shape)
        entry["build_config"] = {"input_shape": list(inp.shape)}
    return entry


def _tensor_entry(t: Any, history: dict) -> dict[str, Any]:
    node_index, tensor_index = history[id(t)]
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": t.dtype,
                       "keras_history": [t.node.layer.name, node_index, tensor_index]}}  # fmt: skip


def _encode(value: Any, history: dict) -> Any:
    if is_symbolic(value):
        return _tensor_entry(value, history)
    if isinstance(value, (list, tuple)):
        return [_encode(v, history) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, history) for k, v in value.items()}
    return value


def _functional_config(model: Model) -> dict[str, Any]:
    nodes = keras_graph.keras_nodes(model)
    order = keras_graph.keras_layer_order(nodes, model.inputs, model.outputs)
    history = keras_graph.node_indices(nodes)
    by_layer = keras_graph.calls_by_layer(nodes)
    layers = []
    for layer in order:
        entry = _layer_entry(layer)
        calls = by_layer.get(id(layer), [])
        if "build_config" in entry and calls and "initial_state" in calls[0].kwargs:
            entry["build_config"] = {"shapes_dict": {  # Keras: build(sequences, initial_state)
                "sequences_shape": list(calls[0].args[0].shape),
                "initial_state_shape": _map_structure(calls[0].kwargs["initial_state"],
                                                      lambda t: list(t.shape)),
            }}  # fmt: skip
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": _encode(n.args, history), "kwargs": _encode(n.kwargs, history)}
            for n in by_layer.get(id(layer), [])
            if not n.is_input
        ]
        layers.append(entry)

    def io(struct: Any) -> Any:
        if is_symbolic(struct):
            return _tensor_entry(struct, history)["config"]["keras_history"]
        if isinstance(struct, dict):
            return {k: io(v) for k, v in struct.items()}
        return [io(s) for s in struct]

    config = {"name": model.name, "trainable": model.trainable, "layers": layers,
              "input_layers": io(model._input_struct),
              "output_layers": io(model._output_struct)}  # fmt: skip
    return {"module": FUNCTIONAL_MODULE, "class_name": "Functional", "config": config,
            "registered_name": "Functional", "build_config": {"input_shape": None}}  # fmt: skip


def _map_structure(value: Any, fn: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_map_structure(v, fn) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _map_structure(v, fn) for k, v in value.items()}
    return fn(value)


def compile_config(model: Any) -> dict[str, Any]:
    args = getattr(model, "_compile_args", None)
    if args is None or model.optimizer is None:
        return {}
    metrics = _map_structure(args["metrics"], metrics_mod.serialize) or None
    weighted = _map_structure(args.get("weighted_metrics"), metrics_mod.serialize) or None
    return {
        "optimizer": optimizers_mod.serialize(model.optimizer),
        "loss": _map_structure(args["loss"], losses_mod.serialize),
        "loss_weights": args["loss_weights"],
        "metrics": metrics,
        "weighted_metrics": weighted,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": True,
    }


# ----- Keras -> lstmkit ---------------------------------------------------------------------------
class _NotReady(Exception):
    """A node's input comes from a call not replayed yet."""


def model_from_config(config: Any, custom_objects: dict | None = None) -> Model:
    """An lstmkit model (uncompiled, freshly initialized) from `config.json`'s content."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError("config.json does not hold a serialized Keras model.")
    class_name = config.get("class_name")
    inner = config["config"]
    if class_name == "Sequential":
        return _sequential_from_config(inner, custom_objects)
    if class_name in ("Functional", "Model") and "layers" in inner:
        return _functional_from_config(inner, custom_objects)
    cls = custom_class(config, custom_objects)
    if isinstance(cls, type) and issubclass(cls, Model):
        return _subclassed_from_config(cls, config, custom_objects)
    raise UnsafeOrUnknownError(
        f"Unknown model class {class_name!r} (module {config.get('module')!r}): a subclassed "
        f"model loads only through custom_objects={{{class_name!r}: {class_name}}} or "
        "lstmkit.saving.register_keras_serializable (lstmkit never imports code from a file)."
    )


def _subclassed_from_config(cls: type, config: dict, custom_objects: dict | None) -> Model:
    """A user's Model subclass: from_config, then built on the recorded input shape."""
    inner = resolve_objects(config["config"], custom_objects, f"model {cls.__name__}")
    model = cls.from_config(inner)
    shape = (config.get("build_config") or {}).get("input_shape")
    if shape is None:
        raise ValueError(f"Model {cls.__name__}: config.json has no build_config input_shape; "
                         "the model cannot be built to receive its weights.")  # fmt: skip
    model.build(tuple(shape) if shape and not isinstance(shape[0], list)
                else [tuple(s) for s in shape])  # fmt: skip
    return model


def _layer_from_entry(entry: Any, custom_objects: dict | None) -> Any:
    """A layer, or a Sequential / functional model nested as a layer (Keras's model entry)."""
    if isinstance(entry, dict) and isinstance(entry.get("config"), dict):
        name, module = entry.get("class_name"), entry.get("module")
        if (name == "Sequential" and module in ("keras", "keras.models", None)) or (
            name == "Functional" and module in (FUNCTIONAL_MODULE, "keras", None)
        ):
            return model_from_config(entry, custom_objects)
    return deserialize_layer(entry, custom_objects)


def _sequential_from_config(config: dict, custom_objects: dict | None) -> Sequential:
    model = Sequential(name=config.get("name"))
    for entry in config.get("layers", []):
        model.add(_layer_from_entry(entry, custom_objects))
    shape = config.get("build_input_shape")
    if not model._graph_ready and isinstance(shape, list) and model.layers:
        model.build(tuple(shape))
    if config.get("trainable") is False:
        model.trainable = False
    return model


def _decode(value: Any, outputs: dict[str, list]) -> Any:
    """Node arguments with `__keras_tensor__` entries replaced by the tensors replayed so far."""
    if isinstance(value, (list, tuple)):  # tuples: a config straight from Keras's get_config
        return [_decode(v, outputs) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("class_name") == "__keras_tensor__":
        name, node_index, tensor_index = value["config"]["keras_history"]
        if name not in outputs:
            raise ValueError(f"A node refers to unknown layer {name!r}.")
        if node_index >= len(outputs[name]):
            raise _NotReady
        return outputs[name][node_index][tensor_index]
    if value.get("class_name") == "__tuple__":
        return tuple(_decode(v, outputs) for v in value["config"]["value"])
    return {k: _decode(v, outputs) for k, v in value.items()}


def _replay(layer: Any, node_data: Any, outputs: dict[str, list]) -> list:
    if not isinstance(node_data, dict):
        raise ValueError(f"Layer '{layer.name}': unsupported (legacy) node format {node_data!r}.")
    args = _decode(node_data.get("args", []), outputs)
    kwargs = _decode(node_data.get("kwargs", {}), outputs)
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError(f"Layer '{layer.name}': malformed node {node_data!r}.")
    if type(layer).__name__ == "NotEqualOp" and len(args) == 2:
        args, kwargs = args[:1], {**kwargs, "value": args[1]}
    if type(layer).__name__ == "LogicalOrOp" and len(args) == 2:  # logical_or(a, b)
        args = [list(args)]
    if (len(args) > 1 and layer.keras_style) or layer.positional_inputs:  # call(query, value)
        return tree_leaves(layer(*args, **{k: v for k, v in kwargs.items() if k != "mask"}))
    if len(args) != 1:
        raise ValueError(f"Layer '{layer.name}': calls with {len(args)} positional arguments "
                         "are not supported.")  # fmt: skip
    # Keras's model-level `training` overrides the one recorded at a node; lstmkit's does not.
    if not kwargs.get("training"):
        kwargs.pop("training", None)
    if kwargs.get("mask", 0) is None:
        kwargs.pop("mask")
    return tree_leaves(layer(args[0], **kwargs))


def _functional_from_config(config: dict, custom_objects: dict | None) -> Model:
    entries = config["layers"]
    created: dict[str, Any] = {}
    pending: dict[str, list] = {}
    outputs: dict[str, list] = {}
    for entry in entries:
        layer = _layer_from_entry(entry, custom_objects)
        name = entry.get("name", layer.name)
        if name in created:
            raise ValueError(f"Two layers are named {name!r} in config.json.")
        layer.name = name
        created[name], outputs[name] = layer, []
        if isinstance(layer, InputLayer):
            outputs[name].append([layer.output])
        pending[name] = list(entry.get("inbound_nodes") or [])
    while any(pending.values()):
        progress = False
        for name in list(created):
            while pending[name]:
                try:
                    outs = _replay(created[name], pending[name][0], outputs)
                except _NotReady:
                    break
                outputs[name].append(outs)
                pending[name].pop(0)
                progress = True
        if not progress:
            stuck = sorted(n for n, p in pending.items() if p)
            raise ValueError(f"config.json: the graph cannot be rebuilt (a loop, or missing "
                             f"layers); unresolved calls of {stuck}.")  # fmt: skip

    def io(struct: Any) -> Any:
        if isinstance(struct, list) and len(struct) == 3 and isinstance(struct[0], str):
            name, node_index, tensor_index = struct
            if name not in outputs or node_index >= len(outputs[name]):
                raise ValueError(f"config.json: model input/output names unknown layer {name!r}.")
            return outputs[name][node_index][tensor_index]
        if isinstance(struct, dict):
            return {k: io(v) for k, v in struct.items()}
        return [io(s) for s in struct]

    inputs, outs = io(config["input_layers"]), io(config["output_layers"])
    model = Model(inputs, outs, name=config.get("name"))
    if config.get("trainable") is False:  # (setting True would unfreeze frozen layers)
        model.trainable = False
    return keras_graph.without_mask_ops(model)


def compile_from_config(model: Model, config: Any, custom_objects: dict | None) -> bool:
    """Compile `model` as the file says; False if the file holds no compile configuration."""
    if not isinstance(config, dict) or not config or config.get("optimizer") is None:
        return False
    where = "compile_config"

    def objects(key: str, get: Any) -> Any:
        """Serialized losses/metrics -> objects; names and per-output lists/dicts kept."""
        value = resolve_objects(config.get(key), custom_objects, where)
        return _map_structure(value, lambda v: get(v) if isinstance(v, dict) else v)

    try:
        loss = objects("loss", losses_mod.get)
        if loss is None:
            return False
        model.compile(
            optimizer=optimizers_mod.get(
                resolve_objects(config["optimizer"], custom_objects, where)
            ),
            loss=loss,
            loss_weights=config.get("loss_weights"),
            metrics=objects("metrics", metrics_mod.get),
            weighted_metrics=objects("weighted_metrics", metrics_mod.get),
        )
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"The file's compile configuration cannot be restored ({e}). Pass the missing "
            "objects in custom_objects, or load with compile=False and compile yourself."
        ) from e
    return True
