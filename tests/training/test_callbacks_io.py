"""TensorBoard (event files read back), BackupAndRestore (a fitting process killed with
SIGKILL, then resumed) and LambdaCallback (against Keras 3's hook calls)."""

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L
from lstmkit.callbacks import tensorboard as tb_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_events(directory):
    """Every Event of the event files in `directory` (TFRecord framing: length, crc, data,
    crc), parsed with tensorboardX's protobuf classes."""
    from tensorboardX.proto import event_pb2

    events = []
    for name in sorted(os.listdir(directory)):
        data = open(os.path.join(directory, name), "rb").read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[pos + 12 : pos + 12 + length])
            events.append(event)
            pos += 12 + length + 4
    return events


def by_tag(events):
    """tag -> [(step, simple value or histogram)]."""
    out = {}
    for e in events:
        for v in e.summary.value:
            value = v.histo if v.HasField("histo") else v.simple_value
            out.setdefault(v.tag, []).append((e.step, value))
    return out


def tiny(seed=1):
    """Seeded initializers: the same model in every process."""
    init = lstmkit.initializers
    m = lstmkit.Sequential([
        lstmkit.Input((4, 3)),
        L.LSTM(3, kernel_initializer=init.GlorotUniform(seed=seed),
               recurrent_initializer=init.Orthogonal(seed=seed + 1), name="lstm"),
        L.Dense(1, kernel_initializer=init.GlorotUniform(seed=seed + 2), name="dense"),
    ], name="tiny")  # fmt: skip
    m.compile(optimizer="adam", loss="mse")
    return m


def data():
    rng = np.random.default_rng(0)
    return rng.random((8, 4, 3)).astype("float32"), rng.random((8, 1)).astype("float32")


def test_tensorboard_writes_keras_tags_per_epoch_batch_and_histograms(tmp_path):
    x, y = data()
    model = tiny()
    log_dir = tmp_path / "logs"
    board = lstmkit.callbacks.TensorBoard(log_dir, histogram_freq=1, update_freq="batch")
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0, validation_data=(x, y),
                        callbacks=[board])  # fmt: skip
    assert sorted(os.listdir(log_dir)) == ["train", "validation"]
    train = by_tag(read_events(log_dir / "train"))
    val = by_tag(read_events(log_dir / "validation"))
    assert [s for s, _ in train["epoch_loss"]] == [0, 1]
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], history.history["loss"],
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose([v for _, v in val["epoch_loss"]], history.history["val_loss"],
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose([v for _, v in train["epoch_learning_rate"]], [0.001, 0.001])
    assert [s for s, _ in train["batch_loss"]] == [1, 2, 3, 4]  # the global batch count
    kernel_tags = {t for t in train if t.endswith("/histogram")}
    assert (
        "lstm/lstm_cell/kernel/histogram" in kernel_tags and "dense/bias/histogram" in kernel_tags
    )
    step, histo = train["dense/kernel/histogram"][-1]
    kernel = model.layers[1].get_weights()[0]
    assert step == 1 and histo.num == kernel.size
    np.testing.assert_allclose([histo.min, histo.max, histo.sum],
                               [kernel.min(), kernel.max(), kernel.sum()], rtol=1e-5)  # fmt: skip
    every_3 = tmp_path / "every3"
    model.fit(x, y, epochs=3, batch_size=4, verbose=0,
              callbacks=[lstmkit.callbacks.TensorBoard(every_3, update_freq=3,
                                                       write_steps_per_second=True)])  # fmt: skip
    train = by_tag(read_events(every_3 / "train"))
    assert [s for s, _ in train["batch_loss"]] == [3, 6]
    assert [s for s, _ in train["batch_steps_per_second"]] == [3, 6]
    assert [s for s, _ in train["epoch_steps_per_second"]] == [0, 1, 2]
    assert all(v > 0 for _, v in train["epoch_steps_per_second"])
    assert not os.path.exists(every_3 / "validation")  # created only when written to


def test_tensorboard_without_tensorboardx_says_how_to_install(monkeypatch):
    monkeypatch.setattr(tb_module, "SummaryWriter", None)
    with pytest.raises(ImportError, match=r"pip install 'lstmkit\[tensorboard\]'"):
        lstmkit.callbacks.TensorBoard("logs")
    monkeypatch.undo()
    with pytest.raises(ValueError, match="update_freq"):
        lstmkit.callbacks.TensorBoard("logs", update_freq="step")


# Fits 6 epochs with a backup each epoch, reports each finished epoch on stdout and hangs after
# the third epoch's backup, waiting to be killed.
FITTER = textwrap.dedent(
    """
    import sys, time, warnings
    warnings.simplefilter("ignore")
    import lstmkit
    from tests.training.test_callbacks_io import data, tiny

    class Report(lstmkit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(epoch, flush=True)
            if epoch == 2:
                time.sleep(600)

    x, y = data()
    tiny().fit(x, y, epochs=6, batch_size=4, verbose=0, shuffle=False,
               callbacks=[lstmkit.callbacks.BackupAndRestore(sys.argv[1]), Report()])
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_backup_and_restore_resumes_after_sigkill(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    backup = str(tmp_path / "backup")
    proc = subprocess.Popen([sys.executable, "-c", FITTER, backup], env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        lines = [proc.stdout.readline().strip() for _ in range(3)]  # epochs 0, 1, 2 done
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert lines == ["0", "1", "2"]
    with open(os.path.join(backup, "training_metadata.json")) as f:
        assert json.load(f)["epoch"] == 3
    x, y = data()
    resumed = tiny()  # a new process would start here: fresh weights, the backup on disk
    history = resumed.fit(x, y, epochs=6, batch_size=4, verbose=0, shuffle=False,
                          callbacks=[lstmkit.callbacks.BackupAndRestore(backup)])  # fmt: skip
    assert history.epoch == [3, 4, 5]  # resumed at the 4th epoch
    assert resumed.optimizer.iterations == 12
    assert not os.path.exists(backup)  # deleted once fit completed
    model = tiny()
    model.fit(x, y, epochs=6, batch_size=4, verbose=0, shuffle=False)  # never interrupted
    for a, b in zip(resumed.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_backup_every_n_batches_and_argument_errors(tmp_path):
    x, y = data()
    model = tiny()
    backup = lstmkit.callbacks.BackupAndRestore(tmp_path / "b", save_freq=3,
                                                delete_checkpoint=False)  # fmt: skip
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[backup])
    # 4 batches: saved after the 3rd (epoch 0 not finished: the epoch restarts on resume)
    assert json.load(open(tmp_path / "b" / "training_metadata.json")) == {"epoch": 1, "batch": 0}
    with pytest.raises(ValueError, match="Invalid value for argument `save_freq`"):
        lstmkit.callbacks.BackupAndRestore(tmp_path, save_freq="batch")
    with pytest.raises(ValueError, match="Empty `backup_dir` argument passed"):
        lstmkit.callbacks.BackupAndRestore("")


def test_lambda_callback_hooks_as_keras():
    x, y = np.ones((6, 2), "float32"), np.ones((6, 1), "float32")

    def run(lib):
        calls = []
        cb = lib.callbacks.LambdaCallback(
            on_train_begin=lambda logs: calls.append("train_begin"),
            on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
            on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
            on_batch_end=lambda batch, logs: calls.append(("batch_end", batch, sorted(logs))),
            on_train_end=lambda logs: calls.append("train_end"),
        )
        model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        model.fit(x, y, epochs=2, batch_size=3, verbose=0, callbacks=[cb])
        return calls

    assert run(lstmkit) == run(keras)
