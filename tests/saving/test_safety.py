"""Opening files is safe: no code from a file runs, broken or hostile files are clear errors that
name the file and the part, and a failed load leaves the model in memory as it was."""

import io
import warnings
import zipfile

import h5py
import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.layers import Layer
from lstmkit.models import load_model
from lstmkit.saving.keras_format import KerasFileError
from tests.saving import saving_helpers as H

L = lstmkit.layers


def tiny(compiled=True):
    x = lstmkit.Input((H.T, H.F), name="x")
    h = L.LSTM(H.U, name="lstm", **H.Z)(x)
    model = lstmkit.Model(x, L.Dense(2, name="dense", **H.ZD)(h), name="tiny")
    if compiled:
        model.compile(optimizer=lstmkit.optimizers.Adam(0.01), loss="mse")
    return model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A trained model and its file (so it holds optimizer slots too)."""
    model = tiny()
    H.randomize(model, seed=1)
    x = H.seq_data(seed=2)
    model.fit(x, np.zeros((H.B, 2), "float32"), epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("good") / "good.keras"
    model.save(path)
    return model, path


@pytest.fixture(scope="module")
def good(trained):
    return trained[1]


def members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def edit_weights(data, edit):
    """The HDF5 bytes `data` after `edit(h5py.File)`."""
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "a") as f:
        edit(f)
    return buffer.getvalue()


def replace_dataset(path, shape):
    def edit(f):
        del f[path]
        f[path] = np.zeros(shape, "float32")

    return edit


# ----- archives ----------------------------------------------------------------------------------
@pytest.mark.parametrize("evil", ["../evil.txt", "/tmp/lstmkit_evil_abs.txt", "a/../../evil.txt"])
def test_entries_outside_the_archive_are_refused(good, tmp_path, evil):
    path = write_zip(tmp_path / "evil.keras", {**members(good), evil: b"pwned"})
    with pytest.raises(KerasFileError, match="outside the archive") as e:
        load_model(path)
    assert str(path) in str(e.value) and evil in str(e.value)
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize("missing", ["config.json", "model.weights.h5"])
def test_missing_member(good, tmp_path, missing):
    entries = {k: v for k, v in members(good).items() if k != missing}
    path = write_zip(tmp_path / "m.keras", entries)
    with pytest.raises(KerasFileError, match=missing) as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_truncated_archive(good, tmp_path):
    data = good.read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(KerasFileError) as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_truncated_weights_member(good, tmp_path):
    entries = members(good)
    entries["model.weights.h5"] = entries["model.weights.h5"][:3000]
    path = write_zip(tmp_path / "m.keras", entries)
    with pytest.raises(KerasFileError, match="model.weights.h5") as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_not_a_zip(tmp_path):
    path = tmp_path / "m.keras"
    path.write_text("hello")
    with pytest.raises(KerasFileError, match="not a readable"):
        load_model(path)


def test_bad_json(good, tmp_path):
    path = write_zip(tmp_path / "m.keras", {**members(good), "config.json": b"{not json"})
    with pytest.raises(KerasFileError, match="config.json"):
        load_model(path)


# ----- weights that do not fit -------------------------------------------------------------------
def test_wrong_shape_names_file_layer_and_shapes(good, tmp_path):
    entries = members(good)
    entries["model.weights.h5"] = edit_weights(
        entries["model.weights.h5"], replace_dataset("layers/lstm/cell/vars/1", (3, 3))
    )
    path = write_zip(tmp_path / "m.keras", entries)
    with pytest.raises(KerasFileError) as e:
        load_model(path)
    msg = str(e.value)
    assert str(path) in msg and "layers/lstm/cell/vars/1" in msg
    assert "(3, 3)" in msg and f"({H.U}, {4 * H.U})" in msg


def test_load_weights_checks_everything_before_assigning(trained, tmp_path):
    """The first layers of the file are fine, the last one is not: nothing may change."""
    model, good = trained
    H.randomize(model, seed=5)
    model.fit(H.seq_data(seed=6), np.ones((H.B, 2), "float32"), epochs=1, verbose=0)
    before = model.get_weights()
    state_before = [np.asarray(v) for v in _leaves(model)]
    for edit in (
        replace_dataset("layers/dense/vars/1", (3,)),  # a weight of the wrong shape
        lambda f: f.__delitem__("layers/dense"),  # a layer missing
        replace_dataset("optimizer/vars/4", (2, 2)),  # an optimizer slot of the wrong shape
    ):
        weights = edit_weights(members(good)["model.weights.h5"], edit)
        path = tmp_path / "bad.weights.h5"
        path.write_bytes(weights)
        with pytest.raises(KerasFileError) as e:
            model.load_weights(path)
        assert str(path) in str(e.value)
        for a, b in zip(model.get_weights(), before):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(_leaves(model), state_before):
            np.testing.assert_array_equal(np.asarray(a), b)
    model.load_weights(good)  # and the good file still loads into it
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def _leaves(model):
    import jax

    return jax.tree_util.tree_leaves(model.optimizer.opt_state)


def test_links_out_of_the_file_are_refused(good, tmp_path):
    (tmp_path / "other.h5").write_bytes(members(good)["model.weights.h5"])

    def link(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink(str(tmp_path / "other.h5"),
                                                     "layers/dense/vars/0")  # fmt: skip

    path = tmp_path / "linked.weights.h5"
    path.write_bytes(edit_weights(members(good)["model.weights.h5"], link))
    with pytest.raises(KerasFileError, match="ExternalLink"):
        tiny(compiled=False).load_weights(path)


# ----- code in files -----------------------------------------------------------------------------
def test_lambda_layer_written_by_keras_is_refused(tmp_path):
    warnings.simplefilter("ignore")
    x = keras.Input((H.F,))
    model = keras.Model(x, keras.layers.Lambda(lambda t: t * 2, name="double")(x))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(KerasFileError, match="Lambda") as e:
        load_model(tmp_path / "lambda.keras")
    assert "double" in str(e.value) and "custom_objects" in str(e.value)


def _edit_config(good, tmp_path, edit):
    import json

    entries = members(good)
    config = json.loads(entries["config.json"])
    edit(config)
    entries["config.json"] = json.dumps(config).encode()
    return write_zip(tmp_path / "edited.keras", entries)


def _dense_config(config):
    return next(e for e in config["config"]["layers"] if e["name"] == "dense")["config"]


@pytest.mark.parametrize(
    "activation, message",
    [
        ({"class_name": "__lambda__", "config": {"code": "YWJj", "defaults": None}}, "lambda"),
        (
            {
                "module": "os",
                "class_name": "function",
                "config": "system",
                "registered_name": "function",
            },
            "'system'",
        ),  # fmt: skip
        ({"module": "evil", "class_name": "Pwn", "config": {}, "registered_name": None}, "'Pwn'"),
    ],
)
def test_code_in_configs_is_refused(good, tmp_path, activation, message):
    path = _edit_config(good, tmp_path, lambda c: _dense_config(c).update(activation=activation))
    with pytest.raises(KerasFileError, match=message):
        load_model(path)


def test_unknown_layer_class_is_named(good, tmp_path):
    def edit(config):
        entry = next(e for e in config["config"]["layers"] if e["name"] == "dense")
        entry["class_name"] = "Conv7D"

    with pytest.raises(KerasFileError, match="Conv7D"):
        load_model(_edit_config(good, tmp_path, edit))


# ----- custom objects, only when given -----------------------------------------------------------
class Scale(Layer):
    """A custom layer: y = x * w * factor."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs):
        return inputs * self.w * self.factor

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "factor": self.factor}  # fmt: skip


def cube(x):
    return x * x * x


def test_custom_objects_only_through_custom_objects(tmp_path):
    x = lstmkit.Input((H.F,), name="x")
    y = L.Dense(2, activation=cube, name="dense", **H.ZD)(Scale(3.0, name="scale")(x))
    model = lstmkit.Model(x, y, name="custom")
    H.randomize(model, seed=3)
    model.save(tmp_path / "custom.keras")
    with pytest.raises(KerasFileError, match="Scale"):
        load_model(tmp_path / "custom.keras")
    with pytest.raises(KerasFileError, match="cube"):
        load_model(tmp_path / "custom.keras", custom_objects={"Scale": Scale})
    loaded = load_model(tmp_path / "custom.keras", custom_objects={"Scale": Scale, "cube": cube})
    assert loaded.get_layer("scale").factor == 3.0
    assert loaded.get_layer("dense").activation is cube
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
