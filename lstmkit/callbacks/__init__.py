"""`lstmkit.callbacks`: Keras 3's training callbacks, same names, arguments and decisions."""

from lstmkit import catalogue as _catalogue
from lstmkit.callbacks.backup_and_restore import BackupAndRestore
from lstmkit.callbacks.basic import CSVLogger, History, LearningRateScheduler, TerminateOnNaN
from lstmkit.callbacks.callback import Callback, pythonify_logs
from lstmkit.callbacks.callback_list import CallbackList
from lstmkit.callbacks.lambda_callback import LambdaCallback
from lstmkit.callbacks.monitor import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from lstmkit.callbacks.progress import Progbar, ProgbarLogger
from lstmkit.callbacks.tensorboard import TensorBoard

__all__ = [
    "BackupAndRestore",
    "LambdaCallback",
    "TensorBoard",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "Progbar",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "pythonify_logs",
]

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("callbacks", __name__)
