"""`lstmkit.utils`: Keras 3's `keras.utils` helpers for sequence data, in numpy.

`pad_sequences`, `to_categorical`, `normalize` and `timeseries_dataset_from_array` behave as
Keras 3's; `set_random_seed` seeds lstmkit's global random stream (and `next_key` draws from it).
"""

from lstmkit import catalogue as _catalogue
from lstmkit.utils.numerical import normalize, to_categorical
from lstmkit.utils.random_seed import next_key, next_key_data, set_random_seed
from lstmkit.utils.sequences import pad_sequences
from lstmkit.utils.timeseries import timeseries_dataset_from_array

__all__ = [
    "next_key",
    "next_key_data",
    "normalize",
    "pad_sequences",
    "set_random_seed",
    "timeseries_dataset_from_array",
    "to_categorical",
]

# Datasets and diagrams (text branch): split_dataset, PyDataset / Sequence, plot_model.
from lstmkit.utils import data_utils, vis_utils  # noqa: E402
from lstmkit.utils.dataset_utils import split_dataset  # noqa: E402
from lstmkit.utils.model_visualization import model_to_dot, plot_model  # noqa: E402
from lstmkit.utils.py_dataset import PyDataset  # noqa: E402

Sequence = PyDataset  # Keras 3 keeps the Keras 2 name as an alias

__all__ += [
    "PyDataset",
    "Sequence",
    "data_utils",
    "model_to_dot",
    "plot_model",
    "split_dataset",
    "vis_utils",
]

# Downloading data sets into Keras's cache (~/.keras/datasets)
from lstmkit.utils.downloads import get_file  # noqa: E402

__all__ += ["get_file"]

# Custom objects by name (also lstmkit.saving's, as keras.utils and keras.saving share them)
from lstmkit.utils.object_registration import (  # noqa: E402
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

__all__ += ["CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
            "get_registered_object", "register_keras_serializable"]  # fmt: skip

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("utils", __name__)
