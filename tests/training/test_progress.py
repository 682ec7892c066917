"""The progress bar: exact text with a fake clock, and byte-for-byte Keras 3 on a terminal."""

import io
import os
import re

os.environ["KERAS_BACKEND"] = "jax"

import keras  # noqa: E402
import pytest  # noqa: E402
from keras.src.utils import progbar as keras_progbar  # noqa: E402

from lstmkit.callbacks import ProgbarLogger  # noqa: E402
from lstmkit.callbacks.progress import Progbar, format_time  # noqa: E402

BAR = "━"


class Clock:
    """A fake clock; also usable as a stand-in for the `time` module (`.time()`)."""

    def __init__(self, t=1000.0):
        self.t = t

    def time(self):
        return self.t

    __call__ = time


def plain(text):
    return re.sub(r"\x1b\[\d+m", "", text)


def fit(logger, clock, epochs=2, steps=4, first=0.7, step=0.025, val=False):
    """Drives a ProgbarLogger like fit: the first step is slow (compilation), then `step` each."""
    logger.set_params({"verbose": logger.verbose, "epochs": epochs, "steps": steps})
    logger.on_train_begin()
    for epoch in range(epochs):
        logger.on_epoch_begin(epoch)
        for batch in range(steps):
            clock.t += first if batch == 0 else step
            logs = {"accuracy": 0.5, "loss": 0.6931 - 0.1 * epoch - 0.001 * batch}
            logger.on_train_batch_end(batch, logs)
        if val:  # validation runs inside fit: its batches are not shown
            logger.on_test_begin()
            logger.on_test_batch_end(0, {"loss": 9.0})
            logger.on_test_end({"loss": 9.0})
        logs["val_loss"] = 0.5
        logger.on_epoch_end(epoch, logs)
    logger.on_train_end()


def test_fit_to_a_log_file_prints_header_and_final_line_per_epoch():
    clock, out = Clock(), io.StringIO()
    logger = ProgbarLogger(clock=clock, stream=out)  # StringIO is not a terminal
    fit(logger, clock, val=True)
    expected = (
        "Epoch 1/2\n"
        f"4/4 {BAR * 20} 1s 25ms/step - accuracy: 0.5000 - loss: 0.6901 - val_loss: 0.5000\n"
        "Epoch 2/2\n"
        f"4/4 {BAR * 20} 1s 25ms/step - accuracy: 0.5000 - loss: 0.5901 - val_loss: 0.5000\n"
    )
    assert out.getvalue() == expected


def test_verbose_2_prints_one_line_per_epoch():
    clock, out = Clock(), io.StringIO()
    logger = ProgbarLogger(clock=clock, stream=out, dynamic_display=True)
    logger.verbose = 2
    fit(logger, clock, epochs=1, steps=3, first=2.2, step=0.1)
    # verbose=2 draws no step before the end: the slow first step is in the average, as Keras
    line = "3/3 - 2s - 800ms/step - accuracy: 0.5000 - loss: 0.6911 - val_loss: 0.5000\n"
    assert out.getvalue() == line


def test_running_bar_shows_eta_then_total_time():
    clock, out = Clock(), io.StringIO()
    bar = Progbar(50, clock=clock, stream=out, dynamic_display=True)
    for current in range(1, 13):
        clock.t += 0.06
        bar.update(current, [("accuracy", 0.5), ("loss", 0.6931)])
    last = plain(out.getvalue()).split("\r")[-1]
    # 12 of 50 steps at 60ms -> ETA 38 * 0.06 = 2.28s, shown as 2s; 4 of 20 cells done
    assert last.rstrip() == "12/50 " + BAR * 20 + " 2s 60ms/step - accuracy: 0.5000 - loss: 0.6931"
    assert "\x1b[32m" + BAR * 4 + "\x1b[0m\x1b[37m" + BAR * 16 in out.getvalue()
    clock.t += 2.0
    bar.update(50, [("accuracy", 0.5), ("loss", 0.6931)])
    assert plain(out.getvalue()).split("\r")[-1].startswith("50/50 " + BAR * 20 + " 3s ")  # 2.72s
    assert out.getvalue().endswith("\n")


def test_metrics_are_averaged_over_steps_unless_stateful():
    clock, out = Clock(), io.StringIO()
    bar = Progbar(4, stream=out, clock=clock, dynamic_display=False, stateful_metrics=["acc"])
    bar.update(1, [("loss", 1.0), ("acc", 0.1)])
    bar.update(3, [("loss", 4.0), ("acc", 0.2)])  # this value covers 2 steps
    bar.update(4, [("loss", 2.0), ("acc", 0.3)])  # finalize: values shown as given
    assert out.getvalue().endswith(" - loss: 2.0000 - acc: 0.3000\n")
    bar = Progbar(None, stream=io.StringIO(), clock=clock, verbose=1)
    bar.update(1, [("loss", 1.0)])
    bar.update(3, [("loss", 4.0)])
    assert bar._average("loss") == 3.0  # (1*1 + 4*2) / 3


def test_small_and_negative_values_formatting():
    clock = Clock()
    out1, out2 = io.StringIO(), io.StringIO()
    for out, verbose in [(out1, 1), (out2, 2)]:
        bar = Progbar(2, verbose=verbose, stream=out, clock=clock, stateless_metrics=set())
        bar.update(2, [("tiny", 1e-5), ("neg", -0.5), ("big", 123.456)])
    assert out1.getvalue().endswith("- tiny: 1.0000e-05 - neg: -0.5000 - big: 123.4560\n")
    # Keras's verbose=2 tests `avg > 1e-3` without abs(): negatives get the exponent form
    assert out2.getvalue().endswith("- tiny: 1.0000e-05 - neg: -5.0000e-01 - big: 123.4560\n")


def test_time_units_and_eta_formats():
    assert format_time(2.5, "step") == " 2s/step"
    assert format_time(0, "step") == " 0s/step"
    assert format_time(0.025, "step") == " 25ms/step"
    assert format_time(0.0005, "sample") == " 500us/sample"
    clock, out = Clock(), io.StringIO()
    bar = Progbar(3000, clock=clock, stream=out, dynamic_display=True)
    clock.t += 1.0
    bar.update(1)
    clock.t += 2.0
    bar.update(3)  # 1s/step after the first, 2997 steps left -> 0:49:57
    assert " 49:57 1s/step" in plain(out.getvalue())
    clock.t += 20000
    bar.update(4)
    assert " 1:06:36:" not in plain(out.getvalue()) and re.search(
        r" \d+:\d\d:\d\d ", plain(out.getvalue())
    )


def test_throttled_on_a_terminal_silent_in_a_file():
    clock, out = Clock(), io.StringIO()
    bar = Progbar(10, clock=clock, stream=out, dynamic_display=True)
    clock.t += 0.1
    bar.update(1)
    clock.t += 0.01
    bar.update(2)  # within 0.05s of the last draw: skipped
    assert out.getvalue().count("\r") == 1
    out = io.StringIO()
    bar = Progbar(10, clock=clock, stream=out)
    for i in range(1, 10):
        clock.t += 1
        bar.update(i)
    assert out.getvalue() == ""  # a file gets the finished line only
    bar.update(10)
    assert out.getvalue().startswith("10/10 ") and out.getvalue().count("\n") == 1


def test_unknown_target_then_known_after_first_epoch():
    clock, out = Clock(), io.StringIO()
    logger = ProgbarLogger(clock=clock, stream=out, dynamic_display=True)
    logger.set_params({"verbose": 1, "epochs": 1, "steps": None})
    logger.on_train_begin()
    logger.on_epoch_begin(0)
    for batch in range(7):
        clock.t += 0.04
        logger.on_train_batch_end(batch, {"loss": 1.0})
    assert plain(out.getvalue()).split("\r")[-1].startswith("      7/Unknown 0s 40ms/step")
    logger.on_epoch_end(0, {"loss": 1.0})
    assert logger.target == 7 and plain(out.getvalue()).split("\r")[-1].startswith("7/7 ")


def test_evaluate_and_predict_bars():
    clock, out = Clock(), io.StringIO()
    logger = ProgbarLogger(clock=clock, stream=out)
    logger.set_params({"verbose": 1, "steps": 3})
    logger.on_test_begin()
    for batch in range(3):
        clock.t += 0.5
        logger.on_test_batch_end(batch, {"loss": 0.25})
    logger.on_test_end({"loss": 0.25})
    logger.on_predict_begin()
    for batch in range(3):
        clock.t += 0.002
        logger.on_predict_batch_end(batch, {"outputs": None})
    logger.on_predict_end()
    assert (
        out.getvalue()
        == f"3/3 {BAR * 20} 2s 500ms/step - loss: 0.2500\n3/3 {BAR * 20} 0s 2ms/step\n"
    )


@pytest.mark.parametrize("verbose", [1, 2])
@pytest.mark.parametrize("steps", [4, 120, None])
def test_terminal_output_is_keras_byte_for_byte(verbose, steps, capsys, monkeypatch):
    ours_clock, keras_clock = Clock(), Clock()
    monkeypatch.setattr(keras_progbar, "time", keras_clock)
    theirs = keras.callbacks.ProgbarLogger()
    theirs.verbose = verbose
    fit(theirs, keras_clock, epochs=2, steps=steps or 5, step=0.03, val=True)
    expected = capsys.readouterr().out
    ours = ProgbarLogger(clock=ours_clock, dynamic_display=True)  # writes to sys.stdout
    ours.verbose = verbose
    fit(ours, ours_clock, epochs=2, steps=steps or 5, step=0.03, val=True)
    assert capsys.readouterr().out == expected
    assert "Epoch 2/2\n" in expected
