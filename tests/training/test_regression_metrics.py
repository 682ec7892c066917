"""Forecasting's losses and metrics against Keras 3: mean absolute percentage error, mean
squared logarithmic error (functions, losses, metrics, "mape"/"msle") and RootMeanSquaredError."""

import keras
import numpy as np
import pytest

import lstmkit

R = np.random.default_rng(0)
Y_TRUE = R.normal(size=(6, 3, 2)).astype(np.float32)
Y_TRUE[0, 0, 0] = 0.0  # MAPE divides by max(|y|, epsilon)
Y_PRED = R.normal(size=(6, 3, 2)).astype(np.float32)
WEIGHTS = [None, R.uniform(size=(6,)).astype(np.float32), R.uniform(size=(6, 3)).astype(np.float32)]
NAMES = ["mean_absolute_percentage_error", "mean_squared_logarithmic_error"]
CLASSES = ["MeanAbsolutePercentageError", "MeanSquaredLogarithmicError"]


@pytest.mark.parametrize("name", NAMES)
def test_functions_match_keras(name):
    for yt, yp in ((Y_TRUE, Y_PRED), (Y_TRUE[:, 0, :1], Y_PRED[:, 0, 0])):  # ranks differ by one
        expected = np.asarray(getattr(keras.losses, name)(yt, yp))
        np.testing.assert_allclose(getattr(lstmkit.losses, name)(yt, yp), expected, rtol=1e-6)
        np.testing.assert_allclose(getattr(lstmkit.metrics, name)(yt, yp), expected, rtol=1e-6)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("w", [0, 2])  # (Keras's losses refuse (6,) weights on (6, 3) values)
def test_losses_match_keras(cls, w):
    k, ours = getattr(keras.losses, cls)(), getattr(lstmkit.losses, cls)()
    expected = float(k(Y_TRUE, Y_PRED, sample_weight=WEIGHTS[w]))
    assert float(ours(Y_TRUE, Y_PRED, sample_weight=WEIGHTS[w])) == pytest.approx(expected, 1e-6)
    assert ours.get_config() == k.get_config() | {"reduction": "sum_over_batch_size"}


@pytest.mark.parametrize("cls", ["RootMeanSquaredError", *CLASSES])
@pytest.mark.parametrize("w", range(3))
def test_metrics_match_keras(cls, w):
    k, ours = getattr(keras.metrics, cls)(), getattr(lstmkit.metrics, cls)()
    for m in (k, ours):
        m.update_state(Y_TRUE, Y_PRED, sample_weight=WEIGHTS[w])
        m.update_state(Y_TRUE[:2, 0], Y_PRED[:2, 0])
    assert float(ours.result()) == pytest.approx(float(k.result()), rel=1e-6)
    assert ours.get_config() == k.get_config()
    assert type(lstmkit.metrics.deserialize(keras.metrics.serialize(k))) is type(ours)


def test_compile_by_name_logs_as_keras():
    x = R.normal(size=(16, 3)).astype(np.float32)
    y = np.abs(R.normal(size=(16, 2))).astype(np.float32) + 0.5
    logs, weights = [], []
    for lib in (keras, lstmkit):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])  # compiles fast
        if weights:
            model.set_weights(weights)  # Keras's initial weights
        weights = model.get_weights()
        rmse = lib.metrics.RootMeanSquaredError(name="rmse")  # (Keras numbers unnamed ones)
        model.compile("sgd", loss="mape", metrics=["msle", "MAPE", rmse])
        logs.append(model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history)
    assert list(logs[1]) == list(logs[0])
    for key in logs[0]:
        np.testing.assert_allclose(logs[1][key], logs[0][key], rtol=1e-5, err_msg=key)
