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
  weight is checked (presence, count, shape, dtype) before any is assigned, so a failed
  `load_weights` leaves the model as it was.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import io
import json
import os
import posixpath
import tempfile
import zipfile
from collections.abc import Callable
from typing import Any

import h5py

from lstmkit.models import distributed
from lstmkit.saving import h5_weights, model_config, optimizer_vars
from lstmkit.saving.h5_weights import WeightFileError

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
KERAS_VERSION = "3.15.1"  # the Keras 3 release whose format this writes (and is tested against)
MAX_CONFIG_BYTES = 256 << 20


class KerasFileError(ValueError):
    """A `.keras` or `.weights.h5` file that cannot be read safely, or does not fit."""


# ----- writing ------------------------------------------------------------------------------------
def _new_file_mode(path: str) -> int:
    """The mode a plain `open(path, "w")` would give (mkstemp's files are private, 0o600)."""
    try:
        return os.stat(path).st_mode & 0o777  # keep an existing file's mode
    except OSError:
        pass
    try:  # the umask without changing it (os.umask would, briefly, for every thread)
        with open("/proc/self/status") as f:
            umask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Write a file through `write(fileobj)` into a temporary file beside `path`, then rename.

    `os.replace` is atomic on POSIX and Windows: readers (and a crash at any point) see either
    the old file or the complete new one, never a partial file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _weights_bytes(model: Any) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
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
    config = json.dumps(model_config.serialize_model(model))
    metadata = json.dumps({
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "lstmkit_version": _lstmkit_version(),
    })  # fmt: skip
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
    except (zipfile.BadZipFile, OSError, EOFError) as e:
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


def _read_member(zf: zipfile.ZipFile, path: str, name: str, limit: int | None = None) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise KerasFileError(f"{path}: the archive has no '{name}'; it is incomplete or not "
                             "a Keras 3 model file.") from None  # fmt: skip
    if limit is not None and info.file_size > limit:
        raise KerasFileError(f"{path}: '{name}' declares {info.file_size} bytes; too large.")
    if info.file_size > (1 << 32) and info.file_size > 100 * max(info.compress_size, 1):
        raise KerasFileError(f"{path}: '{name}' would expand {info.file_size} bytes from "
                             f"{info.compress_size}; refusing a decompression bomb.")  # fmt: skip
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise KerasFileError(f"{path}: '{name}' is truncated or corrupt ({e}).") from e


def _open_h5(data: Any, where: str) -> h5py.File:
    try:
        return h5py.File(data, "r")
    except (OSError, ValueError) as e:
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
    except (OSError, KeyError, RuntimeError) as e:  # h5py on damaged metadata
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
    Loading never runs code from the file, whatever `safe_mode` says (it is accepted for
    Keras compatibility; lambdas are refused either way).
    """
    path = os.fspath(filepath)
    if not str(path).endswith(".keras"):
        raise ValueError(f"load_model: expected a `.keras` file, got {path!r}.")
    with _open_zip(path) as zf:
        raw = _read_member(zf, path, CONFIG, MAX_CONFIG_BYTES)
        try:
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise KerasFileError(f"{path}: '{CONFIG}' is not valid JSON ({e}).") from e
        weights = _read_member(zf, path, WEIGHTS)
    try:
        model = model_config.model_from_config(config, custom_objects)
        if compile:
            model_config.compile_from_config(model, config.get("compile_config"), custom_objects)
    except (ValueError, TypeError, KeyError) as e:
        raise KerasFileError(f"{path}: {CONFIG}: {e}") from e
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
            data, where = io.BytesIO(_read_member(zf, path, WEIGHTS)), f"{path}/{WEIGHTS}"
    elif str(path).endswith(".weights.h5"):
        if not os.path.exists(path):
            raise FileNotFoundError(f"load_weights: no such file {path!r}.")
        data, where = path, path
    else:
        raise ValueError(f"load_weights: expected a `.weights.h5` or `.keras` file, got {path!r}.")
    with _open_h5(data, where) as f:
        assign = _read_into(f, model, where, skip_mismatch)
    assign()
