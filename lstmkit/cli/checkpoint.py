"""The character model and its checkpoint: one `.keras` file that holds everything.

The file is Keras 3's `.keras` zip (config, weights, optimizer state: `model.save`) with two more
members under `assets/`, where Keras keeps files that belong to a model:
- `assets/lstmkit_charlm.json`: the vocabulary, the settings, the corpus it was trained on and
  how far training got (epoch, step) — so `generate CHECKPOINT` needs nothing else;
- `assets/lstmkit_states.npz`: the LSTM states, only when training stopped inside an epoch, so
  `--resume` continues the streams exactly where they were.
The file is written beside its final name and moved into place (`os.replace`): an interrupted
save leaves the previous checkpoint whole.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from lstmkit import layers, losses, optimizers
from lstmkit.cli.corpus import Vocabulary
from lstmkit.cli.errors import CliError
from lstmkit.models import Sequential
from lstmkit.saving import load_model
from lstmkit.saving.file_errors import read_member

CHECKPOINT = "model.keras"
META = "assets/lstmkit_charlm.json"
MAX_ASSET_BYTES = 256 << 20  # the description and the carried states; far more than either needs
STATES = "assets/lstmkit_states.npz"
FORMAT = "lstmkit character model"


@dataclass
class Settings:
    """The model's sizes and the training settings fixed for a run's life."""

    units: int = 128
    layers: int = 2
    embedding: int = 64
    seq_length: int = 100
    batch_size: int = 32
    learning_rate: float = 0.002
    seed: int = 0


def build_model(vocab_size: int, s: Settings, batch_size: int) -> Sequential:
    """Embedding -> stacked stateful LSTMs returning sequences -> Dense logits over the vocabulary.

    Stateful layers need a fixed batch size: `s.batch_size` for training, 1 for generation."""
    stack: list[Any] = [
        layers.Input(batch_shape=(batch_size, None), dtype="int32", name="chars"),
        layers.Embedding(vocab_size, s.embedding, name="embedding"),
    ]
    for i in range(s.layers):
        stack.append(
            layers.LSTM(s.units, return_sequences=True, stateful=True, name=f"lstm_{i + 1}")
        )
    stack.append(layers.Dense(vocab_size, name="logits"))
    return Sequential(stack, name="char_lstm")


def compile_model(model: Sequential, s: Settings) -> None:
    model.compile(
        optimizer=optimizers.Adam(learning_rate=s.learning_rate),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
    )


def describe(model: Sequential, vocab_size: int, s: Settings) -> str:
    """One line: the layers and the parameter count."""
    lstms = f"{s.layers} x LSTM({s.units})" if s.layers > 1 else f"LSTM({s.units})"
    return (
        f"Embedding({vocab_size}, {s.embedding}) -> {lstms} -> Dense({vocab_size}), "
        f"{model.count_params():,} parameters"
    )


# ----- writing --------------------------------------------------------------------------------
def save_checkpoint(model: Sequential, directory: str, meta: dict, states: dict | None) -> str:
    """Write DIR/model.keras atomically: the model's `.keras` file plus the assets above."""
    final = os.path.join(directory, CHECKPOINT)
    partial = os.path.join(directory, f".partial-{os.getpid()}-{CHECKPOINT}")
    try:
        model.save(partial)
        with zipfile.ZipFile(partial, "a") as zf:
            zf.writestr(META, json.dumps(meta, indent=1))
            if states:
                buffer = io.BytesIO()
                arrays = {
                    f"{name}:{i:03d}": v for name, vs in states.items() for i, v in enumerate(vs)
                }
                np.savez(buffer, **arrays)
                zf.writestr(STATES, buffer.getvalue())
        with open(partial, "rb") as f:  # on disk before it takes the checkpoint's name
            os.fsync(f.fileno())
        os.replace(partial, final)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    return final


def new_meta(vocab: Vocabulary, s: Settings, corpus: dict) -> dict:
    return {
        "format": FORMAT,
        "version": 1,
        "vocabulary": vocab.chars,
        "settings": asdict(s),
        "corpus": corpus,
        "progress": {"epoch": 0, "step": 0, "global_step": 0},
        "logs": {},
    }


# ----- reading --------------------------------------------------------------------------------
def read_meta(path: str) -> tuple[dict, dict | None]:
    """The checkpoint's description and carried states, or a CliError saying what is wrong."""
    if not os.path.exists(path):
        raise CliError(f"no such checkpoint: {path}")
    if os.path.isdir(path):
        hint = os.path.join(path, CHECKPOINT)
        raise CliError(f"{path} is a directory; give the checkpoint file, e.g. {hint}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "config.json" not in names:
                raise CliError(f"{path} is a zip file but not a Keras model (.keras) file")
            if META not in names:
                raise CliError(
                    f"{path} is a Keras model but not a character model made by `lstmkit train` "
                    "(it holds no vocabulary)"
                )
            meta = json.loads(read_member(zf, path, META, MAX_ASSET_BYTES).decode("utf-8"))
            states = None
            if STATES in names:
                with np.load(io.BytesIO(read_member(zf, path, STATES, MAX_ASSET_BYTES))) as npz:
                    states = {}
                    for key in sorted(npz.files):  # "layer:000", "layer:001", ...
                        states.setdefault(key.rsplit(":", 1)[0], []).append(npz[key])
    except CliError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise CliError(f"{path} is not a checkpoint (.keras zip file): {e}") from None
    except Exception as e:  # damaged JSON or npz inside: zipfile, json and numpy raise many kinds
        raise CliError(f"{path}: the character model's description is damaged ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CliError(f"{path} is not a character model made by `lstmkit train`")
    _check_meta(meta, path)
    return meta, states


def _check_meta(meta: dict, path: str) -> None:
    """The description's parts have the types the code reads them with."""
    types = {f.name: f.type for f in fields(Settings)}
    settings, vocab = meta.get("settings"), meta.get("vocabulary")
    if not isinstance(vocab, str) or len(set(vocab)) != len(vocab) or not vocab:
        raise CliError(f"{path}: the vocabulary in its description is damaged")
    if (
        not isinstance(settings, dict)
        or not set(settings) <= set(types)
        or not all(
            type(v).__name__ == types[k] or (types[k] == "float" and type(v) is int)
            for k, v in settings.items()
        )
    ):
        raise CliError(f"{path}: the settings in its description are damaged ({settings!r:.200})")


def settings_of(meta: dict) -> Settings:
    return Settings(**meta["settings"])


def _load(path: str, compile: bool) -> Sequential:
    try:
        return load_model(path, compile=compile)
    except (ValueError, TypeError, KeyError, OSError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CliError(f"cannot load {path}: {first}") from None


def load_for_training(path: str) -> tuple[Sequential, dict, dict | None]:
    """The compiled model with its optimizer state, its description and its carried states."""
    meta, states = read_meta(path)
    model = _load(path, compile=True)
    _check_model(model, meta, path)
    return model, meta, states


def load_for_inference(path: str) -> tuple[Sequential, Vocabulary, dict]:
    """A batch-1 copy of the checkpoint's model (for one text at a time), and its vocabulary."""
    meta, _ = read_meta(path)
    trained = _load(path, compile=False)
    _check_model(trained, meta, path)
    vocab = Vocabulary(meta["vocabulary"])
    model = build_model(len(vocab), settings_of(meta), batch_size=1)
    try:
        model.set_weights(trained.get_weights())
    except ValueError as e:
        raise CliError(f"{path}: the model does not match its description ({e})") from None
    return model, vocab, meta


def _check_model(model: Any, meta: dict, path: str) -> None:
    s = settings_of(meta)
    expected = 2 + s.layers  # embedding, the LSTMs, the logits
    if len(model.layers) != expected or model.outputs[0].shape[-1] != len(meta["vocabulary"]):
        raise CliError(f"{path}: the model does not match its description (layers or vocabulary)")
