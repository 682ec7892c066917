"""Model's file methods reach lstmkit.saving through the hook in lstmkit/models/files.py
(models sit below saving and do not import it)."""

import numpy as np
import pytest

import lstmkit
from lstmkit.models import files


def _model():
    x = lstmkit.Input(shape=(3,))
    return lstmkit.Model(x, lstmkit.layers.Dense(2)(x))


def test_models_load_model_and_model_save_use_the_saving_package(tmp_path):
    model = _model()
    model.save(tmp_path / "m.keras")
    loaded = lstmkit.models.load_model(tmp_path / "m.keras")
    data = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    model.save_weights(tmp_path / "m.weights.h5")
    other = _model()
    other.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(other.predict(data, verbose=0), model.predict(data, verbose=0))


def test_a_missing_file_function_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(files, "_FORMATS", {})
    with pytest.raises(RuntimeError, match="save_model: lstmkit's file formats are not loaded"):
        _model().save(tmp_path / "m.keras")
