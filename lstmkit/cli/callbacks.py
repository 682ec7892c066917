"""The Keras callbacks `lstmkit train` adds to `fit`: validation on fresh states, checkpoints
that record where training stands, a clean stop on Ctrl-C, and the run's epoch count."""

from __future__ import annotations

import signal
import sys
from typing import Any

import numpy as np

from lstmkit.callbacks import Callback, ProgbarLogger
from lstmkit.cli import checkpoint


class StreamValidation(Callback):
    """Adds `val_loss` to each epoch's logs: the validation streams read from zero states.

    (fit's own validation would start from wherever the training streams stopped, which belongs
    to another part of the text.) The training states are put back afterwards, so a checkpoint
    taken inside an epoch can continue the streams. Listed first, so the callbacks after it (the
    progress bar, CSVLogger, History) see `val_loss` in the same logs, as Keras's do.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        states = self.model.get_states()
        self.model.reset_states()
        val_loss = self.model.evaluate(self.x, self.y, batch_size=self.batch_size, verbose=0)
        self.model.set_states(states)
        if logs is not None:
            logs["val_loss"] = float(val_loss)


class Checkpointer(Callback):
    """Saves DIR/model.keras at every epoch's end (and at a stop inside an epoch), with how far
    training got: `progress = {epoch: whole epochs done, step: steps into the next one}`."""

    def __init__(self, directory: str, meta: dict, steps_per_epoch: int):
        super().__init__()
        self.directory, self.meta, self.steps_per_epoch = directory, meta, steps_per_epoch
        self.first_step = 0
        self.steps = 0  # steps run by this fit call
        self.path: str | None = None

    def begin(self, first_step: int) -> None:
        """Before each fit call: which step of the epoch its first batch is."""
        self.first_step, self.steps = first_step, 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        step = self.first_step + self.steps
        states = None
        if step >= self.steps_per_epoch:
            epoch, step = epoch + 1, 0
        else:  # stopped inside the epoch: the streams' states are needed to continue it
            states = self.model.get_states()
        self.meta["progress"] = {
            "epoch": epoch,
            "step": step,
            "global_step": epoch * self.steps_per_epoch + step,
            "steps_per_epoch": self.steps_per_epoch,
        }
        self.meta["logs"] = dict(logs or {})
        self.path = checkpoint.save_checkpoint(self.model, self.directory, self.meta, states)


class StopOnInterrupt(Callback):
    """Ctrl-C (SIGINT) finishes the current step, then fit stops and the epoch-end callbacks
    validate and save, so the checkpoint holds that step. A second Ctrl-C stops at once."""

    def __init__(self) -> None:
        super().__init__()
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> StopOnInterrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\nInterrupted: finishing this step and saving (Ctrl-C again to quit at once).",
            file=sys.stderr,
            flush=True,
        )

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.requested:
            self.model.stop_training = True


class RunProgbar(ProgbarLogger):
    """Keras's progress bar, told the run's epoch count: `train` calls fit once per epoch."""

    def __init__(self, epochs: int):
        super().__init__()
        self.run_epochs = epochs

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        self.epochs = self.run_epochs
