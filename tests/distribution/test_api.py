"""lstmkit.distribution's API against Keras 3's keras.distribution, in this process (one device):
names, meshes, layouts, layout-map lookups, variable paths, scopes, errors. The 4-device and
multi-process behaviour runs in subprocesses (test_four_devices.py, test_multi_process.py)."""

import jax
import keras
import numpy as np
import pytest
from keras import distribution as kd

import lstmkit
from lstmkit import distribution as dl
from lstmkit.layers.base import ordered_leaves
from lstmkit.models.distributed import variable_paths


def test_list_devices_and_count_match_keras():
    assert dl.list_devices() == kd.list_devices()
    assert dl.list_devices("cpu") == kd.list_devices("cpu")
    assert dl.get_device_count() == kd.get_device_count() == len(jax.devices())


def test_mesh_and_layout_become_jax_sharding():
    mesh = dl.DeviceMesh((1,), ["batch"])
    assert mesh.shape == (1,) and mesh.axis_names == ["batch"]
    assert mesh.backend_mesh.shape == kd.DeviceMesh((1,), ["batch"]).backend_mesh.shape
    layout = dl.TensorLayout(("batch", None), mesh)
    sharding = layout.backend_layout
    assert isinstance(sharding, jax.sharding.NamedSharding)
    assert tuple(sharding.spec) == ("batch", None)
    assert repr(mesh) == repr(kd.DeviceMesh((1,), ["batch"]))


@pytest.mark.parametrize(
    "args",
    [((), ["batch"]), ((1, 1), ["batch"]), ((2,), ["batch"])],
    ids=["empty", "rank", "count"],
)
def test_mesh_errors_match_keras(args):
    with pytest.raises(ValueError) as theirs:
        kd.DeviceMesh(*args)
    with pytest.raises(ValueError) as ours:
        dl.DeviceMesh(*args)
    assert str(ours.value) == str(theirs.value)


def test_layout_with_an_unknown_axis_fails_like_keras():
    mesh_k, mesh_l = kd.DeviceMesh((1,), ["batch"]), dl.DeviceMesh((1,), ["batch"])
    with pytest.raises(ValueError, match="Invalid axis names") as theirs:
        kd.TensorLayout(("model",), mesh_k)
    with pytest.raises(ValueError) as ours:
        dl.TensorLayout(("model",), mesh_l)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="device mesh is not set"):
        _ = dl.TensorLayout(("batch",)).backend_layout


PATHS = [
    "sequential/lstm/lstm_cell/kernel",
    "sequential/lstm/lstm_cell/recurrent_kernel",
    "sequential/lstm/lstm_cell/bias",
    "dense/kernel",
    "dense_1/bias",
    "embedding/embeddings",
]


def _fill(lib_mesh, lib):
    layout_map = lib.LayoutMap(lib_mesh)
    layout_map[".*lstm.*kernel"] = (None, "model")
    layout_map[".*bias"] = ("model",)
    layout_map["dense/kernel"] = lib.TensorLayout((None, None))
    return layout_map


def test_layout_map_lookups_match_keras():
    theirs = _fill(kd.DeviceMesh((1, 1), ["batch", "model"]), kd)
    ours = _fill(dl.DeviceMesh((1, 1), ["batch", "model"]), dl)
    for path in PATHS:
        k, m = theirs[path], ours[path]
        assert (k is None) == (m is None), path
        if k is not None:
            assert m.axes == k.axes and m.device_mesh is ours.device_mesh, path
    assert list(ours) == list(theirs) and len(ours) == 3
    del ours["dense/kernel"]
    assert ours["dense/kernel"] is None


def test_layout_map_errors_match_keras():
    for lib in (kd, dl):
        layout_map = lib.LayoutMap(lib.DeviceMesh((1,), ["model"]))
        layout_map[".*kernel"] = (None, "model")
        layout_map["lstm.*"] = ("model",)
        with pytest.raises(ValueError, match="matches multiple layout specification keys"):
            layout_map["lstm/lstm_cell/kernel"]
        with pytest.raises(ValueError, match="already exist in the LayoutMap"):
            layout_map[".*kernel"] = (None,)
        with pytest.raises(ValueError, match="should be a TensorLayout type"):
            layout_map["bias"] = "model"


def test_data_parallel_layouts_match_keras():
    ours, theirs = dl.DataParallel(), kd.DataParallel()
    assert ours.batch_dim_name == theirs.batch_dim_name == "batch"
    assert ours.device_mesh.shape == theirs.device_mesh.shape
    assert ours.num_model_replicas == theirs.num_model_replicas
    assert ours.get_data_layout((8, 5, 3)).axes == theirs.get_data_layout((8, 5, 3)).axes

    class Var:
        path, shape = "dense/kernel", (3, 4)

    assert ours.get_variable_layout(Var()).axes == theirs.get_variable_layout(Var()).axes
    assert ours.get_tensor_layout("x") is None


def test_model_parallel_arguments_and_errors():
    mesh = dl.DeviceMesh((1, 1), ["data", "model"])
    layout_map = dl.LayoutMap(mesh)
    layout_map[".*kernel"] = (None, "model")
    mp = dl.ModelParallel(layout_map=layout_map)
    assert mp.batch_dim_name == "data" and mp.num_model_replicas == 1

    class Kernel:
        path, shape = "seq/lstm/lstm_cell/kernel", (3, 16)

    class Bias:
        path, shape = "seq/lstm/lstm_cell/bias", (16,)

    assert mp.get_variable_layout(Kernel()).axes == (None, "model")
    assert mp.get_variable_layout(Bias()).axes == (None,)
    with pytest.raises(ValueError, match="You must specify a layout_map"):
        dl.ModelParallel()
    with pytest.raises(ValueError, match="must be a `LayoutMap` instance"):
        dl.ModelParallel(layout_map={".*": (None,)})
    with pytest.raises(ValueError, match="batch_dim_name='batch' is not an axis"):
        dl.ModelParallel(layout_map=layout_map, batch_dim_name="batch")


def test_set_distribution_and_scope_restore():
    assert dl.distribution() is None
    outer, inner = dl.DataParallel(), dl.DataParallel(devices=dl.list_devices())
    with outer.scope():
        assert dl.distribution() is outer
        with inner.scope():
            assert dl.distribution() is inner
        assert dl.distribution() is outer
    assert dl.distribution() is None
    dl.set_distribution(outer)
    try:
        assert dl.distribution() is outer
    finally:
        dl.set_distribution(None)
    with pytest.raises(ValueError, match="expects a Distribution"):
        dl.set_distribution("data_parallel")


def test_distribute_tensor_outside_and_inside_jit():
    layout = dl.TensorLayout(("batch", None), dl.DeviceMesh((1,), ["batch"]))
    x = dl.distribute_tensor(np.ones((4, 2), np.float32), layout)
    assert x.sharding.is_equivalent_to(layout.backend_layout, 2)
    assert dl.distribute_tensor(x, layout) is x  # already laid out: untouched
    y = jax.jit(lambda a: dl.distribute_tensor(a * 2, layout))(x)
    np.testing.assert_array_equal(np.asarray(y), 2 * np.ones((4, 2)))


def test_initialize_checks_its_arguments_before_starting_jax():
    with pytest.raises(ValueError, match="lists 2 processes"):
        dl.initialize("10.0.0.1:1234,10.0.0.2:2345", num_processes=3, process_id=0)
    with pytest.raises(ValueError, match=r"process_id must be in \[0, 2\)"):
        dl.initialize("10.0.0.1:1234", num_processes=2, process_id=2)


def _models(lib):
    # one recurrent shape throughout: the initializers compile once per library
    layers = lib.layers
    i = lib.Input((5, 3))
    o = layers.Dense(2, name="head")(layers.LSTM(4, name="enc")(i))
    functional = lib.Model(i, o, name="fn")
    sequential = lib.Sequential(
        [
            lib.Input((5, 3)),
            layers.TimeDistributed(layers.Dense(3, name="td_dense"), name="td"),
            layers.Bidirectional(layers.LSTM(4, name="rec"), name="bi"),
        ],
        name="seq",
    )

    class Sub(lib.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.dense = layers.Dense(2, name="d")

        def call(self, x):
            return self.dense(x)

    subclassed = Sub()
    subclassed(np.zeros((2, 3), np.float32))
    # nested models keep the paths they were built with (a Sequential with an Input: its own
    # name; a functional model: none), the outer Sequential's own layers get its name
    i = lib.Input((3,))
    inner_fn = lib.Model(i, layers.Dense(2, name="d1")(i), name="inner_fn")
    inner_seq = lib.Sequential([lib.Input((2,)), layers.Dense(2, name="d2")], name="inner_seq")
    outer = lib.Sequential(
        [lib.Input((3,)), inner_fn, inner_seq, layers.Dense(1, name="d3")], name="outer"
    )
    return [functional, sequential, subclassed, outer]


def test_variable_paths_are_keras_variable_paths():
    """LayoutMap keys are regexes over these paths, so they must be Keras's own."""
    for theirs, ours in zip(_models(keras), _models(lstmkit)):
        assert ordered_leaves(variable_paths(ours)) == [v.path for v in theirs.weights]
