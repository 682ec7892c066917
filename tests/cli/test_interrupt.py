"""Ctrl-C during `lstmkit train`: the current step ends, the checkpoint is saved whole and
resumable, the exit code is 130 and no traceback is printed."""

import csv
import os
import signal
import subprocess
import sys
import time

from lstmkit.cli import checkpoint
from tests.cli.conftest import TINY, checkpoint_of


def _epochs_logged(out) -> int:
    try:
        with open(os.path.join(out, "history.csv"), newline="") as f:
            return max(len(list(csv.reader(f))) - 1, 0)
    except FileNotFoundError:
        return 0


def test_sigint_leaves_a_resumable_checkpoint(text_file, tmp_path):
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
