"""Activity regularizers survive a .keras file both ways and count in the loss as in Keras."""

import keras
import numpy as np

import lstmkit
from lstmkit import layers as L


def test_activity_regularizers_round_trip_through_keras(tmp_path):
    model = lstmkit.Sequential(
        [
            lstmkit.Input(shape=(3,), dtype="int32"),
            L.Embedding(5, 2, activity_regularizer="l1"),
            L.LSTM(4, activity_regularizer="l2"),
            L.Dense(1, activity_regularizer=lstmkit.regularizers.L1(0.1)),
        ]
    )
    model.compile("sgd", "mse")
    path = tmp_path / "m.keras"
    model.save(path)
    x, y = np.array([[1, 2, 3], [4, 0, 1]]), np.zeros((2, 1), "float32")
    theirs = keras.models.load_model(path)
    ours = lstmkit.models.load_model(path)
    assert type(theirs.layers[1].activity_regularizer).__name__ == "L2"
    want = theirs.evaluate(x, y, verbose=0)
    assert want > 0
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), want, rtol=1e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), want, rtol=1e-5)
