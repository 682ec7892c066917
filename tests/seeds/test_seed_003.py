# ruff: noqa: UP032  (the seed's programs use str.format, kept as written)
"""Seed 003 (notes on RNNs): the LSTM equations, parameter shapes, the full LSTM argument list,
the four return_sequences x return_state cases, `RNN(cell)`, `initial_state`, GlobalMaxPool1D.

The seed's programs are TensorFlow 1 graph code. They are translated call for call to the
functional API, and each translated line says what it replaces:
`tf.placeholder(dtype=tf.float32, shape=(None, 1, 3))` -> `Input(dtype="float32", shape=(1, 3))`;
`sess = tf.Session()` + `sess.run(tf.global_variables_initializer())` -> `Model(inputs=x,
outputs=a)` (lstmkit initializes the weights when the layer is built);
`sess.run(a, feed_dict={x: x_instance})` -> `model.predict(x_instance)`. Everything else is
the seed's. The programs import nothing themselves; the setup lines import lstmkit.
"""

import numpy as np
import pytest

# setup: the names the seed's programs use (Keras's `from keras.layers import LSTM` etc.)
from lstmkit.layers import LSTM, RNN, Dense, GlobalMaxPool1D, Input, LSTMCell
from lstmkit.models import Model


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _hard_sigmoid(z):  # Keras 3: clip(x / 6 + 1/2, 0, 1)
    return np.clip(z / 6.0 + 0.5, 0.0, 1.0)


def _seed_equations(layer, x, sigma=_sigmoid):
    """The seed's equations (1)-(6), in float64, with W_g = [U_g; W_g]^T built from the layer's
    Keras-layout weights (gate blocks i, f, c, o): returns every h and the final (h, c)."""
    kernel, recurrent, bias = (w.astype(np.float64) for w in layer.get_weights())
    u = recurrent.shape[0]
    W = {
        g: np.concatenate([recurrent, kernel])[:, k * u : (k + 1) * u].T
        for k, g in enumerate("ifco")
    }
    b = {g: bias[k * u : (k + 1) * u] for k, g in enumerate("ifco")}
    h = np.zeros((x.shape[0], u))
    c = np.zeros((x.shape[0], u))
    hs = []
    for t in range(x.shape[1]):
        hx = np.concatenate([h, x[:, t]], axis=1)  # [h<t-1>, x<t>]
        gamma_f = sigma(hx @ W["f"].T + b["f"])  # (1) forget gate
        gamma_u = sigma(hx @ W["i"].T + b["i"])  # (2) update / input gate
        c_tilde = np.tanh(hx @ W["c"].T + b["c"])  # (3) candidate
        c = gamma_f * c + gamma_u * c_tilde  # (4) cell update
        gamma_o = sigma(hx @ W["o"].T + b["o"])  # (5) output gate
        h = gamma_o * np.tanh(c)  # (6) hidden state
        hs.append(h)
    return np.stack(hs, axis=1), h, c


def test_return_sequences_false_return_state_false(capsys):
    # ---- seed program (TF1 -> functional API) ----
    x = Input(dtype="float32", shape=(1, 3))  # tf.placeholder(dtype=tf.float32,shape=(None,1,3))
    cell_num = 2
    a = LSTM(cell_num)(x)
    print("cell_num is {}".format(cell_num))
    model = Model(inputs=x, outputs=a)  # sess=tf.Session() (+ global_variables_initializer)
    x_instance = np.array([[[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]]])
    print("x input counts/shape[0] is {}".format(x_instance.shape[0]))
    h_t = model.predict(x_instance)  # h_t=sess.run(a,feed_dict={x:x_instance})
    print("h_t shape is {}".format(h_t.shape))  # the seed writes `result.shape`: its h_t
    # ---- end of seed program ----

    printed = capsys.readouterr().out
    assert "cell_num is 2" in printed
    assert "x input counts/shape[0] is 4" in printed
    assert "h_t shape is (4, 2)" in printed
    assert x.shape == (None, 1, 3)
    assert h_t.shape == (4, 2)
    np.testing.assert_array_equal(h_t, np.repeat(h_t[:1], 4, axis=0))  # 4 equal inputs, 4 equal h
    _, h, _ = _seed_equations(model.layers[-1], x_instance.astype(np.float64))
    np.testing.assert_allclose(h_t, h, atol=1e-6)


def test_return_sequences_true_return_state_false(capsys):
    # ---- seed program (TF1 -> functional API) ----
    x = Input(dtype="float32", shape=(1, 3))  # tf.placeholder(dtype=tf.float32,shape=(None,1,3))
    cell_num = 2
    a = LSTM(cell_num, return_sequences=True, return_state=False)(x)
    print("cell_num is {}".format(cell_num))
    model = Model(inputs=x, outputs=a)  # sess=tf.Session() (+ global_variables_initializer)
    x_instance = np.array([[[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]]])
    print(
        "x input counts/shape[0] is {},x input timestamp/shape[1] is {},shape is {}".format(
            x_instance.shape[0], x_instance.shape[1], x_instance.shape
        )
    )
    H_all = model.predict(x_instance)  # H_all=sess.run(a,feed_dict={x:x_instance})
    print("H_all shape is {}".format(H_all.shape))
    # ---- end of seed program ----

    printed = capsys.readouterr().out
    assert "x input counts/shape[0] is 4,x input timestamp/shape[1] is 1,shape is (4, 1, 3)" in (
        printed
    )
    assert "H_all shape is (4, 1, 2)" in printed
    assert H_all.shape == (4, 1, 2)
    hs, _, _ = _seed_equations(model.layers[-1], x_instance.astype(np.float64))
    np.testing.assert_allclose(H_all, hs, atol=1e-6)


def test_return_sequences_false_return_state_true():
    # ---- seed program (TF1 -> functional API) ----
    x = Input(dtype="float32", shape=(1, 3))  # tf.placeholder(dtype=tf.float32,shape=(None,1,3))
    cell_num = 2
    a = LSTM(cell_num, return_sequences=False, return_state=True)(x)
    print("cell_num is {}".format(cell_num))
    model = Model(inputs=x, outputs=a)  # sess=tf.Session() (+ global_variables_initializer)
    x_instance = np.array([[[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]]])
    print(
        "x input counts/shape[0] is {},x input timestamp/shape[1] is {},shape is {}".format(
            x_instance.shape[0], x_instance.shape[1], x_instance.shape
        )
    )
    H_all, h_t, c_t = model.predict(x_instance)  # sess.run(a,feed_dict={x:x_instance})
    # ---- end of seed program ----

    assert H_all.shape == h_t.shape == c_t.shape == (4, 2)
    np.testing.assert_array_equal(H_all, h_t)  # 此时 H_all==h_t
    _, h, c = _seed_equations(model.layers[-1], x_instance.astype(np.float64))
    np.testing.assert_allclose(h_t, h, atol=1e-6)
    np.testing.assert_allclose(c_t, c, atol=1e-6)


def test_return_sequences_true_return_state_true():
    # ---- seed program (TF1 -> functional API) ----
    x = Input(dtype="float32", shape=(1, 3))  # tf.placeholder(dtype=tf.float32,shape=(None,1,3))
    cell_num = 2
    a = LSTM(cell_num, return_sequences=True, return_state=True)(x)
    print("cell_num is {}".format(cell_num))
    model = Model(inputs=x, outputs=a)  # sess=tf.Session() (+ global_variables_initializer)
    x_instance = np.array([[[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]]])
    print(
        "x input counts/shape[0] is {},x input timestamp/shape[1] is {},shape is {}".format(
            x_instance.shape[0], x_instance.shape[1], x_instance.shape
        )
    )
    H_all, h_t, c_t = model.predict(x_instance)  # sess.run(a,feed_dict={x:x_instance})
    # ---- end of seed program ----

    assert H_all.shape == (4, 1, 2) and h_t.shape == c_t.shape == (4, 2)
    np.testing.assert_array_equal(H_all[:, -1], h_t)  # h_t is the last step of H_all
    # ... and is what the same layer returns without return_sequences / return_state
    plain = LSTM(cell_num)
    plain(x_instance.astype(np.float32))
    plain.set_weights(model.layers[-1].get_weights())
    np.testing.assert_allclose(np.asarray(plain(x_instance.astype(np.float32))), h_t, atol=1e-6)


def test_parameter_shapes_of_the_forget_gate():
    # The seed's table: num_units=128, x<t> of 28 features -> [h, x] (156,), W_f (128, 156),
    # b_f (128,); TF's forget_bias=1.0 is Keras's unit_forget_bias=True.
    layer = LSTM(128)
    layer(np.zeros((1, 5, 28), np.float32))
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (28, 4 * 128) and recurrent.shape == (128, 4 * 128)
    assert bias.shape == (4 * 128,)
    f = slice(128, 256)  # gate blocks i, f, c, o
    W_f = np.concatenate([recurrent[:, f], kernel[:, f]]).T
    assert W_f.shape == (128, 156)
    np.testing.assert_array_equal(bias[f], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[128:256]), 0.0)


def test_full_argument_list():
    # The seed's `tf.keras.layers.LSTM.__init__` list, every argument spelled out as it shows
    # them. (Its `__call__(inputs, initial_state=None, constants=None)`: Keras 3's LSTM takes
    # no `constants`, so the call passes initial_state only.)
    x_instance = np.array([[[1, 2, 3], [0.5, -1, 2]], [[-1, 0, 1], [2, 2, 2]]], np.float32)
    layer = LSTM(
        2,
        activation="tanh",
        recurrent_activation="hard_sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        implementation=1,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
    )
    h = np.asarray(layer(x_instance, initial_state=None))
    assert h.shape == (2, 2)
    # 'hard_sigmoid' by name is Keras 3's clip(x/6 + 1/2, 0, 1) in every gate equation
    _, expected, _ = _seed_equations(layer, x_instance.astype(np.float64), _hard_sigmoid)
    np.testing.assert_allclose(h, expected, atol=1e-6)


def test_rnn_of_a_cell_is_the_lstm_layer():
    # ---- seed lines (TF1 cell -> Keras cell) ----
    num_units = 2
    cell = LSTMCell(num_units)  # LSTMCell = tf.contrib.rnn.BasicLSTMCell(num_units)
    layer = RNN(
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
    )  # tf.keras.layers.RNN(...) # 推荐
    # ---- end of seed lines ----

    x_instance = np.random.default_rng(0).normal(size=(4, 5, 3)).astype(np.float32)
    out = np.asarray(layer(x_instance))
    assert out.shape == (4, num_units)
    lstm = LSTM(num_units)
    lstm(x_instance)
    assert [w.shape for w in lstm.get_weights()] == [w.shape for w in layer.get_weights()]
    lstm.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(lstm(x_instance)), out, atol=1e-6)
    for kwargs in ({"return_sequences": True, "return_state": True}, {"unroll": True}):
        a, b = RNN(LSTMCell(num_units), **kwargs), LSTM(num_units, **kwargs)
        a(x_instance)
        b(x_instance)
        b.set_weights(a.get_weights())
        ua, ub = a(x_instance), b(x_instance)
        ua, ub = (ua, ub) if isinstance(ua, list) else ([ua], [ub])
        assert len(ua) == len(ub)
        for u, v in zip(ua, ub):
            np.testing.assert_allclose(np.asarray(u), np.asarray(v), atol=1e-6)


def test_initial_state():
    # `__call__(inputs, initial_state=...)`: the states of one LSTM start another. Running the
    # second half of a sequence from the first half's (h, c) is running the whole sequence.
    seq = Input(shape=(None, 3))
    h0, c0 = Input(shape=(2,)), Input(shape=(2,))
    layer = LSTM(2, return_state=True)
    out, h, c = layer(seq, initial_state=[h0, c0])
    model = Model(inputs=[seq, h0, c0], outputs=[out, h, c])
    x = np.random.default_rng(1).normal(size=(4, 6, 3)).astype(np.float32)
    zeros = np.zeros((4, 2), np.float32)
    whole = model.predict([x, zeros, zeros])
    _, h_mid, c_mid = model.predict([x[:, :3], zeros, zeros])
    second_half = model.predict([x[:, 3:], h_mid, c_mid])
    for u, v in zip(whole, second_half):
        np.testing.assert_allclose(u, v, atol=1e-6)
    _, h_ref, c_ref = _seed_equations(layer, x.astype(np.float64))
    np.testing.assert_allclose(whole[1], h_ref, atol=1e-5)
    np.testing.assert_allclose(whole[2], c_ref, atol=1e-5)


def test_bptt_stack_and_global_max_pool(capsys):
    # setup: the input sequence the seed's (commented-out) fragment starts from
    counts, time_steps, features = 5, 6, 3
    h_all_0 = Input(shape=(time_steps, features))

    # ---- seed program (its commented lines run; tf.layers.dense -> Dense) ----
    # h_all_1 shape=[counts,time_steps,cell_num_1]
    h_all_2 = LSTM(
        32,
        return_sequences=True,
        return_state=False,
        dropout=0,
        recurrent_initializer="orthogonal",
        kernel_initializer="orthogonal",
    )(h_all_0)
    # h_all_1 shape=[counts,time_steps,cell_num_2]
    h_all_3 = LSTM(
        8,
        return_sequences=False,
        return_state=False,
        dropout=0,
        recurrent_initializer="orthogonal",
        kernel_initializer="orthogonal",
    )(h_all_2)
    # h_all_3 shape=[counts,time_steps,cell_num_2]
    # As written, h_all_3 is (counts, 8): GlobalMaxPool1D needs 3-D, and Keras 3 raises too.
    with pytest.raises(ValueError, match="3-D|ndim"):
        lay4 = GlobalMaxPool1D()(h_all_3)
    # The seed's shape comment says h_all_3 is a sequence: return_sequences=True, as it means.
    h_all_3 = LSTM(
        8,
        return_sequences=True,
        return_state=False,
        dropout=0,
        recurrent_initializer="orthogonal",
        kernel_initializer="orthogonal",
    )(h_all_2)
    lay4 = GlobalMaxPool1D()(h_all_3)
    # lay3 shape =[counts,cell_num_2]
    lay3 = lay4  # setup: the seed's comment names the pooled tensor lay3, its next line uses it
    lay4 = Dense(units=20, activation="relu")(lay3)  # tf.layers.dense(lay3,units=20,activation=..)
    # output = activation(dot(input, kernel)+bias)
    # lay4 shape =[counts,units_nums]
    print(" lay4 shape is {}".format(lay4.shape))
    # ---- end of seed program ----

    assert " lay4 shape is (None, 20)" in capsys.readouterr().out
    assert h_all_2.shape == (None, time_steps, 32) and h_all_3.shape == (None, time_steps, 8)
    assert lay3.shape == (None, 8)
    model = Model(inputs=h_all_0, outputs=[h_all_3, lay3, lay4])
    x = np.random.default_rng(2).normal(size=(counts, time_steps, features)).astype(np.float32)
    seq, pooled, dense = model.predict(x)
    assert seq.shape == (counts, time_steps, 8)
    np.testing.assert_array_equal(pooled, seq.max(axis=1))  # the max over time, per unit
    kernel, bias = model.layers[-1].get_weights()
    assert dense.shape == (counts, 20) and np.all(dense >= 0)
    np.testing.assert_allclose(dense, np.maximum(pooled @ kernel + bias, 0.0), atol=1e-5)
    # orthogonal kernels, as asked: (3, 128) has orthonormal rows
    k2 = model.layers[1].get_weights()[0]
    np.testing.assert_allclose(k2 @ k2.T, np.eye(features), atol=1e-5)
