"""Ctrl-C during `lstmkit train`: the current step ends, the checkpoint is saved whole and
resumable, the exit code is 130 and no traceback is printed."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lstmkit.cli import checkpoint
from lstmkit.cli.callbacks import Checkpointer
from tests.cli.conftest import TINY, checkpoint_of, run_cli


def _epochs_logged(out) -> int:
    try:
        with open(os.path.join(out, "history.csv"), newline="") as f:
            return max(len(list(csv.reader(f))) - 1, 0)
    except FileNotFoundError:
        return 0


def test_ctrl_c_inside_an_epoch_saves_that_step_and_resumes_exactly(
    trained, text_file, tmp_path, capsys, monkeypatch
):
    """SIGINT at step 5 of epoch 2 (sent to this process from a callback): exit code 130, the
    checkpoint holds step 5 and the streams' states, and `--resume --epochs 2` ends with the
    weights of the uninterrupted 2-epoch run."""
    seen = []
    original = Checkpointer.on_train_batch_end

    def interrupt_once(self, batch, logs=None):
        original(self, batch, logs)
        seen.append(batch)
        if len(seen) == self.steps_per_epoch + 5:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Checkpointer, "on_train_batch_end", interrupt_once)
    out = tmp_path / "run"
    code, report, err = run_cli(["train", text_file, "--out", out, *TINY, "--epochs", "2"], capsys)
    assert code == 130 and "Interrupted" in err and "Interrupted after step" in report
    meta, states = checkpoint.read_meta(checkpoint_of(out))
    assert meta["progress"]["epoch"] == 1 and meta["progress"]["step"] == 5 and states
    monkeypatch.undo()
    assert run_cli(["train", "--out", out, "--resume", "--epochs", "2"], capsys)[0] == 0
    resumed = checkpoint.load_for_training(checkpoint_of(out))[0].get_weights()
    straight = checkpoint.load_for_training(checkpoint_of(trained))[0].get_weights()
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_sigint_to_the_command_leaves_a_resumable_checkpoint(text_file, tmp_path):
    """The real thing: `python -m lstmkit train` in its own process, Ctrl-C after an epoch."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmkit", "train", text_file, "--out", str(out), *TINY,
         "--epochs", "100000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while _epochs_logged(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _epochs_logged(out) >= 1, "no epoch finished in time"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    model, meta, states = checkpoint.load_for_training(checkpoint_of(out))
    progress = meta["progress"]
    assert progress["global_step"] >= progress["steps_per_epoch"]
    # the checkpoint holds the step it stopped on: inside an epoch, with the streams' states
    assert progress["step"] == 0 or states is not None
    assert sorted(os.listdir(out)) == ["history.csv", "model.keras"]  # no partial files left
    assert model.optimizer is not None and len(model.get_weights()) == 6
