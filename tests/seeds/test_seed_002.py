# ruff: noqa: I001  (the seed programs keep their own import order)
"""Seed 002 (TF2 tutorial): LSTMCell stepped by hand, the LSTM layer called eagerly,
return_sequences, and stacked LSTMs in a Sequential.

The imports change to lstmkit (`from tensorflow.keras import layers` -> `from lstmkit import
layers`) and TensorFlow's array helpers to numpy: `tf.random.normal(shape)` ->
`np.random.normal(size=shape).astype(np.float32)`, `tf.zeros(shape)` -> `np.zeros(shape,
np.float32)`, `tf.stack(x, axis=1)` -> `np.stack(x, axis=1)` (both stack the batch rows of x
along axis 1: (80, 2, 100), so the loop visits the 80 time steps). The printed numbers come from
random weights; the tests check shapes and what the computation determines.
"""

import numpy as np

from lstmkit import layers as lk_layers


def _steps_by_hand(weights, x, state):
    """Run a fresh LSTMCell with `weights` over every time step of x from `state`."""
    cell = lk_layers.LSTMCell(weights[1].shape[0])
    cell(x[:, 0], state)  # build
    cell.set_weights(weights)
    for t in range(x.shape[1]):
        out, state = cell(x[:, t], state)
    return np.asarray(out)


def test_lstm_cell_by_hand():
    # ---- seed program (imports changed; tf helpers -> numpy) ----
    import numpy as np  # replaces `import tensorflow as tf` (tf was used for arrays only)
    from lstmkit import layers

    x = np.random.normal(size=[2, 80, 100]).astype(np.float32)  # tf.random.normal([2, 80, 100])
    xt = x[:, 0, :]  # 得到一個時間戳的輸入
    print(xt.shape)  # 查看xt,即輸入的shape
    cell = layers.LSTMCell(64)  # 創建LSTM Cell
    # 初始化狀態和輸出List,[h,c]
    state = [np.zeros([2, 64], np.float32), np.zeros([2, 64], np.float32)]  # tf.zeros([2, 64])
    out, state = cell(xt, state)  # 前向計算
    # 查看輸出out,h以及c的shape
    print(out.shape, state[0].shape, state[1].shape)
    # 查看返回元素的id
    print(id(out), id(state[0]), id(state[1]))
    # ---- end of the first snippet ----

    assert xt.shape == (2, 100)
    assert out.shape == state[0].shape == state[1].shape == (2, 64)
    assert id(out) == id(state[0]) and id(out) != id(state[1])  # the seed's printed ids
    assert out is state[0]
    assert [w.shape for w in cell.get_weights()] == [(100, 256), (64, 256), (256,)]
    after_first_step = list(state)  # check: the state the seed's loop starts from

    # ---- seed program, second snippet: the loop over time ----
    # 在序列長度維度上解開,循環送入LSTM Cell單元
    for xt in np.stack(x, axis=1):  # tf.stack(x, axis=1)
        out, state = cell(xt, state)  # 前向計算
    # ---- end of seed program ----

    assert np.stack(x, axis=1).shape == (80, 2, 100)  # 輸出共80個循環
    assert out is state[0] and out.shape == (2, 64)
    # The 80 cell steps are one LSTM layer's forward pass (same weights, same initial state).
    layer = layers.LSTM(64)
    layer(x)  # build
    layer.set_weights(cell.get_weights())
    h = np.asarray(layer(x, initial_state=after_first_step))
    np.testing.assert_allclose(np.asarray(out), h, atol=1e-5)


def test_lstm_layer_eager():
    # ---- seed program (imports changed; tf helpers -> numpy) ----
    import numpy as np  # replaces `import tensorflow as tf` (tf was used for arrays only)
    from lstmkit import layers

    x = np.random.normal(size=[2, 80, 100]).astype(np.float32)  # tf.random.normal([2, 80, 100])
    xt = x[:, 0, :]  # 得到一個時間戳的輸入
    # 創建一層LSTM層,內存向量長度為64
    layer = layers.LSTM(64)
    # 序列通過LSTM層,默認返回最后一個時間戳的輸出h
    out = layer(x)
    print(out)
    # ---- end of seed program ----

    assert out.shape == (2, 64) and out.dtype == np.float32
    assert xt.shape == (2, 100)
    # "returns the output h of the last time step": the cell stepped 80 times from zeros.
    zeros = [np.zeros([2, 64], np.float32), np.zeros([2, 64], np.float32)]
    np.testing.assert_allclose(
        np.asarray(out), _steps_by_hand(layer.get_weights(), x, zeros), atol=1e-5
    )


def test_lstm_layer_return_sequences():
    # ---- seed program (imports changed; tf helpers -> numpy) ----
    import numpy as np  # replaces `import tensorflow as tf` (tf was used for arrays only)
    from lstmkit import layers

    x = np.random.normal(size=[2, 80, 100]).astype(np.float32)  # tf.random.normal([2, 80, 100])
    xt = x[:, 0, :]  # 得到一個時間戳的輸入
    # 創建一層LSTM層時,設置返回每個時間戳上的輸出
    layer = layers.LSTM(64, return_sequences=True)
    # 前向計算,每個時間戳上的輸出自動進行了concat,拼成一個張量
    out = layer(x)
    print(out)
    # ---- end of seed program ----

    assert out.shape == (2, 80, 64)  # [2,80,64]: 80 time steps
    out = np.asarray(out)
    weights = layer.get_weights()
    # Step t of the sequence is the last output of the same LSTM run on steps 0..t.
    last = layers.LSTM(64)
    last(x)
    last.set_weights(weights)
    np.testing.assert_allclose(out[:, -1], np.asarray(last(x)), atol=1e-6)
    np.testing.assert_allclose(out[:, 9], np.asarray(last(x[:, :10])), atol=1e-6)
    zeros = [np.zeros([2, 64], np.float32), np.zeros([2, 64], np.float32)]
    np.testing.assert_allclose(out[:, 0], _steps_by_hand(weights, xt[:, None], zeros), atol=1e-6)


def test_stacked_lstms_in_sequential():
    # setup: the seed calls keras.Sequential without importing keras
    import lstmkit as keras

    # ---- seed program (imports changed; tf helpers -> numpy) ----
    import numpy as np  # replaces `import tensorflow as tf` (tf was used for arrays only)
    from lstmkit import layers

    x = np.random.normal(size=[2, 80, 100]).astype(np.float32)  # tf.random.normal([2, 80, 100])
    xt = x[:, 0, :]  # 得到一個時間戳的輸入
    # 和CNN網絡一樣,LSTM也可以簡單地層層堆疊
    net = keras.Sequential(
        [
            layers.LSTM(64, return_sequences=True),  # 非末層需要返回所有時間戳輸出
            layers.LSTM(64),
        ]
    )
    # 一次通過網絡模型,即可得到最末層、最后一個時間戳的輸出
    out = net(x)
    print(out)
    # ---- end of seed program ----

    assert out.shape == (2, 64)
    assert xt.shape == (2, 100)
    first, second = net.layers
    seq = first(x)
    assert seq.shape == (2, 80, 64)  # the non-last layer hands every step to the next
    np.testing.assert_allclose(np.asarray(out), np.asarray(second(seq)), atol=1e-6)
    assert [w.shape for w in second.get_weights()] == [(64, 256), (64, 256), (256,)]
