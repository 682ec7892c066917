"""Golden values from real Keras 3: a model built and run in Keras, saved as `.keras`, loaded by
lstmkit and exported; ONNX Runtime's outputs equal Keras's own."""

from __future__ import annotations

import keras
import numpy as np

import lstmkit
from tests.export.helpers import TOL, run, session


def test_keras_model_through_lstmkit_to_onnx(tmp_path):
    k = keras.layers
    ids = keras.Input((None,), dtype="int32")
    h = k.Embedding(20, 6, mask_zero=True)(ids)
    h = k.Bidirectional(k.LSTM(5, return_sequences=True, recurrent_activation="hard_sigmoid"))(h)
    h = k.GRU(4, go_backwards=True)(h)
    out = k.Dense(3, activation="softmax")(h)
    model = keras.Model(ids, out)
    rng = np.random.default_rng(0)
    model.set_weights([0.5 * rng.normal(size=w.shape).astype("float32")
                       for w in model.get_weights()])  # fmt: skip
    path = tmp_path / "m.keras"
    model.save(path)
    data = rng.integers(1, 20, size=(3, 7)).astype("int32")
    data[0, 5:] = 0  # right padding
    data[1, :3] = 0  # left padding
    want = np.asarray(model.predict(data, verbose=0))
    sess = session(lstmkit.models.load_model(path))
    np.testing.assert_allclose(run(sess, data)[0], want, rtol=TOL, atol=TOL)
