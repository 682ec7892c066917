"""`.keras` files holding one preprocessing layer (TextVectorization, StringLookup, IntegerLookup).

Keras's `save_model` takes any saveable object, a lone layer included; these layers cannot sit in
a jitted model (they run in numpy on the host), so a vectorizer is saved on its own, in Keras's
layout: `config.json` (the serialized layer), `model.weights.h5` (an empty `vars` group per
saveable, named), and the vocabulary in the archive's assets: `assets/vocabulary.txt` and, for
TextVectorization, its inner lookup's `assets/_lookup_layer/vocabulary.txt` too, as Keras walks
both. A vocabulary given to the constructor stays in the config and writes no asset, as Keras.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from typing import Any

import h5py

from lstmkit.layers.index_lookup import VOCABULARY_FILE, IndexLookup, IntegerLookup, StringLookup
from lstmkit.layers.text_vectorization import TextVectorization
from lstmkit.saving.file_errors import read_member

LAYERS: dict[str, type] = {
    "TextVectorization": TextVectorization,
    "StringLookup": StringLookup,
    "IntegerLookup": IntegerLookup,
}
MAX_VOCABULARY_BYTES = 1 << 30


def is_preprocessing_layer(obj: Any) -> bool:
    return isinstance(obj, (TextVectorization, IndexLookup))


def is_preprocessing_config(config: Any) -> bool:
    return isinstance(config, dict) and config.get("class_name") in LAYERS


def _saveables(layer: Any) -> list[tuple[str, Any]]:
    """(inner path, object) as Keras's saving walk visits them."""
    inner = getattr(layer, "_lookup_layer", None)
    return [("", layer)] + ([("_lookup_layer", inner)] if inner is not None else [])


def _weights_bytes(layer: Any) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for inner, obj in _saveables(layer):
            group = f.create_group(f"{inner}/vars" if inner else "vars")
            group.attrs["name"] = obj.name
    return buffer.getvalue()


def write(layer: Any, metadata: str, atomic_write: Callable, path: str) -> None:
    """Write `layer` to the `.keras` file at `path` (through the caller's atomic writer)."""
    config = {
        "module": "keras.layers", "class_name": type(layer).__name__,
        "config": layer.get_config(), "registered_name": None,
    }  # fmt: skip
    weights = _weights_bytes(layer)
    with tempfile.TemporaryDirectory() as tmp:
        assets = []
        for inner, obj in _saveables(layer):
            folder = os.path.join(tmp, inner)
            os.makedirs(folder, exist_ok=True)
            obj.save_assets(folder)
            file = os.path.join(folder, VOCABULARY_FILE)
            if os.path.exists(file):
                member = "/".join(p for p in ("assets", inner, VOCABULARY_FILE) if p)
                with open(file, "rb") as f:
                    assets.append((member, f.read()))

    def fill(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("metadata.json", metadata)
            zf.writestr("config.json", json.dumps(config))
            zf.writestr("model.weights.h5", weights)
            for member, data in assets:
                zf.writestr(member, data)

    atomic_write(path, fill)


def read(zf: zipfile.ZipFile, path: str, config: dict) -> Any:
    """The layer a `.keras` file holds: built from its config, vocabulary from its assets."""
    cls = LAYERS[config["class_name"]]
    settings = config.get("config")
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: config.json: the layer's 'config' must be a dict.")
    layer = cls.from_config(dict(settings))
    names = set(zf.namelist())
    candidates = (f"assets/{VOCABULARY_FILE}", f"assets/_lookup_layer/{VOCABULARY_FILE}")
    member = next((m for m in candidates if m in names), None)
    if member is None:
        return layer  # a vocabulary from the config, or none yet
    vocabulary = read_member(zf, path, member, MAX_VOCABULARY_BYTES)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, VOCABULARY_FILE), "wb") as f:
            f.write(vocabulary)
        layer.load_assets(tmp)
    return layer
