"""Scale out on JAX's own runtime, with Keras 3's `keras.distribution` API.

    lstmkit.distribution.set_distribution(lstmkit.distribution.DataParallel())
    model.fit(x, y, batch_size=64)   # each batch split over every device

`DataParallel` replicates the model and splits each batch over the devices; `ModelParallel`
also splits the variables a `LayoutMap` names over a mesh axis. Several hosts (or processes)
join with `initialize(...)` first; see docs/distribution.md.
"""

from lstmkit.distribution.mesh import (
    DeviceMesh,
    TensorLayout,
    distribute_tensor,
    get_device_count,
    initialize,
    list_devices,
)
from lstmkit.distribution.strategies import (
    DataParallel,
    Distribution,
    LayoutMap,
    ModelParallel,
    distribution,
    set_distribution,
)

__all__ = [
    "DataParallel", "DeviceMesh", "Distribution", "LayoutMap", "ModelParallel", "TensorLayout",
    "distribute_tensor", "distribution", "get_device_count", "initialize", "list_devices",
    "set_distribution",
]  # fmt: skip
