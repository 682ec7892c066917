"""Devices, meshes and layouts: Keras 3's `keras.distribution` names over `jax.sharding`.

A `DeviceMesh` is a `jax.sharding.Mesh` with named axes; a `TensorLayout` names, per array
dimension, the mesh axis it is split over (None: not split) and becomes a
`jax.sharding.NamedSharding`. Devices are written as Keras writes them, "cpu:0", "gpu:1", or
given as `jax.Device` objects.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def list_devices(device_type: str | None = None) -> list[str]:
    """Every device of one type ("cpu", "gpu", "tpu"; default: the accelerators if any, else
    the CPUs), across all processes once `initialize` ran, as "platform:id" strings."""
    backend = device_type.lower() if device_type else None
    return [f"{d.platform}:{d.id}" for d in jax.devices(backend=backend)]


def get_device_count(device_type: str | None = None) -> int:
    """How many devices `list_devices(device_type)` returns."""
    return jax.device_count(device_type.lower() if device_type else None)


def initialize(
    job_addresses: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    initialization_timeout: int | None = None,
    heartbeat_timeout_seconds: int | None = None,
    cluster_detection_method: str | None = None,
) -> None:
    """Join a multi-process (multi-host) run: `jax.distributed.initialize` under Keras's names.

    `job_addresses` is "host:port" of process 0 (the coordinator), or Keras's comma-separated
    list of every process's address (the first one is used). Unset arguments come from
    `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES` and
    `KERAS_DISTRIBUTION_PROCESS_ID`, else from JAX's cluster detection (SLURM, Open MPI, cloud
    TPU, Kubernetes). Call it first, before anything touches a device. lstmkit's extras, passed
    to JAX when given: `initialization_timeout` and `heartbeat_timeout_seconds` bound how long a
    process waits for the others to join and how soon it stops (with JAX's error naming the
    lost process) after another one died (JAX's defaults: 300 s and 100 s);
    `cluster_detection_method="mpi4py"` reads ranks from any MPI launcher through mpi4py.
    """
    env = os.environ
    if job_addresses is None:
        job_addresses = env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in env:
        num_processes = int(env["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in env:
        process_id = int(env["KERAS_DISTRIBUTION_PROCESS_ID"])
    coordinator = job_addresses
    if job_addresses and "," in job_addresses:
        addresses = [a.strip() for a in job_addresses.split(",")]
        if num_processes is not None and num_processes != len(addresses):
            raise ValueError(
                f"initialize: job_addresses lists {len(addresses)} processes {addresses}, but "
                f"num_processes={num_processes}."
            )
        coordinator = addresses[0]
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(
            f"initialize: process_id must be in [0, {num_processes}), got {process_id}."
        )
    extras = {
        k: v
        for k, v in (
            ("initialization_timeout", initialization_timeout),
            ("heartbeat_timeout_seconds", heartbeat_timeout_seconds),
            ("cluster_detection_method", cluster_detection_method),
        )
        if v is not None
    }
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        **extras,
    )


def _to_device(device: Any) -> jax.Device:
    if isinstance(device, jax.Device):
        return device
    platform, _, index = str(device).partition(":")
    for d in jax.devices(backend=platform):
        if d.id == int(index or 0):
            return d
    raise ValueError(f"Device not found: {device!r}; devices are {list_devices(platform)}.")


class DeviceMesh:
    """Devices arranged in a named grid (`jax.sharding.Mesh`): e.g. shape (2, 4) with axis
    names ("batch", "model"). `devices` defaults to `list_devices()`."""

    def __init__(
        self,
        shape: Sequence[int],
        axis_names: Sequence[str],
        devices: Sequence[Any] | None = None,
    ):
        if not shape or not axis_names:
            raise ValueError(
                f"Shape and axis_names cannot be empty. Received: shape={shape}, "
                f"axis_names={axis_names}"
            )
        if len(shape) != len(axis_names):
            raise ValueError(
                f"Shape and axis_names should have same size. Received: shape={shape}, "
                f"axis_names={axis_names}"
            )
        devices = np.array(list_devices() if devices is None else devices, dtype=object)
        if math.prod(shape) != devices.size:
            raise ValueError(
                f"Shape does not match the number of devices. Received: shape={shape}; "
                f"devices.shape={devices.shape}"
            )
        self._shape = tuple(shape)
        self._axis_names = list(axis_names)
        self._devices = devices.reshape(shape)
        self._backend_mesh: Mesh | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def axis_names(self) -> list[str]:
        return self._axis_names

    @property
    def devices(self) -> np.ndarray:
        return self._devices

    @property
    def backend_mesh(self) -> Mesh:
        """The `jax.sharding.Mesh`."""
        if self._backend_mesh is None:
            grid = np.array([_to_device(d) for d in self._devices.flat], dtype=object)
            self._backend_mesh = Mesh(grid.reshape(self._shape), tuple(self._axis_names))
        return self._backend_mesh

    def axis_size(self, name: str) -> int:
        return self._shape[self._axis_names.index(name)]

    def __repr__(self) -> str:
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"


class TensorLayout:
    """How one array is split over a mesh: per dimension a mesh axis name or None
    (`jax.sharding.NamedSharding`). The mesh may be given later (a `LayoutMap` fills it in)."""

    def __init__(self, axes: Sequence[str | None], device_mesh: DeviceMesh | None = None):
        self._axes = tuple(axes)
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def axes(self) -> tuple[str | None, ...]:
        return self._axes

    @property
    def device_mesh(self) -> DeviceMesh | None:
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh: DeviceMesh) -> None:
        if self._device_mesh is not None:
            raise ValueError(
                f"Cannot override device mesh value. Existing value is {self._device_mesh}"
            )
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def backend_layout(self) -> NamedSharding:
        """The `jax.sharding.NamedSharding`."""
        if self._device_mesh is None:
            raise ValueError("Cannot create sharding when device mesh is not set for TensorLayout.")
        return NamedSharding(self._device_mesh.backend_mesh, PartitionSpec(*self._axes))

    def _validate_axes(self) -> None:
        if self._device_mesh is not None:
            valid = set(self._device_mesh.axis_names)
            unknown = set(self._axes) - {None} - valid
            if unknown:
                raise ValueError(
                    f"Invalid axis names for Layout. Valid axis names: {valid}, Got {unknown}"
                )

    def __repr__(self) -> str:
        return f"<TensorLayout axes={self.axes}, device_mesh={self.device_mesh}>"


def distribute_tensor(tensor: Any, layout: TensorLayout | jax.sharding.Sharding) -> Any:
    """`tensor` laid out as `layout` says: a sharding constraint inside `jax.jit`, a
    `jax.device_put` outside (nothing to do when it already has that layout)."""
    sharding = layout.backend_layout if isinstance(layout, TensorLayout) else layout
    if isinstance(tensor, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(tensor, sharding)
    if isinstance(tensor, jax.Array) and tensor.sharding.is_equivalent_to(sharding, tensor.ndim):
        return tensor
    return jax.device_put(tensor, sharding)
