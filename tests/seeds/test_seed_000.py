# ruff: noqa: I001  (the seed programs keep their own import order)
"""Seed 000 (Jupyter notebook): return_sequences, return_state and both, on LSTM(1).

Each test is one code cell of the notebook with only its imports changed from `keras` to
`lstmkit`; the assertions after the cell check what the notebook prints (shapes exactly, and
the relationships that hold whatever the random weights: the printed numbers do not).
"""


def test_cell_version():
    # seed: `import keras` / `keras.__version__`
    import lstmkit

    version = lstmkit.__version__

    assert isinstance(version, str) and version.count(".") == 2


def test_return_nothing():
    # ---- seed program (imports changed) ----
    from lstmkit.models import Model
    from lstmkit.layers import Input
    from lstmkit.layers import LSTM
    import numpy as np

    # 定義模型架構
    input_x = Input(shape=(3, 1))
    lstm_1 = LSTM(1)(input_x)
    model = Model(inputs=input_x, outputs=lstm_1)

    # LSTM的模型需要的輸入張量格式為:
    # (batch_size,timesteps,input_features)
    data = np.array([0.1, 0.2, 0.3]).reshape((1, 3, 1))

    # 打印模型的輸出
    print(model.predict(data))
    # ---- end of seed program ----

    out = model.predict(data)
    assert out.shape == (1, 1)  # the notebook prints [[-0.07730947]]
    assert out.dtype == np.float32
    assert np.all(np.abs(out) < 1.0)  # h = o * tanh(c): inside (-1, 1)
    np.testing.assert_array_equal(model.predict(data), out)  # not stateful: same input, same h


def test_return_sequences():
    # ---- seed program (imports changed) ----
    from lstmkit.models import Model
    from lstmkit.layers import Input
    from lstmkit.layers import LSTM
    import numpy as np

    # 定義模型架構
    input_x = Input(shape=(3, 1))
    lstm_1 = LSTM(1, return_sequences=True)(input_x)
    model = Model(inputs=input_x, outputs=lstm_1)

    # LSTM的模型需要的輸入張量格式為:
    # (batch_size,timesteps,input_features)
    data = np.array([0.1, 0.2, 0.3]).reshape((1, 3, 1))

    # 打印模型的輸出
    print(model.predict(data))
    # ---- end of seed program ----

    seq = model.predict(data)
    assert seq.shape == (1, 3, 1)  # one hidden state per time step: 3 values
    # Step t of the sequence is the final h of the same LSTM run on the first t+1 steps.
    layer = model.layers[-1]
    for t in range(3):
        prefix = LSTM(1)
        prefix(data[:, : t + 1])
        prefix.set_weights(layer.get_weights())
        np.testing.assert_allclose(np.asarray(prefix(data[:, : t + 1])), seq[:, t], atol=1e-6)


def test_return_state():
    # ---- seed program (imports changed) ----
    from lstmkit.models import Model
    from lstmkit.layers import Input
    from lstmkit.layers import LSTM
    import numpy as np

    # 定義模型架構
    input_x = Input(shape=(3, 1))
    lstm_1, state_h, state_c = LSTM(1, return_state=True)(input_x)
    model = Model(inputs=input_x, outputs=[lstm_1, state_h, state_c])

    # LSTM的模型需要的輸入張量格式為:
    # (batch_size,timesteps,input_features)
    data = np.array([0.1, 0.2, 0.3]).reshape((1, 3, 1))

    # 打印模型的輸出
    print(model.predict(data))
    # ---- end of seed program ----

    result = model.predict(data)
    assert isinstance(result, list) and len(result) == 3  # three arrays, as printed
    out, h, c = result
    assert out.shape == h.shape == c.shape == (1, 1)
    np.testing.assert_array_equal(out, h)  # "lstm1 and state_h both point to the same h"
    # h = o * tanh(c) with 0 < o < 1: |h| < |tanh(c)|, same sign
    assert np.all(np.abs(h) < np.abs(np.tanh(c))) and np.all(np.sign(h) == np.sign(c))


def test_return_state_and_sequences():
    # ---- seed program (imports changed) ----
    from lstmkit.models import Model
    from lstmkit.layers import Input
    from lstmkit.layers import LSTM
    import numpy as np

    # 定義模型架構
    input_x = Input(shape=(3, 1))
    lstm_1, state_h, state_c = LSTM(1, return_sequences=True, return_state=True)(input_x)
    model = Model(inputs=input_x, outputs=[lstm_1, state_h, state_c])

    # LSTM的模型需要的輸入張量格式為:
    # (batch_size,timesteps,input_features)
    data = np.array([0.1, 0.2, 0.3]).reshape((1, 3, 1))

    # 打印模型的輸出
    print(model.predict(data))
    # ---- end of seed program ----

    seq, h, c = model.predict(data)
    assert seq.shape == (1, 3, 1) and h.shape == (1, 1) and c.shape == (1, 1)
    np.testing.assert_array_equal(seq[:, -1], h)  # the last step of the sequence is state_h
    assert np.all(np.abs(h) < np.abs(np.tanh(c)))
    # The same layer without return_state gives the same sequence.
    plain = Model(inputs=input_x, outputs=lstm_1)
    np.testing.assert_array_equal(plain.predict(data), seq)
