"""Callbacks driven by hand-made logs on a fake model; decisions asserted, and checked against
Keras 3's own callbacks driven the same way (they accept the same fake model)."""

import math
import os

os.environ["KERAS_BACKEND"] = "jax"

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lstmkit.callbacks as lc  # noqa: E402
import lstmkit.optimizers as lo  # noqa: E402
from lstmkit.callbacks.callback import pythonify_logs  # noqa: E402


class FakeOptimizer:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate


class FakeModel:
    """The duck-typed interface callbacks use; weights are [epoch-tagged array]."""

    def __init__(self, learning_rate=0.1):
        self.stop_training = False
        self.weights = [np.full(3, -1.0)]
        self.optimizer = FakeOptimizer(learning_rate)
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path, overwrite=True):
        self.saved.append(("model", os.path.basename(path)))

    def save_weights(self, path, overwrite=True):
        self.saved.append(("weights", os.path.basename(path)))


def drive(callback, epoch_logs, model=None, batch_logs=None):
    """A fit loop: returns (model, number of epochs run, learning rate at each epoch end)."""
    model = model or FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    rates, epochs_run = [], 0
    for epoch, logs in enumerate(epoch_logs):
        callback.on_epoch_begin(epoch)
        for batch, blogs in enumerate(batch_logs or []):
            callback.on_train_batch_begin(batch)
            callback.on_train_batch_end(batch, dict(blogs))
        model.weights = [np.full(3, float(epoch))]  # "trained" weights of this epoch
        callback.on_epoch_end(epoch, dict(logs))
        rates.append(model.optimizer.learning_rate)
        epochs_run += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return model, epochs_run, rates


def losses(*values, key="val_loss"):
    return [{key: v, "loss": v + 1} for v in values]


# --- EarlyStopping -------------------------------------------------------------------------


def test_early_stopping_patience_and_restore():
    cb = lc.EarlyStopping(patience=2, restore_best_weights=True)
    model, run, _ = drive(cb, losses(1.0, 0.8, 0.9, 0.85, 0.7))
    assert run == 4 and cb.stopped_epoch == 3 and model.stop_training
    assert cb.best == 0.8 and cb.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], np.full(3, 1.0))  # epoch 1's weights


def test_early_stopping_restores_best_even_without_stopping(capsys):
    cb = lc.EarlyStopping(patience=5, restore_best_weights=True, verbose=1)
    model, run, _ = drive(cb, losses(1.0, 0.5, 0.9))
    assert run == 3 and cb.stopped_epoch == 0
    np.testing.assert_array_equal(model.weights[0], np.full(3, 1.0))
    assert capsys.readouterr().out == "Restoring model weights from the end of the best epoch: 2.\n"


def test_early_stopping_min_delta_mode_and_start_epoch(capsys):
    cb = lc.EarlyStopping(min_delta=0.1, patience=1, verbose=1)
    assert drive(cb, losses(1.0, 0.95, 0.5))[1] == 2  # 0.95 is not better by 0.1
    assert "Epoch 2: early stopping" in capsys.readouterr().out
    cb = lc.EarlyStopping(monitor="val_accuracy", patience=1)  # "auto" -> maximize accuracy
    assert drive(cb, losses(0.5, 0.6, 0.7, 0.65, 0.9, key="val_accuracy"))[1] == 4
    cb = lc.EarlyStopping(monitor="loss", mode="max", patience=0)
    assert drive(cb, losses(1.0, 0.5, 0.7))[1] == 2
    cb = lc.EarlyStopping(mode="max", min_delta=0.2, patience=0)
    assert drive(cb, losses(0.6, 0.8, 0.9))[1] == 2  # 0.8 - 0.2 > 0.6 in float64, not in float32
    cb = lc.EarlyStopping(patience=0, start_from_epoch=2)  # epochs 0 and 1 are not watched
    assert drive(cb, losses(1.0, 2.0, 3.0, 4.0))[1] == 4


def test_early_stopping_baseline_keeps_the_count_running():
    assert drive(lc.EarlyStopping(patience=3), losses(0.8, 0.7, 0.75))[1] == 3
    cb = lc.EarlyStopping(patience=3, baseline=0.5)  # improvements above 0.5 don't reset wait
    assert drive(cb, losses(0.8, 0.7, 0.75, 0.7))[1] == 3 and cb.stopped_epoch == 2


def test_early_stopping_missing_or_ambiguous_monitor():
    with pytest.warns(UserWarning, match="val_loss.*not available"):
        assert drive(lc.EarlyStopping(patience=0), [{"loss": 1.0}] * 3)[1] == 3
    with pytest.raises(ValueError, match="maximized or minimized"):
        drive(lc.EarlyStopping(monitor="val_mystery"), losses(1.0, key="val_mystery"))


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9, 1.0]), min_size=1, max_size=12),
    patience=st.integers(0, 3),
    min_delta=st.sampled_from([0, 0.05, 0.2]),
    baseline=st.sampled_from([None, 0.65]),
    start=st.integers(0, 2),
    mode=st.sampled_from(["auto", "max"]),
)
def test_early_stopping_decides_as_keras(values, patience, min_delta, baseline, start, mode):
    kw = dict(patience=patience, min_delta=min_delta, baseline=baseline, mode=mode)
    kw.update(start_from_epoch=start, restore_best_weights=True)
    ours, theirs = lc.EarlyStopping(**kw), keras.callbacks.EarlyStopping(**kw)
    m1, run1, _ = drive(ours, losses(*values))
    m2, run2, _ = drive(theirs, losses(*values))
    assert (run1, ours.stopped_epoch, ours.best_epoch) == (
        run2,
        theirs.stopped_epoch,
        theirs.best_epoch,
    )
    np.testing.assert_array_equal(m1.weights[0], m2.weights[0])


# --- ReduceLROnPlateau -----------------------------------------------------------------------


def test_reduce_lr_on_plateau_patience_cooldown_min_lr(capsys):
    cb = lc.ReduceLROnPlateau(factor=0.5, patience=2, verbose=1)
    rates = drive(cb, losses(1, 1, 1, 1, 1, 1), model=FakeModel(0.1))[2]
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.05." in capsys.readouterr().out
    cb = lc.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2)
    rates = drive(cb, losses(*[1] * 8), model=FakeModel(0.1))[2]
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])
    cb = lc.ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.005)
    assert drive(cb, losses(1, 1, 1, 1), model=FakeModel(0.1))[2] == pytest.approx(
        [0.1, 0.01, 0.005, 0.005]
    )
    cb = lc.ReduceLROnPlateau(factor=0.5, patience=1)  # improving by > min_delta: no change
    assert drive(cb, losses(1.0, 0.9, 0.8), model=FakeModel(0.1))[2] == [0.1, 0.1, 0.1]
    with pytest.raises(ValueError, match="factor >= 1.0"):
        lc.ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_sets_a_real_optimizer_and_logs_the_rate():
    model, keras_model = FakeModel(), FakeModel()
    model.optimizer, keras_model.optimizer = lo.Adam(0.001), keras.optimizers.Adam(0.001)
    cbs = lc.CallbackList([lc.ReduceLROnPlateau(patience=0)], add_history=True, model=model)
    cbs.on_train_begin()
    for epoch, logs in enumerate(losses(1.0, 1.0)):
        cbs.on_epoch_end(epoch, logs)
    drive(keras.callbacks.ReduceLROnPlateau(patience=0), losses(1.0, 1.0), model=keras_model)
    # the rate is kept in float32, as in Keras's variable: 0.001 -> 0.0001 (rounded twice)
    assert model.optimizer.learning_rate == float(np.asarray(keras_model.optimizer.learning_rate))
    assert model.optimizer.learning_rate == pytest.approx(1e-4, rel=1e-6)
    lr0 = float(np.float32(1e-3))
    assert cbs.history.history["learning_rate"] == [lr0, lr0]  # History saw the callback's key


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.sampled_from([0.5, 0.7, 0.70005, 0.9]), min_size=1, max_size=12),
    patience=st.integers(0, 3),
    cooldown=st.integers(0, 2),
    min_lr=st.sampled_from([0.0, 0.02]),
)
def test_reduce_lr_decides_as_keras(values, patience, cooldown, min_lr):
    kw = dict(factor=0.5, patience=patience, cooldown=cooldown, min_lr=min_lr)
    ours = drive(lc.ReduceLROnPlateau(**kw), losses(*values), model=FakeModel(0.1))[2]
    theirs = drive(keras.callbacks.ReduceLROnPlateau(**kw), losses(*values), FakeModel(0.1))[2]
    assert ours == theirs


# --- LearningRateScheduler, TerminateOnNaN, History, CallbackList ---------------------------


def test_learning_rate_scheduler_both_signatures(capsys):
    cb = lc.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5, verbose=1)
    assert drive(cb, losses(1, 1, 1, 1), model=FakeModel(0.1))[2] == [0.1, 0.1, 0.05, 0.025]
    assert (
        "Epoch 3: LearningRateScheduler setting learning rate to 0.05." in capsys.readouterr().out
    )
    cb = lc.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))  # one-argument form
    assert drive(cb, losses(1, 1, 1), model=FakeModel(1.0))[2] == pytest.approx(
        [0.1, 0.05, 0.1 / 3]
    )
    with pytest.raises(ValueError, match="should be a float"):
        drive(lc.LearningRateScheduler(lambda epoch: "fast"), losses(1))
    logs = {}
    cb = lc.LearningRateScheduler(lambda epoch, lr: 0.25)
    cb.set_model(FakeModel())
    cb.on_epoch_begin(0)
    cb.on_epoch_end(0, logs)
    assert logs == {"learning_rate": 0.25}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_terminate_on_nan_records_where(bad, capsys):
    cb = lc.TerminateOnNaN()
    batches = [{"loss": 0.5}, {"loss": 0.4}, {"loss": bad}, {"loss": 0.3}]
    model, run, _ = drive(cb, losses(1, 1, 1), batch_logs=batches)
    assert model.stop_training and run == 1 and cb.stopped_at == (0, 2)
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="batch 2"):
        drive(lc.TerminateOnNaN(raise_error=True), losses(1), batch_logs=batches)
    cb = lc.TerminateOnNaN()
    assert drive(cb, losses(1, 1), batch_logs=batches[:2])[1] == 2 and cb.stopped_at is None


def test_history_records_logs_epochs_and_params():
    model = FakeModel()
    cbs = lc.CallbackList([], add_history=True, model=model, verbose=0, epochs=2, steps=3)
    cbs.on_train_begin()
    cbs.on_epoch_end(0, {"loss": jnp.float32(0.5), "acc": np.float64(0.25)})
    cbs.on_epoch_end(1, {"loss": 0.25, "acc": 0.5})
    h = model.history
    assert h is cbs.history and h.epoch == [0, 1]
    assert h.history == {"acc": [0.25, 0.5], "loss": [0.5, 0.25]}
    assert all(type(v) is float for v in h.history["loss"])
    assert h.params == {"verbose": 0, "epochs": 2, "steps": 3}


def test_callback_list_order_logs_and_defaults():
    calls = []

    class Spy(lc.Callback):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

        def on_batch_end(self, batch, logs=None):  # reached through on_train_batch_end
            calls.append((self.tag, batch, logs))

    cbs = lc.CallbackList([Spy("a"), Spy("b")], add_history=True, add_progbar=True)
    assert [type(c).__name__ for c in cbs.callbacks] == ["Spy", "Spy", "History", "ProgbarLogger"]
    cbs.on_train_batch_end(3, {"z": jnp.array(1.5), "out": {"a_loss": np.float32(2.0)}})
    assert calls == [("a", 3, {"a_loss": 2.0, "z": 1.5}), ("b", 3, {"a_loss": 2.0, "z": 1.5})]
    assert list(pythonify_logs({"b": 1, "a": "text"}).items()) == [("a", "text"), ("b", 1.0)]
    history = lc.History()
    assert lc.CallbackList([history], add_history=True).history is history


# --- ModelCheckpoint -------------------------------------------------------------------------


def checkpoint_run(cls, tmp_path, logs, batch_logs=None, **kw):
    cb = cls(str(tmp_path / kw.pop("pattern")), **kw)
    return drive(cb, logs, batch_logs=batch_logs)[0].saved


def test_checkpoint_every_epoch_with_formatted_names(tmp_path):
    saved = checkpoint_run(
        lc.ModelCheckpoint,
        tmp_path,
        losses(0.5, 0.25),
        pattern="m-{epoch:02d}-{val_loss:.2f}.keras",
    )
    assert saved == [("model", "m-01-0.50.keras"), ("model", "m-02-0.25.keras")]


def test_checkpoint_best_only_and_threshold(tmp_path, capsys):
    kw = dict(pattern="best.weights.h5", save_best_only=True, save_weights_only=True, verbose=1)
    saved = checkpoint_run(lc.ModelCheckpoint, tmp_path, losses(0.5, 0.6, 0.4), **kw)
    assert saved == [("weights", "best.weights.h5")] * 2  # epochs 1 and 3
    ours = capsys.readouterr().out
    checkpoint_run(keras.callbacks.ModelCheckpoint, tmp_path, losses(0.5, 0.6, 0.4), **kw)
    assert ours == capsys.readouterr().out and "val_loss did not improve from 0.50000" in ours
    kw = dict(pattern="b.keras", save_best_only=True, initial_value_threshold=0.45)
    assert len(checkpoint_run(lc.ModelCheckpoint, tmp_path, losses(0.5, 0.6, 0.4), **kw)) == 1
    kw = dict(pattern="acc.keras", monitor="val_acc", save_best_only=True)
    assert (
        len(
            checkpoint_run(lc.ModelCheckpoint, tmp_path, losses(0.5, 0.6, 0.4, key="val_acc"), **kw)
        )
        == 2
    )


@pytest.mark.parametrize("freq", [2, 3])
def test_checkpoint_batch_frequency_matches_keras(tmp_path, freq):
    kw = dict(pattern="e{epoch}-b{batch}.keras", save_freq=freq)
    batches = [{"loss": 1.0}] * 5
    ours = checkpoint_run(lc.ModelCheckpoint, tmp_path, losses(1, 1), batches, **dict(kw))
    theirs = checkpoint_run(keras.callbacks.ModelCheckpoint, tmp_path, losses(1, 1), batches, **kw)
    assert ours == theirs
    if freq == 2:
        assert [name for _, name in ours] == [
            "e1-b2.keras",
            "e1-b4.keras",
            "e2-b1.keras",
            "e2-b3.keras",
            "e2-b5.keras",
        ]


def test_checkpoint_argument_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        lc.ModelCheckpoint(str(tmp_path / "w.h5x"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"\.keras"):
        lc.ModelCheckpoint(str(tmp_path / "model.pt"))
    with pytest.raises(ValueError, match="save_freq"):
        lc.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq="batch")
    with pytest.raises(KeyError, match="Failed to format"):
        checkpoint_run(lc.ModelCheckpoint, tmp_path, losses(1), pattern="{nope}.keras")


# --- CSVLogger -----------------------------------------------------------------------------


def csv_run(cls, path, epoch_logs, **kw):
    cb = cls(str(path), **kw)
    drive(cb, epoch_logs)
    return path.read_bytes()


def test_csv_logger_writes_keras_bytes(tmp_path):
    logs = [{"loss": 0.5, "acc": 0.25}, {"loss": 0.125, "acc": 0.75}]
    ours = csv_run(lc.CSVLogger, tmp_path / "a.csv", logs)
    assert ours == b"epoch,acc,loss,val_acc,val_loss\r\n0,0.25,0.5,NA,NA\r\n1,0.75,0.125,NA,NA\r\n"
    assert ours == csv_run(keras.callbacks.CSVLogger, tmp_path / "k.csv", logs)
    logs = [{"loss": 0.5, "val_loss": 0.75, "seq": [1, 2]}]
    for kw in ({"separator": ";"}, {"append": True}):
        ours = csv_run(lc.CSVLogger, tmp_path / "a.csv", logs, **kw)
        assert ours == csv_run(keras.callbacks.CSVLogger, tmp_path / "k.csv", logs, **kw)
    assert ours.count(b"epoch") == 1  # appended under the existing header, not a second one
