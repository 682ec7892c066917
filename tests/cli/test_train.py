"""`lstmkit train`: the checkpoint, history.csv in Keras's CSVLogger format, and resuming
exactly (an interrupted-and-resumed run equals an uninterrupted one)."""

import csv
import os

import keras
import numpy as np

from lstmkit.cli import checkpoint
from tests.cli.conftest import TINY, checkpoint_of, run_cli


def _weights(out):
    model, meta, _ = checkpoint.load_for_training(checkpoint_of(out))
    return model.get_weights(), meta


def _rows(out):
    with open(os.path.join(out, "history.csv"), newline="") as f:
        return list(csv.reader(f))


def test_train_writes_checkpoint_history_and_report(trained, text_file):
    meta, states = checkpoint.read_meta(checkpoint_of(trained))
    assert meta["progress"]["epoch"] == 2 and meta["progress"]["step"] == 0
    assert states is None  # stopped at an epoch's end: nothing to carry
    assert meta["vocabulary"] == "".join(sorted(set(open(text_file).read())))
    rows = _rows(trained)
    assert rows[0] == ["epoch", "loss", "val_loss"] and [r[0] for r in rows[1:]] == ["0", "1"]
    assert float(rows[2][1]) < float(rows[1][1])  # it learns
    model, vocab, _ = checkpoint.load_for_inference(checkpoint_of(trained))
    assert model.inputs[0].shape == (1, None) and model.outputs[0].shape[-1] == len(vocab)


def test_history_is_what_keras_csvlogger_writes(trained, tmp_path):
    """Keras's own CSVLogger, handed the same per-epoch logs, writes the same bytes."""
    ours = open(os.path.join(trained, "history.csv"), newline="").read()
    rows = _rows(trained)
    logger = keras.callbacks.CSVLogger(str(tmp_path / "keras.csv"))
    logger.on_train_begin()
    for row in rows[1:]:
        logger.on_epoch_end(int(row[0]), {k: float(v) for k, v in zip(rows[0][1:], row[1:])})
    logger.on_train_end()
    assert open(tmp_path / "keras.csv", newline="").read() == ours


def test_resume_equals_an_uninterrupted_run(trained, text_file, tmp_path, capsys):
    """Three runs: `--epochs 1` (stops at an epoch's end), `--resume --max-steps N` (stops
    inside epoch 2, the checkpoint carries the LSTM states), `--resume --epochs 2`, give the
    weights, optimizer state, progress and history of one run with `--epochs 2` (`trained`)."""
    out = tmp_path / "three_runs"
    assert run_cli(["train", text_file, "--out", out, *TINY, "--epochs", "1"], capsys)[0] == 0
    meta, states = checkpoint.read_meta(checkpoint_of(out))
    per_epoch = meta["progress"]["steps_per_epoch"]
    assert meta["progress"] == {"epoch": 1, "step": 0, "global_step": per_epoch,
                                "steps_per_epoch": per_epoch} and states is None  # fmt: skip
    inside = per_epoch + 7
    code, report, _ = run_cli(["train", "--out", out, "--resume", "--max-steps", inside], capsys)
    assert code == 0 and f"resuming after step {per_epoch}" in report
    meta, states = checkpoint.read_meta(checkpoint_of(out))
    assert meta["progress"]["step"] == 7 and set(states) == {"lstm_1"}
    assert run_cli(["train", "--out", out, "--resume", "--epochs", "2"], capsys)[0] == 0
    (resumed, meta), (straight, meta2) = _weights(out), _weights(trained)
    assert meta["progress"] == meta2["progress"]
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # The history: epoch 0, epoch 1's first 7 steps, the rest of epoch 1 (a row per stop).
    rows, rows2 = _rows(out), _rows(trained)
    assert [r[0] for r in rows] == ["epoch", "0", "1", "1"] and rows[1] == rows2[1]
    assert float(rows[3][2]) == float(rows2[2][2])  # val_loss at the end of epoch 2
