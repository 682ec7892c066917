"""Keras 3's files: `.keras` (a zip of config.json, metadata.json, model.weights.h5) and
`.weights.h5`, written by `model.save` / `model.save_weights` and read by `load_model` /
`model.load_weights`, interchangeable with Keras 3's own.

- **Same format as Keras.** config.json is Keras's serialized model (model_config.py, config.py),
  the weights are Keras's HDF5 layout (h5_weights.py), the optimizer's state is Keras's list of
  optimizer variables (optimizer_vars.py), so training resumes exactly where it stopped.
- **Atomic.** A file is written to a temporary file in the same folder and moved into place with
  `os.replace`: a crash or a kill at any moment leaves the previous file or the new one, whole.
- **Safe to open.** Nothing from a file runs as code (no pickle, no eval, no Lambda); unknown
  classes are errors naming them; zip members must be plain names inside the archive; every
  weight is checked (presence, count, shape, dtype, and the checksum lstmkit writes) before any
  is assigned, so a failed `load_weights` leaves the model as it was. A member declaring more
  bytes than its model can hold is refused before it is read (zipfile never inflates past the
  declared size), and any damage surfaces as `KerasFileError` naming the file and the part
  (`tests/saving/test_fuzz_files.py` mutates valid files a thousand times).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import io
import json
import os
import posixpath
import zipfile
from collections.abc import Callable
from typing import Any

import h5py

from lstmkit.layers.lambda_layer import safe_mode_scope
from lstmkit.models import distributed
from lstmkit.saving import h5_weights, model_config, optimizer_vars, preprocessing_files
from lstmkit.saving.file_errors import KerasFileError, read_member
from lstmkit.saving.h5_weights import WeightFileError
from lstmkit.utils.file_utils import atomic_write

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
KERAS_VERSION = "3.15.1"  # the Keras 3 release whose format this writes (and is tested against)
MAX_CONFIG_BYTES = 32 << 20  # a large model's config is a few hundred kB


# ----- writing ------------------------------------------------------------------------------------
def _weights_bytes(model: Any) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", libver=h5_weights.LIBVER) as f:
        h5_weights.write_weights(f, model, optimizer_vars.to_keras(model))
    return buffer.getvalue()


def _check_path(filepath: Any, suffix: str, what: str) -> str:
    path = os.fspath(filepath)
    if not str(path).endswith(suffix):
        raise ValueError(f"{what}: the file name must end in `{suffix}`. Received: {path!r}")
    return path


def save_model(model: Any, filepath: Any, overwrite: bool = True, **kwargs: Any) -> None:
    """`model.save("m.keras")`: config, weights and optimizer state in Keras 3's `.keras` zip."""
    if kwargs.pop("zipped", True) is False:
        raise ValueError("save: only zipped `.keras` files are supported.")
    if kwargs:
        raise TypeError(f"save: unexpected keyword argument(s) {sorted(kwargs)}.")
    path = _check_path(filepath, ".keras", "save")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save: {path!r} exists and overwrite=False.")
    if not distributed.writes_files(model):  # several processes: process 0 writes
        return
    metadata = json.dumps({
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "lstmkit_version": _lstmkit_version(),
    })  # fmt: skip
    if preprocessing_files.is_preprocessing_layer(model):  # a lone vectorizer, as Keras allows
        return preprocessing_files.write(model, metadata, atomic_write, path)
    config = json.dumps(model_config.serialize_model(model))
    weights = _weights_bytes(model)

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA, metadata)
            zf.writestr(CONFIG, config)
            zf.writestr(WEIGHTS, weights)

    atomic_write(path, write)


def save_weights(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """`model.save_weights("m.weights.h5")`: Keras 3's HDF5 layout (optimizer state included)."""
    path = _check_path(filepath, ".weights.h5", "save_weights")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights: {path!r} exists and overwrite=False.")
    _require_built(model, "save_weights")
    if not distributed.writes_files(model):  # several processes: process 0 writes
        return
    data = _weights_bytes(model)
    atomic_write(path, lambda f: f.write(data))


def _lstmkit_version() -> str:
    try:
        return importlib.metadata.version("lstmkit")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown"


def _require_built(model: Any, what: str) -> None:
    if not getattr(model, "_graph_ready", True):
        raise ValueError(
            f"Model '{model.name}' is not built yet: call it on data (or give it an Input) "
            f"before {what}()."
        )


# ----- reading ------------------------------------------------------------------------------------
def _open_zip(path: str) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(path, "r")
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise KerasFileError(f"{path}: not a readable .keras file (zip archive): {e}.") from e
    for name in zf.namelist():
        parts = name.replace("\\", "/").split("/")
        if (
            name.startswith(("/", "\\"))
            or posixpath.isabs(name)
            or ".." in parts
            or (len(name) > 1 and name[1] == ":")
        ):
            zf.close()
            raise KerasFileError(
                f"{path}: archive entry {name!r} would land outside the archive (absolute path "
                "or '..'); refusing to open the file."
            )
    return zf


def _open_h5(data: Any, where: str) -> h5py.File:
    try:
        return h5py.File(data, "r")
    except Exception as e:  # h5py raises several kinds on a damaged superblock
        raise KerasFileError(
            f"{where}: not a readable HDF5 file ({e}); truncated or corrupt?"
        ) from e


def _read_optimizer(f: h5py.File, model: Any, where: str) -> list | None:
    group = h5_weights.safe_group(f, "optimizer/vars", where)
    if group is None:
        return None
    keys = [k for k in group.keys() if k.isdigit()]
    return [h5_weights.read_dataset(group, str(i), None, where) for i in range(len(keys))]


def _read_into(f: h5py.File, model: Any, where: str, skip_mismatch: bool = False) -> Callable:
    """Read and check everything from an open weights file; return the function that assigns."""
    try:
        leaves = h5_weights.read_weights(f, model, where, skip_mismatch)
        opt = None
        if getattr(model, "_compile_args", None) is not None and model.optimizer is not None:
            values = _read_optimizer(f, model, where)
            opt = optimizer_vars.from_keras(model, values, where)
    except WeightFileError as e:
        raise KerasFileError(str(e)) from e
    except Exception as e:  # h5py raises several kinds on damaged metadata
        raise KerasFileError(f"{where}: the weights cannot be read ({e}); damaged file?") from e

    def assign() -> None:
        model.set_weights(leaves)
        if opt is not None:
            optimizer_vars.assign(model, *opt)
        distributed.distribute_model(model)  # replicated or split as a distribution says

    return assign


def load_model(filepath: Any, custom_objects: dict | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:  # fmt: skip
    """Open a `.keras` file (Keras 3's or lstmkit's): the model, its weights, and, with
    `compile=True`, its compile settings and optimizer state.

    Custom layers, activations, losses... load only through `custom_objects={"Name": obj}`.
    Loading never runs code from the file unless the caller says `safe_mode=False`: then, as
    in Keras, a `Lambda` layer's Python lambda (bytecode) is loaded; other lambdas are refused.
    """
    path = os.fspath(filepath)
    if not str(path).endswith(".keras"):
        raise ValueError(f"load_model: expected a `.keras` file, got {path!r}.")
    with _open_zip(path) as zf:
        raw = read_member(zf, path, CONFIG, MAX_CONFIG_BYTES)
        try:
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise KerasFileError(f"{path}: '{CONFIG}' is not valid JSON ({e}).") from e
        if not isinstance(config, dict):
            raise KerasFileError(f"{path}: '{CONFIG}' holds a {type(config).__name__}, not a "
                                 "model's config (a JSON object).")  # fmt: skip
        if preprocessing_files.is_preprocessing_config(config):
            try:
                return preprocessing_files.read(zf, path, config)
            except Exception as e:  # damage anywhere in the layer's config or assets
                raise KerasFileError(f"{path}: {type(e).__name__}: {e}") from e
        try:
            with safe_mode_scope(safe_mode):
                model = model_config.model_from_config(config, custom_objects)
            if compile:
                compile_config = config.get("compile_config")
                model_config.compile_from_config(model, compile_config, custom_objects)
        except KerasFileError:
            raise
        except Exception as e:  # a damaged config fails anywhere in building; it is the file's
            raise KerasFileError(f"{path}: {CONFIG}: {type(e).__name__}: {e}") from e
        weights = read_member(zf, path, WEIGHTS, h5_weights.weights_bytes_limit(model))
    with _open_h5(io.BytesIO(weights), f"{path}/{WEIGHTS}") as f:
        assign = _read_into(f, model, f"{path}/{WEIGHTS}")
    assign()
    return model


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False) -> None:
    """Load `.weights.h5` (or a `.keras` file's weights) into `model`, all checked first."""
    path = os.fspath(filepath)
    _require_built(model, "load_weights")
    if str(path).endswith(".keras"):
        with _open_zip(path) as zf:
            limit = h5_weights.weights_bytes_limit(model)
            data, where = io.BytesIO(read_member(zf, path, WEIGHTS, limit)), f"{path}/{WEIGHTS}"
    elif str(path).endswith(".weights.h5"):
        if not os.path.exists(path):
            raise FileNotFoundError(f"load_weights: no such file {path!r}.")
        data, where = path, path
    else:
        raise ValueError(f"load_weights: expected a `.weights.h5` or `.keras` file, got {path!r}.")
    with _open_h5(data, where) as f:
        assign = _read_into(f, model, where, skip_mismatch)
    assign()
