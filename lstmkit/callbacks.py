"""`lstmkit.callbacks`: Keras 3's training callbacks, same names, arguments and decisions."""

from lstmkit.training.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    History,
    LearningRateScheduler,
    TerminateOnNaN,
)
from lstmkit.training.monitor_callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from lstmkit.training.progress import ProgbarLogger

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
