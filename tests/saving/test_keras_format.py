"""`.keras` files both ways with real Keras 3 as the oracle.

Keras writes a file, lstmkit's `load_model` opens it and predicts what Keras predicts; lstmkit
writes a file, `keras.models.load_model` opens it and predicts what lstmkit predicts; and for the
same architecture both write the same config.json and the same HDF5 layout. Keras is slow to build
and compile on a CPU, so the default run uses two models that between them hold every layer of the
spec (`zoo`, functional; `stateful`, Sequential); more architectures run with `-m slow`.
"""

import warnings

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.models import load_model
from tests.saving import saving_helpers as H

LOSSES = ["binary_crossentropy", "mse", "categorical_crossentropy", "mae"]
METRICS = [["mae"], [], ["mse"], []]


def _compile(model, lib):
    model.compile(optimizer=lib.optimizers.Adam(learning_rate=0.003, beta_2=0.99, clipnorm=1.0),
                  loss=LOSSES, metrics=METRICS)  # fmt: skip


@pytest.fixture(scope="module")
def zoo_files(tmp_path_factory):
    """The zoo as Keras writes it, as lstmkit rewrites what it read, and as lstmkit writes its
    own copy (built with lstmkit's layers), each compiled."""
    warnings.simplefilter("ignore")
    folder = tmp_path_factory.mktemp("zoo")
    # automatic names (stacked_rnn_cells_3, adam_7) count per process: start each build afresh
    keras.backend.clear_session()
    lstmkit.backend.clear_session()
    km = H.zoo(keras)
    H.randomize(km, seed=1)
    _compile(km, keras)
    km.save(folder / "keras.keras")
    lk = load_model(folder / "keras.keras")  # lstmkit's copy of the Keras model
    lk.save(folder / "rewritten.keras")
    lstmkit.backend.clear_session()
    lm = H.zoo(lstmkit)  # an independent lstmkit model
    H.randomize(lm, seed=2)
    _compile(lm, lstmkit)
    lm.save(folder / "lstmkit.keras")
    return km, lk, folder


def test_files_both_ways_predict_the_same(zoo_files):
    """Keras's file read by lstmkit, written back by lstmkit, read by Keras: all three models
    (Keras's, lstmkit's, Keras's of lstmkit's file) hold the same weights in the same layers
    and predict the same."""
    km, lk, folder = zoo_files
    kk = keras.models.load_model(folder / "rewritten.keras")
    names = [layer.name for layer in km.layers]
    assert [layer.name for layer in lk.layers] == names
    assert [layer.name for layer in kk.layers] == names
    for layer in km.layers:
        for a, b, c in zip(layer.get_weights(), lk.get_layer(layer.name).get_weights(),
                           kk.get_layer(layer.name).get_weights()):  # fmt: skip
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)
    x = H.zoo_data(seed=3)
    assert H.max_diff(lk.predict(x, verbose=0), kk.predict(x, verbose=0)) < 1e-5
    # compiled as Keras was: same optimizer configuration, same losses, both ways
    assert type(lk.optimizer).__name__ == "Adam"
    assert lk.optimizer.get_config() == km.optimizer.get_config()
    assert kk.optimizer.get_config() == km.optimizer.get_config()
    assert lk._compile_args["loss"] == LOSSES


def test_same_config_and_weight_layout_as_keras(zoo_files):
    _, _, folder = zoo_files
    k_config, k_layout = H.read_keras_file(folder / "keras.keras")
    for name in ("rewritten.keras", "lstmkit.keras"):
        config, layout = H.read_keras_file(folder / name)
        assert H.without_object_ids(config) == H.without_object_ids(k_config)
        assert layout == k_layout  # group paths, dataset shapes, name attributes
    assert "layers/bidirectional_2/forward_layer/cell/vars/2" in k_layout
    assert "layers/rnn/cell/cells/simple_rnn_cell/vars/0" in k_layout
    assert "optimizer/vars/1" in k_layout


def test_lstmkit_file_round_trip(zoo_files):
    _, lk, folder = zoo_files
    model = load_model(folder / "rewritten.keras")
    assert [layer.name for layer in model.layers] == [layer.name for layer in lk.layers]
    for a, b in zip(model.get_weights(), lk.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.layers, lk.layers):
        assert a.get_config() == b.get_config()


def test_stateful_sequential_both_ways(tmp_path):
    warnings.simplefilter("ignore")
    km = H.stateful(keras)
    H.randomize(km, seed=6)
    km.save(tmp_path / "k.keras")
    lk = load_model(tmp_path / "k.keras")
    lk.save(tmp_path / "l.keras")
    kk = keras.models.load_model(tmp_path / "l.keras")
    k_config, k_layout = H.read_keras_file(tmp_path / "k.keras")
    l_config, l_layout = H.read_keras_file(tmp_path / "l.keras")
    assert H.without_object_ids(l_config) == H.without_object_ids(k_config)
    assert l_layout == k_layout
    rng = np.random.default_rng(8)
    batches = [rng.integers(0, H.V, size=(2, H.T)).astype("int32") for _ in range(2)]
    batches[0][0, 3:] = 0
    for x in batches:  # the states carry over from batch to batch, on both sides (Keras 3
        assert H.max_diff(lk(x), kk(x)) < 1e-5  # carries them in calls, not across predict())
    assert H.max_diff(lk.get_layer("gru").states, kk.get_layer("gru").states) < 1e-5
    assert np.abs(np.asarray(lk.get_layer("gru").states[0])).max() > 0


def test_file_names_are_checked(tmp_path, zoo_files):
    _, lm, _ = zoo_files
    with pytest.raises(ValueError, match=r"\.keras"):
        lm.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        lm.save_weights(tmp_path / "m.h5")
    lm.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        lm.save(tmp_path / "m.keras", overwrite=False)
    with pytest.raises(ValueError, match=r"\.keras"):
        load_model(tmp_path / "m.weights.h5")


EXTRA = {
    "bidirectional": (H.bidirectional, H.seq_data),
    "sequential": (H.sequential, H.ids_data),
    "small": (H.small, H.seq_data),
    "shared": (H.shared, H.shared_data),
    "reorder": (H.reorder, H.reorder_data),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXTRA))
def test_more_architectures_both_ways(tmp_path, name):
    warnings.simplefilter("ignore")
    build, data = EXTRA[name]
    km, lm = build(keras), build(lstmkit)
    H.randomize(km, seed=11)
    H.randomize(lm, seed=12)
    km.save(tmp_path / "k.keras")
    lm.save(tmp_path / "l.keras")
    x = data(seed=13)
    kl, lk = load_model(tmp_path / "k.keras"), keras.models.load_model(tmp_path / "l.keras")
    assert H.max_diff(kl.predict(x, verbose=0), km.predict(x, verbose=0)) < 1e-5
    assert H.max_diff(lk.predict(x, verbose=0), lm.predict(x, verbose=0)) < 1e-5
    k_config, k_layout = H.read_keras_file(tmp_path / "k.keras")
    l_config, l_layout = H.read_keras_file(tmp_path / "l.keras")
    assert H.without_object_ids(l_config) == H.without_object_ids(k_config)
    assert l_layout == k_layout


def test_compile_config_with_objects_and_schedule(tmp_path):
    """Losses, metrics and schedules given as objects (serialized dicts in the file), and a
    Sequential that Keras built without an Input."""
    warnings.simplefilter("ignore")
    km = keras.Sequential([keras.layers.LSTM(H.U, **H.Z), keras.layers.Dense(2, **H.ZD)])
    km.build((None, H.T, H.F))
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 3, 0.5)
    km.compile(keras.optimizers.SGD(schedule, momentum=0.5), loss=keras.losses.Huber(),
               metrics=[keras.metrics.MeanAbsoluteError()])  # fmt: skip
    km.save(tmp_path / "m.keras")
    model = load_model(tmp_path / "m.keras")
    assert model.inputs[0].shape == (None, H.T, H.F)
    assert type(model._compile_args["loss"]).__name__ == "Huber"
    assert [type(m).__name__ for m in model._compile_args["metrics"]] == ["MeanAbsoluteError"]
    assert model.optimizer.schedule.get_config() == schedule.get_config()
    model.save(tmp_path / "again.keras")
    config = H.read_keras_file(tmp_path / "again.keras")[0]["compile_config"]
    assert config["optimizer"]["config"]["learning_rate"]["class_name"] == "ExponentialDecay"
    assert config["loss"]["class_name"] == "Huber"
