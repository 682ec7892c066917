"""The progress bar Keras 3 prints during fit/evaluate/predict, and the callback that drives it.

On a terminal (or in Jupyter) the bar is redrawn in place, byte for byte as Keras writes it::

    12/50 ━━━━━━━━━━━━━━━━━━━━ 1s 25ms/step - accuracy: 0.5000 - loss: 0.6931

(count in bold, done part green, ETA while running, total time when done). Written to a file or
a pipe, it prints only each finished line, without colour codes, instead of Keras's stream of
rewrites.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import numpy as np

from lstmkit.callbacks.callback import Callback, pythonify_logs

_BOLD, _GREEN, _GREY, _RESET = "\x1b[1m", "\33[32m", "\33[37m", "\x1b[0m"


def format_time(time_per_unit: float, unit_name: str) -> str:
    """`` 25ms/step``: seconds, milliseconds or microseconds per unit, as Keras rounds them."""
    if time_per_unit >= 1 or time_per_unit == 0:
        return f" {time_per_unit:.0f}s/{unit_name}"
    if time_per_unit >= 1e-3:
        return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
    return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int((eta % 3600) // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


class Progbar:
    """Displays a progress bar (``keras.utils.Progbar``).

    Metrics passed to `update` are averaged over the steps seen (weighted by the steps each
    value covers) unless named in `stateful_metrics`; with `stateless_metrics` given instead,
    only those are averaged. `clock`, `stream` and `dynamic_display` exist for tests and
    logging; by default the clock is ``time.time``, the stream ``sys.stdout`` and the display
    dynamic when the stream is a terminal or Jupyter runs.
    """

    def __init__(
        self,
        target: int | None,
        width: int = 20,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics: Iterable[str] | None = None,
        stateless_metrics: Iterable[str] | None = None,
        unit_name: str = "step",
        *,
        clock: Callable[[], float] | None = None,
        stream: TextIO | None = None,
        dynamic_display: bool | None = None,
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` or `stateless_metrics` can be given.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ()) if stateless_metrics is None else None
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._clock = clock or time.time
        self._stream = stream
        self._dynamic = dynamic_display
        self._seen_so_far = 0
        self._values: dict[str, list] = {}  # name -> [weighted sum, weight]
        self._values_order: list[str] = []
        self._start = self._clock()
        self._last_update = 0.0
        self._time_after_first_step: float | None = None
        self._prev_total_width = 0

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout  # looked up late: capsys

    @property
    def dynamic_display(self) -> bool:
        if self._dynamic is not None:
            return self._dynamic
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty()) or "ipykernel" in sys.modules

    def update(
        self,
        current: int,
        values: list[tuple[str, Any]] | None = None,
        finalize: bool | None = None,
    ) -> None:
        """Moves the bar to step `current`; `values` are ``(name, value_for_last_step)`` pairs."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            self._record(name, value, current, finalize)
        self._seen_so_far = current
        now = self._clock()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            info = f"{_count(current, self.target)} - {now - self._start:.0f}s -"
            info += format_time(time_per_unit, self.unit_name)
            for name in self._values_order:
                avg = self._average(name)
                info += f" - {name}: {avg:.4f}" if avg > 1e-3 else f" - {name}: {avg:.4e}"
            self._write(info + "\n")
        self._last_update = now

    def due(self) -> bool:
        """Whether an update now would redraw the bar (so its values are worth reading)."""
        return self.verbose == 1 and self._clock() - self._last_update >= self.interval

    def add(self, n: int, values: list[tuple[str, Any]] | None = None) -> None:
        """Advances the bar by `n` steps."""
        self.update(self._seen_so_far + n, values)

    def _record(self, name: str, value: Any, current: int, finalize: bool) -> None:
        if name not in self._values_order:
            self._values_order.append(name)
        if self.stateful_metrics is not None:
            averaged = name not in self.stateful_metrics
        else:
            averaged = name in self.stateless_metrics
        if not averaged or finalize:
            self._values[name] = [value, 1]
            return
        weight = max(current - self._seen_so_far, 1)
        if name not in self._values:
            self._values[name] = [value * weight, weight]
        else:
            self._values[name][0] += value * weight
            self._values[name][1] += weight

    def _average(self, name: str) -> float:
        total, count = self._values[name]
        if not isinstance(total, float):
            total = np.mean(total)
        return total / max(1, count)

    def _draw(self, current: int, now: float, time_per_unit: float, finalize: bool) -> None:
        dynamic = self.dynamic_display
        if not dynamic and not finalize:
            return  # a log file gets the finished line only
        bold, green, grey, reset = (_BOLD, _GREEN, _GREY, _RESET) if dynamic else ("",) * 4
        if self.target is not None and self.target > 0:
            bar = f"{bold}{_count(current, self.target)}{reset} "
            done = int(self.width * float(current) / self.target)
            if done > 0:
                bar += f"{green}{'━' * done}{reset}"
            bar += f"{grey}{'━' * (self.width - done)}{reset}"
        else:
            bar = f"{int(current):7d}/Unknown"
        if self.target is not None and self.target > 0 and not finalize:
            info = f" {bold}{_format_eta(time_per_unit * (self.target - current))}{reset}"
        else:
            info = f" {bold}{now - self._start:.0f}s{reset}"
        info += format_time(time_per_unit, self.unit_name)
        for name in self._values_order:
            avg = self._average(name)
            info += f" - {name}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {name}: {avg:.4e}"
        if not dynamic:
            self._write(bar + info + "\n")
            return
        visible = len(_strip_codes(bar)) + len(_strip_codes(info))
        message = "\b" * self._prev_total_width + "\r" + bar + info
        if self._prev_total_width > visible:
            message += " " * (self._prev_total_width - visible)
        self._write(message + ("\n" if finalize else ""))
        self._prev_total_width = visible

    def _write(self, message: str) -> None:
        self.stream.write(message)
        self.stream.flush()

    def _estimate_step_duration(self, current: int, now: float) -> float:
        """Seconds per step, leaving the (compiling) first step out once there are others."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit


def _count(current: int, target: int) -> str:
    """`` 7/50``: the step right-aligned to the target's width."""
    return f"{int(current):{int(math.log10(target)) + 1}d}/{int(target)}"


def _strip_codes(text: str) -> str:
    for code in (_BOLD, _GREEN, _GREY, _RESET):
        text = text.replace(code, "")
    return text


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and a Progbar per epoch (fit), or one per evaluate/predict call.

    Reads ``params["verbose"]``, ``params["epochs"]`` and ``params["steps"]`` (steps per epoch,
    or None if unknown). Shows the logs as given: the trainer passes running averages. A batch's
    logs may come as a function (values still on the device): it is called only to redraw, at
    most every `interval` seconds, as Keras's Progbar redraws.
    """

    reads_logs_lazily = True

    def __init__(self, **progbar_options: Any):
        super().__init__()
        self.seen = 0
        self.progbar: Progbar | None = None
        self.target: int | None = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False
        self._options = progbar_options  # clock=, stream=, dynamic_display= (tests)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _print(self, message: str) -> None:
        stream = self._options.get("stream") or sys.stdout
        stream.write(message + "\n")
        stream.flush()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._called_in_fit = True

    def on_test_begin(self, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            self._print(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._finalize_progbar(logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._finalize_progbar(logs)

    def _reset_progbar(self) -> None:
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self) -> None:
        if self.progbar is None:
            self.progbar = Progbar(
                target=self.target,
                verbose=self.verbose,
                unit_name="step",
                stateless_metrics=set(),  # logs are already running averages
                **self._options,
            )

    def _update_progbar(self, batch: int, logs: dict | None) -> None:
        self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            if callable(logs):
                logs = pythonify_logs(logs()) if self.progbar.due() else None
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs: dict | None) -> None:
        self._maybe_init_progbar()
        if callable(logs):
            logs = pythonify_logs(logs())
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)
