"""TensorBoard: event files of scalars per epoch and per batch, and weight histograms, written
with tensorboardX (the optional extra `lstmkit[tensorboard]`), in Keras 3's layout and tags.

`log_dir/train` holds `epoch_<metric>` (with `epoch_learning_rate`) at step = epoch,
`batch_<metric>` every `update_freq` batches at step = the global batch count, and
`<weight path>/histogram` every `histogram_freq` epochs; `log_dir/validation` holds the
`epoch_<metric>` of the validation logs (`val_` prefix removed). `write_graph` is accepted and
writes nothing: lstmkit has no TensorFlow graph to show.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from lstmkit.callbacks.callback import Callback

_NOT_LOADED = object()
SummaryWriter: Any = _NOT_LOADED  # tensorboardX's, once a TensorBoard is made; None if absent


def _writer_class() -> Any:
    """tensorboardX's SummaryWriter (the optional extra `lstmkit[tensorboard]`), or None.
    Imported on first use, not with lstmkit: tensorboardX imports torch, which doubled the time
    of `import lstmkit` (2.1 s instead of 1.0) and put torch's threads in every process."""
    global SummaryWriter
    if SummaryWriter is _NOT_LOADED:
        try:
            from tensorboardX import SummaryWriter as writer  # optional dependency, see above
        except ImportError:  # pragma: no cover - exercised only where tensorboardX is absent
            writer = None
        SummaryWriter = writer
    return SummaryWriter


class TensorBoard(Callback):
    """Keras 3's `TensorBoard(log_dir="logs", histogram_freq=0, write_graph=True,
    write_images=False, write_steps_per_second=False, update_freq="epoch", profile_batch=0,
    embeddings_freq=0, embeddings_metadata=None)`."""

    def __init__(
        self,
        log_dir: Any = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: str | int = "epoch",
        profile_batch: int = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: Any = None,
    ):
        super().__init__()
        if _writer_class() is None:
            raise ImportError(
                "TensorBoard needs the tensorboardX package to write event files: "
                "pip install 'lstmkit[tensorboard]' (or pip install tensorboardX)."
            )
        if update_freq not in ("epoch", "batch") and (
            not isinstance(update_freq, int) or isinstance(update_freq, bool) or update_freq < 1
        ):
            raise ValueError(
                "TensorBoard: `update_freq` must be 'epoch', 'batch' or a positive integer "
                f"(batches), got {update_freq!r}."
            )
        for name, value in (("write_images", write_images), ("profile_batch", profile_batch),
                            ("embeddings_freq", embeddings_freq)):  # fmt: skip
            if value:
                raise ValueError(f"TensorBoard: `{name}` is not supported by lstmkit (got "
                                 f"{value!r}); leave it at its default.")  # fmt: skip
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph  # nothing to write: no TensorFlow graph
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers: dict[str, Any] = {}
        self._global_train_batch = 0
        self._batch_start = 0.0
        self._epoch_start = (0.0, 0)

    def _writer(self, which: str) -> Any:
        """Created on first use, as Keras: no event file without something to write."""
        if which not in self._writers:
            path = self._train_dir if which == "train" else self._val_dir
            self._writers[which] = _writer_class()(logdir=path)
        return self._writers[which]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._global_train_batch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.write_steps_per_second:
            self._epoch_start = (time.time(), int(self.model.optimizer.iterations))

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._global_train_batch += 1
        self._batch_start = time.time()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = self._global_train_batch
        if self.update_freq == "epoch" or step % self.update_freq or not isinstance(logs, dict):
            return
        writer = self._writer("train")
        if self.write_steps_per_second:
            rate = 1.0 / max(time.time() - self._batch_start, 1e-9)
            writer.add_scalar("batch_steps_per_second", rate, step)
        for name, value in logs.items():
            writer.add_scalar(f"batch_{name}", float(value), step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if train and optimizer is not None and hasattr(optimizer, "learning_rate"):
            train["learning_rate"] = float(np.asarray(optimizer.learning_rate))
        if train and self.write_steps_per_second:
            start, iterations = self._epoch_start
            steps = int(optimizer.iterations) - iterations
            train["steps_per_second"] = steps / max(time.time() - start, 1e-9)
        for which, values in (("train", train), ("val", val)):
            if values:
                writer = self._writer(which)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        self.model.get_weights()  # the latest weights into the layers (fit defers that write)
        for layer in self.model.layers:
            for path, value in _weight_paths(layer, layer.name):
                name = path.replace(":", "_")
                writer.add_histogram(f"{name}/histogram", np.asarray(value), epoch)

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _weight_paths(layer: Any, prefix: str) -> list[tuple[str, Any]]:
    """(Keras's `variable.path`, value) of every weight: `lstm/lstm_cell/kernel`."""
    own = [(f"{prefix}/{name}", value) for name, value in layer._weights.items()]
    for sub in layer._sublayers.values():
        own += _weight_paths(sub, f"{prefix}/{sub.name}")
    return own
