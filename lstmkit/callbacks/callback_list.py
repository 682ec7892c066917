"""CallbackList: calls every callback's hook, reading the logs from the device only when needed.

A batch hook may be handed its logs as a zero-argument function (the trainer's running metrics,
still on the device). Callbacks that do not override the hook are skipped; the progress bar
(`reads_logs_lazily`) calls the function only when it redraws; any other callback overriding
the hook gets plain floats, read once per call and shared by all of them (as Keras).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lstmkit.callbacks.basic import History
from lstmkit.callbacks.callback import Callback, pythonify_logs
from lstmkit.callbacks.progress import ProgbarLogger

_HOOKS_WITH_INDEX = (
    "on_batch_begin",
    "on_batch_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
_HOOKS = tuple(
    f"on_{stage}_{edge}" for stage in ("train", "test", "predict") for edge in ("begin", "end")
)
# Callback's default on_train_batch_* calls the legacy on_batch_* alias.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}

Logs = dict | Callable[[], dict] | None


def _overrides(callback: Any, hook: str) -> bool:
    """Whether `callback` does something on `hook` (Callback's own hooks do nothing)."""
    names = (hook, _ALIASES[hook]) if hook in _ALIASES else (hook,)
    cls = type(callback)
    if any(n in vars(callback) for n in names):  # a hook set on the instance (LambdaCallback)
        return True
    return any(getattr(cls, n, None) is not getattr(Callback, n, None) for n in names)


class CallbackList(Callback):
    """Calls every callback's hook in order, with the same (pythonified) logs dict.

    With ``add_history`` / ``add_progbar`` a History and a ProgbarLogger are appended unless the
    list has them; ``params`` (e.g. ``verbose``, ``epochs``, ``steps``) go to every callback.
    """

    def __init__(
        self,
        callbacks: list | None = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ):
        super().__init__()
        self.callbacks: list[Callback] = list(callbacks) if callbacks else []
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self._targets: dict[str, list] = {}
        self.set_model(model)
        self.set_params(params)

    @property
    def history(self) -> History | None:
        return self._history

    def set_params(self, params: dict) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model: Any) -> None:
        if model is None:
            return
        self.model = model
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)
        self._targets = {}

    def wants(self, hook: str) -> bool:
        """Whether any callback acts on `hook` (so the loop can skip preparing its logs)."""
        return bool(self._targets_for(hook))

    def _targets_for(self, hook: str) -> list:
        if hook not in self._targets:
            self._targets[hook] = [c for c in self.callbacks if _overrides(c, hook)]
        return self._targets[hook]

    def _call(self, hook: str, *args: Any, logs: Logs = None) -> None:
        targets = self._targets_for(hook)
        if not callable(logs):
            logs = pythonify_logs(logs)
            for callback in targets:
                getattr(callback, hook)(*args, logs)
            return
        read: dict | None = None
        for callback in targets:
            if getattr(callback, "reads_logs_lazily", False):
                getattr(callback, hook)(*args, logs)
                continue
            if read is None:
                read = pythonify_logs(logs())
            getattr(callback, hook)(*args, read)


def _make_hook(hook: str, with_index: bool):
    if with_index:

        def method(self, index: int, logs: Logs = None) -> None:
            self._call(hook, index, logs=logs)
    else:

        def method(self, logs: Logs = None) -> None:
            self._call(hook, logs=logs)

    method.__name__ = hook
    method.__doc__ = f"Calls ``{hook}`` on every callback."
    return method


for _hook in _HOOKS_WITH_INDEX:
    setattr(CallbackList, _hook, _make_hook(_hook, True))
for _hook in _HOOKS:
    setattr(CallbackList, _hook, _make_hook(_hook, False))
