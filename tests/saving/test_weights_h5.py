"""`.weights.h5` both ways: Keras's save_weights into lstmkit's load_weights and back, for a model
whose Keras layer order differs from lstmkit's (so layers must be matched as Keras numbers them)."""

import warnings

import keras
import numpy as np

import lstmkit
from tests.saving import saving_helpers as H


def same_layer_weights(kmodel, lmodel):
    for kl in kmodel.layers:
        for a, b in zip(kl.get_weights(), lmodel.get_layer(kl.name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_weights_files_both_ways(tmp_path):
    warnings.simplefilter("ignore")
    km, lm = H.reorder(keras), H.reorder(lstmkit)
    x = H.reorder_data(seed=1)

    H.randomize(km, seed=2)
    km.save_weights(tmp_path / "k.weights.h5")
    lm.load_weights(tmp_path / "k.weights.h5")
    same_layer_weights(km, lm)
    assert H.max_diff(lm.predict(x, verbose=0), km.predict(x, verbose=0)) < 1e-5

    H.randomize(lm, seed=3)
    lm.save_weights(tmp_path / "l.weights.h5")
    km.load_weights(tmp_path / "l.weights.h5")
    same_layer_weights(km, lm)
    assert H.max_diff(km.predict(x, verbose=0), lm.predict(x, verbose=0)) < 1e-5
    assert H.h5_layout(tmp_path / "l.weights.h5") == H.h5_layout(tmp_path / "k.weights.h5")

    lm.save(tmp_path / "l.keras")  # a .keras file's weights load too
    H.randomize(lm, seed=4)
    lm.load_weights(tmp_path / "l.keras")
    same_layer_weights(km, lm)
