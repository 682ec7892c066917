"""BackupAndRestore: resume an interrupted `fit` where its last backup left it, as Keras 3.

At each epoch's end (or every `save_freq` batches) the weights and the optimizer's state go to
`backup_dir/latest.weights.h5` and the epoch reached to `training_metadata.json`; a new `fit`
with the same callback loads both in `on_train_begin` and starts at that epoch. Each file is
first written beside its target and then renamed over it, so a process killed while writing
leaves the previous backup whole.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from lstmkit.callbacks.callback import Callback


class BackupAndRestore(Callback):
    """`BackupAndRestore(backup_dir, save_freq="epoch", double_checkpoint=False,
    delete_checkpoint=True)`; the backup is deleted when `fit` completes (unless
    `delete_checkpoint=False`)."""

    def __init__(
        self,
        backup_dir: Any,
        save_freq: str | int = "epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
    ):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)):
            raise ValueError(
                "Invalid value for argument `save_freq`. "
                f"Received: save_freq={save_freq}. "
                "Expected either 'epoch' or an integer value."
            )
        self.backup_dir = str(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._current_epoch = 0
        self._last_batch_seen = 0
        self._batches_since_saving = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        try:
            self._load()
        except OSError:
            if not os.path.exists(self._weights_path + ".bkp"):
                raise
            # The latest backup is damaged: fall back to the one before (double_checkpoint).
            shutil.copy(self._weights_path + ".bkp", self._weights_path)
            if os.path.exists(self._metadata_path + ".bkp"):
                shutil.copy(self._metadata_path + ".bkp", self._metadata_path)
            self._load()

    def _load(self) -> None:
        if not getattr(self.model, "built", True):
            raise ValueError(
                "To use the BackupAndRestore callback, you model must be built before you call "
                f"`fit()`. Model {self.model.name} is unbuilt. You can build it beforehand by "
                "calling it on a batch of data."
            )
        if os.path.exists(self._weights_path):
            self.model.load_weights(self._weights_path)  # weights and optimizer state
        if os.path.exists(self._metadata_path):
            with open(self._metadata_path) as f:
                epoch = json.load(f)["epoch"]
            self._current_epoch = epoch
            self.model._initial_epoch = epoch  # the fit loop starts there (as Keras)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        if batch <= self._last_batch_seen:  # a new epoch (batches count from 0)
            self._batches_since_saving += batch + 1
        else:
            self._batches_since_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_since_saving >= self.save_freq:
            self._batches_since_saving = 0
            self._save()

    def _save(self) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        for path in (self._weights_path, self._metadata_path):
            if self.double_checkpoint and os.path.exists(path):
                shutil.copy(path, path + ".bkp")
        tmp = os.path.join(self.backup_dir, "partial.weights.h5")
        self.model.save_weights(tmp, overwrite=True)
        os.replace(tmp, self._weights_path)
        tmp = self._metadata_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, f)
        os.replace(tmp, self._metadata_path)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
