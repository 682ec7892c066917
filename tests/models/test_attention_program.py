"""A Keras program ported by changing its import: a bidirectional LSTM encoder over padded ids,
an Attention layer whose query is the encoder's last forward state, into Dense; trained a few
steps from the same initial weights, the losses equal Keras's."""

import keras
import numpy as np

import lstmkit

V, T, E, U = 12, 6, 4, 5
STEPS, BATCH = 6, 8


def program(lib):
    L = lib.layers
    ids = lib.Input((T,), dtype="int32")
    x = L.Embedding(V, E, mask_zero=True)(ids)  # the padding mask reaches the attention
    seq, h_fwd, _, _, _ = L.Bidirectional(
        L.LSTM(U, return_sequences=True, return_state=True), merge_mode="sum"
    )(x)
    query = L.Reshape((1, U))(h_fwd)
    context, weights = L.Attention(use_scale=True)([query, seq], return_attention_scores=True)
    out = L.Dense(1, activation="sigmoid")(L.Flatten()(context))
    return lib.Model(ids, out), lib.Model(ids, weights)  # the second shares the layers


def data():
    rng = np.random.default_rng(0)
    x = rng.integers(1, V, size=(STEPS * BATCH, T))
    lengths = rng.integers(2, T + 1, size=len(x))
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0  # right padding
    y = (x[:, 0] > V // 2).astype("float32")
    return x, y


def test_bidirectional_attention_program_trains_as_keras():
    x, y = data()
    (km, _), (lm, l_attention) = program(keras), program(lstmkit)
    lm.set_weights(km.get_weights())
    # the padding mask reached the attention: padded steps get no weight
    l_weights = np.asarray(l_attention(x[:BATCH]))
    assert np.all(l_weights[:, 0][x[:BATCH] == 0] < 1e-6)
    assert np.all(l_weights[:, 0][x[:BATCH] != 0] > 1e-6)
    for model, lib in ((km, keras), (lm, lstmkit)):
        model.compile(lib.optimizers.Adam(learning_rate=0.02), loss="binary_crossentropy")
    kh = km.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    lh = lm.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(lh.history["loss"], kh.history["loss"], rtol=1e-4)
    assert lh.history["loss"][1] < lh.history["loss"][0]
    for a, b in zip(lm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
