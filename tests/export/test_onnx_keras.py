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


def test_keras_conv_attention_merging_model_to_onnx(tmp_path):
    """Conv1D (causal, dilated), MaxPooling1D ('same'), Attention and MultiHeadAttention over a
    masked LSTM's outputs, the normalizations, Add, Concatenate and Dot, built and run in Keras
    (the loaded file drops Keras's recorded masks and calls MultiHeadAttention again)."""
    k = keras.layers
    ids, x = keras.Input((None,), dtype="int32"), keras.Input((None, 3))
    seq = k.LSTM(5, return_sequences=True)(k.Embedding(20, 6, mask_zero=True)(ids))
    conv = k.MaxPooling1D(2, padding="same")(k.Conv1D(5, 3, padding="causal", dilation_rate=2)(x))
    att = k.LayerNormalization()(k.Attention(use_scale=True)([conv, seq]))  # value mask: seq's
    pooled = k.GlobalAveragePooling1D()(k.BatchNormalization()(att))
    h = k.concatenate([k.add([pooled, k.GlobalMaxPooling1D()(conv)]), pooled])
    cosine = k.Dot(axes=1, normalize=True)([h, k.Dense(10)(h)])
    mha = k.GlobalAveragePooling1D()(k.MultiHeadAttention(2, 3)(seq, seq))  # both masked
    model = keras.Model([ids, x], [k.Dense(3, activation="softmax")(h), cosine, mha])
    rng = np.random.default_rng(1)
    weights = [np.abs(w) + 0.5 if "variance" in v.path else 0.5 * rng.normal(size=w.shape)
               for v, w in zip(model.weights, model.get_weights())]  # fmt: skip
    model.set_weights([w.astype("float32") for w in weights])
    data = rng.integers(1, 20, size=(3, 7)).astype("int32")
    data[0, 5:] = 0  # right padding
    data[1, :3] = 0  # left padding
    _assert_onnx_equals_keras(model, tmp_path, data, rng.normal(size=(3, 6, 3)).astype("float32"))


def test_keras_recorded_mask_operations_to_onnx(tmp_path):
    """Merges of masked sequences: Keras records their masks as operations in the file
    (not_equal, any, logical_or, expand_dims, zeros_like, ones_like, concatenate), which lstmkit
    reads as layers and the export maps."""
    k = keras.layers
    ids, f = keras.Input((None,), dtype="int32"), keras.Input((None, 4))
    e = k.Embedding(9, 4, mask_zero=True)(ids)
    masked = k.Masking()(f)
    outs = [k.GRU(3)(k.add([e, masked])),  # the recorded mask reaches a recurrent layer
            k.GlobalAveragePooling1D()(k.concatenate([e, masked], axis=1)),
            k.GlobalAveragePooling1D()(k.concatenate([e, f]))]  # fmt: skip
    model = keras.Model([ids, f], outs)
    rng = np.random.default_rng(2)
    model.set_weights([0.5 * rng.normal(size=w.shape).astype("float32")
                       for w in model.get_weights()])  # fmt: skip
    data = rng.integers(1, 9, size=(3, 6)).astype("int32")
    data[0, 4:] = 0
    data[1, :2] = 0
    features = rng.normal(size=(3, 6, 4)).astype("float32")
    features[2, 3:] = 0.0  # Masking: right padding
    features[0, 0] = 0.0
    loaded = _assert_onnx_equals_keras(model, tmp_path, data, features)
    assert "NotEqualOp" in [type(layer).__name__ for layer in loaded.layers]  # what is tested


def _assert_onnx_equals_keras(model, tmp_path, *inputs):
    """Save the Keras model, load it in lstmkit, export: ONNX Runtime's outputs equal Keras's.
    Returns the lstmkit model."""
    path = tmp_path / "m.keras"
    model.save(path)
    wants = model.predict(list(inputs), verbose=0)
    wants = wants if isinstance(wants, list) else [wants]
    loaded = lstmkit.models.load_model(path)
    for got, want in zip(run(session(loaded), *inputs), wants):
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    return loaded


def test_keras_attention_mask_reaching_a_later_layer_to_onnx(tmp_path):
    """A layer after Attention that takes its mask: Keras records `convert_to_tensor` on the
    mask (keras.src.ops.core), which lstmkit reads as a pass-through and exports as Identity."""
    k = keras.layers
    ids = keras.Input((None,), dtype="int32")
    seq = k.LSTM(3, return_sequences=True)(k.Embedding(9, 4, mask_zero=True)(ids))
    pooled = k.GlobalAveragePooling1D()(k.Attention()([seq, seq]))
    model = keras.Model(ids, k.Dense(2)(pooled))
    rng = np.random.default_rng(5)
    model.set_weights([0.5 * rng.normal(size=w.shape).astype("float32")
                       for w in model.get_weights()])  # fmt: skip
    data = rng.integers(1, 9, size=(3, 6)).astype("int32")
    data[0, 3:] = 0
    data[2, 5:] = 0
    loaded = _assert_onnx_equals_keras(model, tmp_path, data)
    assert "ConvertToTensorOp" in [type(layer).__name__ for layer in loaded.layers]
    loaded.save(tmp_path / "again.keras")  # written back in Keras's form: Keras reads it
    again = keras.models.load_model(tmp_path / "again.keras")
    np.testing.assert_allclose(again.predict(data, verbose=0), model.predict(data, verbose=0),
                               rtol=TOL, atol=TOL)  # fmt: skip
