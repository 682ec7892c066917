"""Weights to and from Keras 3's HDF5 layout (`model.weights.h5` in a `.keras` zip, `.weights.h5`).

Keras walks the model object: the model's own `vars`, then `layers/<snake class>[_k]` for each
layer of `model.layers` (numbered per class in Keras's layer order; a nested model's own layers
under `layers/functional/layers/...`), then each layer's sub-layers
by attribute (`cell`, `forward_layer`, `backward_layer`, `layer`, `cells/<snake class>[_k]`), then
`optimizer`. Every object gets a group `<path>/vars` carrying its `name` as an attribute, holding
its own variables as datasets `"0"`, `"1"`, ... in creation order::

    layers/lstm/cell/vars/0                  LSTM kernel
    layers/bidirectional/forward_layer/cell/vars/1
    optimizer/vars/0                         iterations

Reading checks everything before returning anything: groups present, variable counts, shapes,
numeric data, and no links out of the file (external/soft links, external or virtual datasets).

Damage is detected, not loaded: lstmkit writes HDF5's checksummed metadata format (object
headers and group indexes carry checksums since HDF5 1.8) and a CRC-32 of each dataset's bytes
as an attribute (`lstmkit_crc32`, ignored by Keras), so a flipped bit anywhere that matters is an
error rather than a wrong number. Files written by Keras carry no data checksum; inside a `.keras`
zip the archive's own CRC covers them.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import h5py
import numpy as np

from lstmkit.layers.cells import StackedRNNCells
from lstmkit.naming import to_snake_case
from lstmkit.saving.keras_graph import model_layer_order

CHECKSUM = "lstmkit_crc32"
LIBVER = "v108"  # the oldest HDF5 file format with checksummed metadata (HDF5 1.8, h5py 2.x+)


class WeightFileError(ValueError):
    """A weights file that does not fit the model, or is not a safe, well-formed HDF5 file."""


def _unique(name: str, used: dict[str, int]) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _walk(layer: Any, path: str) -> list[tuple[str, Any]]:
    out = [(path, layer)]
    if isinstance(layer, StackedRNNCells):
        used: dict[str, int] = {}
        for cell in layer.cells:
            name = _unique(to_snake_case(type(cell).__name__), used)
            out += _walk(cell, f"{path}/cells/{name}")
        return out
    for key, sub in layer._sublayers.items():
        out += _walk(sub, f"{path}/{key}")
    return out


def _subclassed_entries(model: Any) -> list[tuple[str, Any]]:
    """A subclassed model's walk, as Keras's: attributes in sorted order (private ones last),
    `layers` among them holding every direct sub-layer not reached yet, as `layers/<class>`
    (names counted over all of them, reached or not)."""
    entries: list[tuple[str, Any]] = [("", model)]
    seen: set[int] = set()
    attrs = {k.split("/")[0] for k in model._sublayers} | {"layers"}
    for attr in sorted(attrs, key=lambda a: f"~{a}" if a.startswith("_") else a):
        if attr == "layers":
            used: dict[str, int] = {}
            for layer in model._sublayers.values():
                name = _unique(to_snake_case(type(layer).__name__), used)
                if id(layer) not in seen:
                    seen.add(id(layer))
                    entries += _walk(layer, f"layers/{name}")
            continue
        for key, layer in model._sublayers.items():
            if key.split("/")[0] == attr and id(layer) not in seen:
                seen.add(id(layer))
                entries += _walk(layer, key)
    return entries


def layer_entries(model: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(group path, object) for the model and every (sub-)layer, as Keras's saving walk; a
    nested Sequential or functional model walks its own layers under `layers/<sequential |
    functional>[_k]/layers/...`."""
    if getattr(model, "keras_style", False):
        return _subclassed_entries(model)
    entries = [(prefix, model)]
    used: dict[str, int] = {}
    for layer in model_layer_order(model):
        # a nested Sequential / functional model (a subclassed one is walked as a layer)
        nested = hasattr(layer, "_graph_ready") and not layer.keras_style
        cls = type(layer).__name__
        cls = "Functional" if nested and cls == "Model" else cls  # Keras's functional class
        path = f"{prefix}/layers/" if prefix else "layers/"
        path += _unique(to_snake_case(cls), used)
        entries += layer_entries(layer, path) if nested else _walk(layer, path)
    return entries


def leaf_owners(layer: Any) -> list[tuple[Any, str]]:
    """(layer, weight name) for each leaf of `layer.params`, in `get_weights()` order."""
    out = [(layer, k) for k in layer._weights]
    for sub in layer._sublayers.values():
        out += leaf_owners(sub)
    return out


def weights_bytes_limit(model: Any) -> int:
    """The most bytes a weights file of `model` can sensibly hold: its weights, up to five
    optimizer slots each (Adam with amsgrad and EMA has four), and room for HDF5's metadata.
    A zip member or dataset declaring more is refused before anything is read."""
    weights = sum(
        math.prod(layer._weights[k].shape) * np.dtype(layer._weights[k].dtype).itemsize
        for layer, k in leaf_owners(model)
    )
    return 6 * weights + (16 << 20)


def _group_path(path: str) -> str:
    return f"{path}/vars" if path else "vars"


def _crc(array: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(array).tobytes())


def _write_vars(group: h5py.Group, values: Any) -> None:
    for i, v in enumerate(values):
        v = np.asarray(v)
        group.create_dataset(str(i), data=v).attrs[CHECKSUM] = np.uint32(_crc(v))


def write_weights(f: h5py.File, model: Any, optimizer_vars: list | None = None) -> None:
    """Write the model's weights (and the optimizer's variables, if given) into an open file
    (opened with `libver=LIBVER`, so that its metadata carries checksums)."""
    for path, layer in layer_entries(model):
        group = f.create_group(_group_path(path))
        group.attrs["name"] = layer.name
        _write_vars(group, layer._weights.values())
    if optimizer_vars is not None:
        group = f.create_group("optimizer/vars")
        group.attrs["name"] = model.optimizer.name
        _write_vars(group, optimizer_vars)


# ----- safe reading -------------------------------------------------------------------------------
def safe_group(f: h5py.File, path: str, where: str) -> h5py.Group | None:
    """The group at `path`, or None if absent; links leaving the file are refused."""
    current: Any = f
    for part in path.split("/"):
        if part not in current:
            return None
        link = current.get(part, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise WeightFileError(f"{where}: '{path}' is a {type(link).__name__}; links are "
                                  "not allowed in weight files.")  # fmt: skip
        current = current[part]
        if not isinstance(current, h5py.Group):
            raise WeightFileError(f"{where}: '{path}' should be a group.")
    return current


def read_dataset(group: h5py.Group, key: str, shape: tuple | None, where: str) -> np.ndarray:
    """Dataset `key` of `group` as an array, after checking it is safe and has `shape`."""
    path = f"{group.name.lstrip('/')}/{key}"
    if key not in group:
        raise WeightFileError(f"{where}: missing dataset '{path}'.")
    link = group.get(key, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise WeightFileError(f"{where}: '{path}' is a {type(link).__name__}; not allowed.")
    ds = group[key]
    if not isinstance(ds, h5py.Dataset):
        raise WeightFileError(f"{where}: '{path}' should be a dataset.")
    if ds.external or ds.is_virtual:
        raise WeightFileError(f"{where}: '{path}' stores its data outside the file; refused.")
    if ds.dtype.kind not in "biuf":
        raise WeightFileError(f"{where}: '{path}' holds {ds.dtype} data, not numbers.")
    if shape is not None and tuple(ds.shape) != tuple(shape):
        raise WeightFileError(
            f"{where}: '{path}' has shape {tuple(ds.shape)}, the model expects {tuple(shape)}."
        )
    if math.prod(ds.shape) * ds.dtype.itemsize > 1 << 34:
        raise WeightFileError(f"{where}: '{path}' declares an implausibly large array.")
    try:
        value = np.asarray(ds[()])
        expected = ds.attrs.get(CHECKSUM)
    except Exception as e:  # h5py raises several kinds on truncated or corrupt storage
        raise WeightFileError(
            f"{where}: '{path}' cannot be read ({e}); the file is damaged."
        ) from e
    if expected is not None and int(expected) != _crc(value):
        raise WeightFileError(f"{where}: '{path}' does not match its checksum; damaged file.")
    return value


def read_group_vars(f: h5py.File, path: str, shapes: list[tuple], where: str) -> list | None:
    """The variables `0..n-1` under `<path>/vars`, checked against `shapes`; None if absent."""
    group = safe_group(f, _group_path(path), where)
    if group is None:
        return None
    keys = sorted(group.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    if keys != [str(i) for i in range(len(shapes))]:
        raise WeightFileError(
            f"{where}: '{_group_path(path)}' holds variables {keys}, expected {len(shapes)} "
            f"({', '.join(str(tuple(s)) for s in shapes)})."
        )
    return [read_dataset(group, str(i), s, where) for i, s in enumerate(shapes)]


def read_weights(f: h5py.File, model: Any, where: str, skip_mismatch: bool = False) -> list:
    """New values for `model.get_weights()`, read and checked; nothing is assigned here.

    With `skip_mismatch`, a layer whose variables do not fit keeps its current values (warned).
    """
    import warnings

    found: dict[tuple[int, str], np.ndarray] = {}
    for path, layer in layer_entries(model):
        names = list(layer._weights)
        if not names:
            continue
        shapes = [tuple(layer._weights[k].shape) for k in names]
        label = f"{where}, layer '{layer.name}' ({type(layer).__name__})"
        try:
            values = read_group_vars(f, path, shapes, label)
            if values is None:
                raise WeightFileError(
                    f"{label}: no group '{_group_path(path)}' in the file; it does not hold "
                    "this layer's weights (a different architecture?)."
                )
        except WeightFileError as e:
            if not skip_mismatch:
                raise
            warnings.warn(f"Skipping weights of layer '{layer.name}': {e}", stacklevel=3)
            values = [np.asarray(layer._weights[k]) for k in names]
        for k, v in zip(names, values):
            found[(id(layer), k)] = v
    return [found[(id(layer), k)] for layer, k in leaf_owners(model)]
