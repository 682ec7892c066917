"""Precision, Recall and the confusion counts against Keras 3: thresholds (one, several, evenly
spaced), class_id, top_k, sample weights, configs, and "precision"/"recall" in compile."""

import keras
import numpy as np
import pytest

import lstmkit

R = np.random.default_rng(0)
Y_TRUE = (R.uniform(size=(8, 3)) > 0.5).astype(np.float32)
Y_PRED = R.uniform(size=(8, 3)).astype(np.float32)
Y_PRED[0, 0], Y_PRED[1, 1], Y_PRED[2, 2] = 0.5, 0.0, 1.0  # on the thresholds
WEIGHTS = R.uniform(size=(8,)).astype(np.float32)
OPTIONS = [{}, {"thresholds": [0.0, 0.5, 1.0]}, {"thresholds": [0.3, 0.7]}, {"class_id": 1},
           {"top_k": 2}, {"top_k": 1, "class_id": 2, "thresholds": 0.2}]  # fmt: skip
CASES = [(c, o) for c in ("Precision", "Recall") for o in OPTIONS] + [
    (c, o) for c in ("TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives")
    for o in OPTIONS[1:2]
]  # fmt: skip


@pytest.mark.parametrize("cls, options", CASES)
def test_matches_keras(cls, options):
    k = getattr(keras.metrics, cls)(name="m", **options)
    ours = getattr(lstmkit.metrics, cls)(name="m", **options)
    for m in (k, ours):
        m.update_state(Y_TRUE, Y_PRED, sample_weight=WEIGHTS)
        m.update_state(Y_TRUE[::-1], Y_PRED)
    expected = np.asarray(k.result())
    assert np.shape(ours.result()) == expected.shape
    np.testing.assert_allclose(ours.result(), expected, rtol=1e-6, atol=1e-6)
    assert ours.get_config() == k.get_config()
    again = lstmkit.metrics.deserialize(keras.metrics.serialize(k))
    assert type(again) is type(ours) and again.get_config() == k.get_config()


def test_errors_as_keras():
    for lib in (keras, lstmkit):
        with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]"):
            lib.metrics.Precision(thresholds=[0.5, 1.5])
        with pytest.raises(ValueError, match="class_id is provided"):
            lib.metrics.Recall(class_id=0).update_state(Y_TRUE[:, 0], Y_PRED[:, 0])


def test_compile_by_name_logs_as_keras():
    x = R.normal(size=(16, 3)).astype(np.float32)
    y = (R.uniform(size=(16, 1)) > 0.5).astype(np.float32)
    logs, weights = [], []
    for lib in (keras, lstmkit):
        # (a Dense classifier: the metrics are what is tested, and it compiles fast)
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1, activation="sigmoid")])
        if weights:
            model.set_weights(weights)  # Keras's initial weights
        weights = model.get_weights()
        model.compile("adam", "binary_crossentropy",
                      metrics=["precision", lib.metrics.Recall(0.3, name="recall")])  # fmt: skip
        logs.append(model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history)
    assert list(logs[1]) == list(logs[0])
    for key in logs[0]:
        np.testing.assert_allclose(logs[1][key], logs[0][key], rtol=1e-5, err_msg=key)
