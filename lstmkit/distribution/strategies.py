"""Distributions (Keras 3's `DataParallel`, `ModelParallel`), the `LayoutMap` that says how each
variable is split, and the global current distribution (`set_distribution` / `scope()`).

A distribution answers three questions: the layout of a batch of data (split along its first
axis over the mesh's batch axis), the layout of a variable (replicated, or as the layout map
says for its path), and how many model replicas there are. fit/evaluate/predict ask them
(`lstmkit.distribution.placement`); the math is the same with or without one.
"""

from __future__ import annotations

import collections
import contextlib
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import numpy as np

from lstmkit.distribution.mesh import DeviceMesh, TensorLayout, list_devices

DEFAULT_BATCH_DIM_NAME = "batch"
_CURRENT: dict[str, Any] = {"distribution": None}


def distribution() -> Distribution | None:
    """The current distribution (None: everything runs on the default device)."""
    return _CURRENT["distribution"]


def set_distribution(value: Distribution | None) -> None:
    """Make `value` the current distribution for every later fit/evaluate/predict and load."""
    if value is not None and not isinstance(value, Distribution):
        raise ValueError(
            "set_distribution expects a Distribution (DataParallel, ModelParallel) or None, "
            f"got {type(value).__name__}."
        )
    _CURRENT["distribution"] = value


class Distribution:
    """Base class: a device mesh, the name of its batch axis, and the layouts it gives."""

    def __init__(
        self,
        device_mesh: DeviceMesh,
        batch_dim_name: str | None = None,
        auto_shard_dataset: bool = True,
    ):
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self._auto_shard_dataset = auto_shard_dataset
        self._num_processes = jax.process_count()
        self._process_id = jax.process_index()
        self._is_multi_process = self._num_processes > 1

    @property
    def device_mesh(self) -> DeviceMesh:
        return self._device_mesh

    @property
    def batch_dim_name(self) -> str | None:
        return self._batch_dim_name

    @property
    def num_processes(self) -> int:
        return self._num_processes

    @property
    def auto_shard_dataset(self) -> bool:
        """Arrays given to fit in a multi-process run are each process's own share: every
        process passes its part of the data (lstmkit does not split a dataset for you)."""
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, value: bool) -> None:
        self._auto_shard_dataset = value

    @property
    def num_model_replicas(self) -> int:
        raise NotImplementedError

    @property
    def data_shard_id(self) -> int:
        """Which share of the data this process feeds."""
        replicas = self.num_model_replicas
        if replicas >= self._num_processes:
            return self._process_id
        return self._process_id // (self._num_processes // replicas)

    def get_data_layout(self, data_shape: Sequence[int]) -> TensorLayout:
        """Data are split along their first (batch) axis over the mesh's batch axis."""
        axes: list[str | None] = [None] * len(data_shape)
        axes[0] = self._batch_dim_name
        return TensorLayout(axes, self._device_mesh)

    def get_variable_layout(self, variable: Any) -> TensorLayout:
        """Replicated on every device unless the variable carries its own `_layout`."""
        layout = getattr(variable, "_layout", None)
        if layout is not None:
            return layout
        return TensorLayout([None] * len(variable.shape), self._device_mesh)

    def get_tensor_layout(self, path: str) -> TensorLayout | None:
        return None

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Make this distribution current inside a `with` block."""
        previous = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)

    def distribute_dataset(self, dataset: Any) -> Any:
        """Keras's hook for tf.data; arrays need nothing (each process gives its own share)."""
        return dataset

    def __repr__(self) -> str:
        return f"<{type(self).__name__} device_mesh={self.device_mesh}>"


class DataParallel(Distribution):
    """Every device holds the whole model; each batch is split over the devices (a 1-D mesh of
    `devices`, default every device of `list_devices()`, or the first axis of `device_mesh`)."""

    def __init__(
        self,
        device_mesh: DeviceMesh | None = None,
        devices: Sequence[Any] | None = None,
        auto_shard_dataset: bool = True,
    ):
        if device_mesh is not None:
            if not isinstance(device_mesh, DeviceMesh):
                raise ValueError(
                    "Expect `mesh` to be an instance of `DeviceMesh`. "
                    f"Received: mesh={device_mesh} (of type {type(device_mesh)})"
                )
            if device_mesh.devices.ndim != 1:
                warnings.warn(
                    "Expect the input mesh to be 1D, but received mesh.devices.ndim="
                    f"{device_mesh.devices.ndim}. The first axis will be used for "
                    "data-parallel sharding.",
                    stacklevel=2,
                )
            batch_dim = device_mesh.axis_names[0]
        else:
            devices = np.array(list_devices() if not devices else devices, dtype=object)
            batch_dim = DEFAULT_BATCH_DIM_NAME
            device_mesh = DeviceMesh(devices.shape, [batch_dim], devices)
        super().__init__(device_mesh, batch_dim, auto_shard_dataset)

    @property
    def num_model_replicas(self) -> int:
        return self.device_mesh.axis_size(self.batch_dim_name)


class ModelParallel(Distribution):
    """Variables split as `layout_map` says (by regex over their paths, e.g.
    "sequential/lstm/lstm_cell/kernel"), the others replicated; batches split over the mesh's
    `batch_dim_name` axis (default: its first axis)."""

    def __init__(
        self,
        *,
        layout_map: LayoutMap | None = None,
        batch_dim_name: str | None = None,
        auto_shard_dataset: bool = True,
        **kwargs: Any,
    ):
        kwargs.pop("device_mesh", None)  # Keras 3.0 took it; the layout map's mesh is used
        if kwargs:
            raise TypeError(f"ModelParallel: unexpected keyword argument(s) {sorted(kwargs)}.")
        if layout_map is None:
            raise ValueError("You must specify a layout_map argument.")
        if not isinstance(layout_map, LayoutMap):
            raise ValueError(
                "Argument `layout_map` must be a `LayoutMap` instance. "
                f"Received: layout_map={layout_map}"
            )
        mesh = layout_map.device_mesh
        batch_dim_name = batch_dim_name or mesh.axis_names[0]
        if batch_dim_name not in mesh.axis_names:
            raise ValueError(
                f"ModelParallel: batch_dim_name={batch_dim_name!r} is not an axis of the mesh "
                f"{mesh.axis_names}."
            )
        super().__init__(mesh, batch_dim_name, auto_shard_dataset)
        self._layout_map = layout_map
        replicas, procs = self.num_model_replicas, self.num_processes
        if self._is_multi_process and procs > replicas and procs % replicas:
            raise ValueError(
                "If `num_processes` is greater than `num_model_replicas`, `num_processes` "
                f"must be divisible by `num_model_replicas`. Got num_processes={procs}, "
                f"num_model_replicas={replicas}."
            )

    @property
    def num_model_replicas(self) -> int:
        return self.device_mesh.axis_size(self.batch_dim_name)

    def get_variable_layout(self, variable: Any) -> TensorLayout:
        layout = getattr(variable, "_layout", None)
        if layout is not None:
            return layout
        layout = self._layout_map[variable.path]
        if layout is not None:
            return layout
        return TensorLayout([None] * len(variable.shape), self.device_mesh)

    def get_tensor_layout(self, path: str) -> TensorLayout | None:
        return self._layout_map[path]


class LayoutMap(collections.abc.MutableMapping):
    """Variable path -> `TensorLayout`. A lookup takes the exact key, else the one key that
    matches the whole path as a regex (two matching keys are an error; none gives None).
    Values may be given as tuples of axis names: `layout_map[".*kernel"] = (None, "model")`."""

    def __init__(self, device_mesh: DeviceMesh):
        self._layout_map: collections.OrderedDict[str, TensorLayout] = collections.OrderedDict()
        self._device_mesh = device_mesh

    def __getitem__(self, key: str) -> TensorLayout | None:
        if key in self._layout_map:
            return self._layout_map[key]
        matches = [p for p in self._layout_map if re.fullmatch(p, key)]
        if len(matches) > 1:
            raise ValueError(
                f"Path '{key}' matches multiple layout specification keys: {matches}. Please "
                "make sure each tensor/variable path only matches at most one layout "
                "specification key in the LayoutMap."
            )
        return self._layout_map[matches[0]] if matches else None

    def __setitem__(self, key: str, layout: Any) -> None:
        if key in self._layout_map:
            raise ValueError(
                f"{key} already exist in the LayoutMap with value {self._layout_map[key]}. "
                "Please make sure to not use duplicated keys."
            )
        if isinstance(layout, (tuple, list)):
            layout = TensorLayout(axes=layout, device_mesh=None)
        if not isinstance(layout, TensorLayout):
            raise ValueError(f"{layout} should be a TensorLayout type, got {type(layout)}")
        if layout.device_mesh is None and self._device_mesh is not None:
            layout.device_mesh = self._device_mesh
        self._layout_map[key] = layout

    def __delitem__(self, key: str) -> TensorLayout:
        return self._layout_map.pop(key)

    def __len__(self) -> int:
        return len(self._layout_map)

    def __iter__(self) -> Iterator[str]:
        return iter(self._layout_map)

    @property
    def device_mesh(self) -> DeviceMesh:
        return self._device_mesh
