# ruff: noqa: I001  (the seed programs keep their own import order)
"""Seed 001: Embedding (shapes, weights, a pretrained matrix via Constant, trainable=False),
stacked Sequential models, a sentiment-style LSTM classifier in Keras 1/2 spelling, and the four
return_sequences x return_state combinations of a two-layer functional model.

The seed is a blog post: its programs are fragments. Each test keeps the seed's lines as they
are (imports changed to lstmkit); lines marked `# setup:` supply the names the fragment leaves
undefined, with small sizes. Legacy spellings (`input_length=`, `output_dim=`,
`inner_activation=`, `nb_epoch=`, `predict_classes`, `Model(input=...)`, `input_shape=`) run as
written and must warn.
"""

import numpy as np
import pytest


def test_embedding_random_init(legacy_warnings):
    # ---- seed program (imports changed) ----
    from lstmkit.models import Sequential
    from lstmkit.layers import Embedding
    import numpy as np

    model = Sequential()
    with legacy_warnings("input_length"):
        model.add(Embedding(1000, 64, input_length=10))
    # 输入大小为(None,10),Nnoe是batch_size大小,10代表每一个batch中有10条样本
    # 输出大小为(None, 10, 64),其中64代表输入中每个每条样本被embedding成了64维的向量
    input_array = np.random.randint(1000, size=(32, 10))
    model.compile("rmsprop", "mse")
    output_array = model.predict(input_array)
    print(output_array)
    assert output_array.shape == (32, 10, 64)
    # ---- end of seed program ----

    (table,) = model.layers[0].get_weights()
    assert table.shape == (1000, 64)
    assert np.all(np.abs(table) <= 0.05)  # Keras's "uniform" embeddings initializer
    np.testing.assert_array_equal(output_array, table[input_array])


def test_embedding_rows_are_the_vectors(legacy_warnings):
    # ---- seed program (imports changed) ----
    from lstmkit.models import Sequential
    from lstmkit.layers import Flatten, Dense, Embedding  # noqa: F401  (as the seed imports)
    import numpy as np

    model = Sequential()
    with legacy_warnings("input_length"):
        model.add(Embedding(3, 2, input_length=7))
    # 通俗的讲,这个过程中,Embedding层生成了一个大小为3*2的随机矩阵 ... 记为M,查看矩阵M:
    model.layers[0].get_weights()
    # The seed writes `data = np.array([[...],[...]]` / `model.predict(data))`: one ")" misplaced.
    data = np.array([[0, 1, 2, 1, 1, 0, 1], [0, 1, 2, 1, 1, 0, 1]])
    print(model.predict(data))
    # ---- end of seed program ----

    weights = model.layers[0].get_weights()
    assert isinstance(weights, list) and len(weights) == 1
    (M,) = weights
    assert M.shape == (3, 2) and M.dtype == np.float32
    out = model.predict(data)
    assert out.shape == (2, 7, 2)  # data.shape = (2,7) -> out.shape = (2,7,2)
    # Row i of M is the vector of id i: the output is exactly those rows, in order.
    np.testing.assert_array_equal(out, M[data])
    for b in range(2):
        for t, i in enumerate(data[b]):
            np.testing.assert_array_equal(out[b, t], M[i])
    np.testing.assert_array_equal(out[0], out[1])  # the two rows of data are the same ids


def test_pretrained_matrix_through_constant(legacy_warnings):
    # setup: the imports and names the fragment uses without defining them (small sizes)
    from lstmkit.models import Sequential
    from lstmkit.layers import Dense, Embedding, Flatten, Input
    from lstmkit.initializers import Constant

    EMBEDDING_DIM = 4
    MAX_SEQUENCE_LENGTH = 5
    word_index = {"深度": 1, "学习": 2, "模型": 3, "生僻词": 4}  # word -> id, 0 is padding
    num_words = len(word_index) + 1
    rng = np.random.default_rng(0)
    word2vec_model = {w: rng.normal(size=EMBEDDING_DIM) for w in ("深度", "学习", "模型")}
    # (生僻词 has no vector: `word2vec_model[word]` raises KeyError and its row stays zero)

    # ---- seed program (imports changed; the function's indentation restored) ----
    def create_embedding(word_index, num_words, word2vec_model):
        embedding_matrix = np.zeros((num_words, EMBEDDING_DIM))
        for word, i in word_index.items():
            try:
                embedding_vector = word2vec_model[word]
                embedding_matrix[i] = embedding_vector
            except:  # noqa: E722  (as the seed writes it)
                continue
        return embedding_matrix

    # word_index:词典
    # num_word:词典长度+1
    # word2vec_model:词向量的model
    embedding_matrix = create_embedding(word_index, num_words, word2vec_model)
    model = Sequential()
    with legacy_warnings("input_length"):
        embedding_layer = Embedding(
            num_words,
            EMBEDDING_DIM,  # embedding后的向量大小
            # 使用预训练好的embedding matrix初始化
            embeddings_initializer=Constant(embedding_matrix),
            input_length=MAX_SEQUENCE_LENGTH,  # 输入的每个batch中样本个数
            trainable=False,
        )
    input = Input(shape=(MAX_SEQUENCE_LENGTH,), dtype="int32")
    sequence_input = input  # setup: the seed names its Input `input`, then uses `sequence_input`
    embedded_input = embedding_layer(sequence_input)
    embedded_sequences = embedded_input  # setup: the seed's next line uses this name
    # `model.add(embedded_sequences)`: a tensor is not a layer; Keras 3 raises ValueError too.
    with pytest.raises(ValueError, match="layer"):
        model.add(embedded_sequences)
    model.add(embedding_layer)  # what the seed means: the pretrained layer into the Sequential
    # ---- end of seed program ----

    assert embedded_input.shape == (None, MAX_SEQUENCE_LENGTH, EMBEDDING_DIM)
    (table,) = embedding_layer.get_weights()
    np.testing.assert_array_equal(table, embedding_matrix.astype(np.float32))
    np.testing.assert_array_equal(table[0], 0.0)  # padding id
    np.testing.assert_array_equal(table[4], 0.0)  # the word without a vector
    assert embedding_layer.trainable_weights == []
    assert len(embedding_layer.non_trainable_weights) == 1
    ids = np.array([[1, 2, 3, 4, 0], [3, 3, 1, 0, 0]])
    np.testing.assert_array_equal(model.predict(ids), table[ids])

    # Frozen: fitting a model on top changes the head, never the pretrained matrix.
    model.add(Flatten())
    model.add(Dense(1))
    model.compile("rmsprop", "mse")
    head_before = model.layers[-1].get_weights()
    x = np.random.default_rng(1).integers(0, num_words, size=(16, MAX_SEQUENCE_LENGTH))
    model.fit(x, np.ones((16, 1)), batch_size=8, epochs=2, verbose=0)
    np.testing.assert_array_equal(embedding_layer.get_weights()[0], table)
    assert not np.array_equal(model.layers[-1].get_weights()[0], head_before[0])


def test_single_layer_lstm_classifier(legacy_warnings):
    # setup: the imports and data the fragment uses without defining them (a small, learnable
    # sentiment-like task: the label says whether the word "好" occurs)
    from lstmkit.models import Sequential
    from lstmkit.layers import Activation, Dense, Dropout, Embedding, LSTM
    from lstmkit.utils import set_random_seed

    set_random_seed(1)
    words = ["好", "差", "电影", "很", "不", "演员", "剧情", "一般", "喜欢", "无聊"]
    maxlen = 6
    rng = np.random.default_rng(0)
    x = rng.integers(2, len(words) + 1, size=(32, maxlen))  # ids 1..len(words); 0 is padding
    y = (rng.random(32) < 0.5).astype(np.int32)
    x[y == 1, rng.integers(0, maxlen, size=int(y.sum()))] = 1  # id 1 = "好" in every positive

    # ---- seed program (imports changed) ----
    # 单层LSTM
    model = Sequential()
    with legacy_warnings("input_length"):
        model.add(Embedding(len(words) + 1, 256, input_length=maxlen))
    with legacy_warnings("output_dim", "inner_activation"):
        model.add(LSTM(output_dim=128, activation="sigmoid", inner_activation="hard_sigmoid"))
    model.add(Dropout(0.5))
    model.add(Dense(1))
    model.add(Activation("sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    # model.compile(loss='binary_crossentropy', optimizer='adam', class_mode="binary")
    with legacy_warnings("nb_epoch"):
        model.fit(x, y, batch_size=16, nb_epoch=10)
    with legacy_warnings("predict_classes"):
        y_ = model.predict_classes(x)
    # ---- end of seed program ----

    lstm = model.layers[1]
    assert lstm.units == 128
    # inner_activation='hard_sigmoid' is the Keras 1/2 formula clip(0.2x + 0.5, 0, 1)
    np.testing.assert_allclose(np.asarray(lstm.recurrent_activation(np.float32(1.0))), 0.7)
    assert [w.shape for w in lstm.get_weights()] == [(256, 512), (128, 512), (512,)]
    history = model.history.history
    assert len(history["loss"]) == 10 and len(history["accuracy"]) == 10
    assert all(np.isfinite(v) and v > 0 for v in history["loss"])
    assert all(0.0 <= a <= 1.0 for a in history["accuracy"])
    assert y_.shape == (32, 1) and y_.dtype == np.int32
    assert set(np.unique(y_)) <= {0, 1}
    p = model.predict(x, verbose=0)
    assert p.shape == (32, 1) and np.all((p > 0) & (p < 1))
    np.testing.assert_array_equal(y_, (p > 0.5).astype(np.int32))


def test_multi_layer_lstm(legacy_warnings):
    # setup: the imports and names the fragment uses without defining them (small sizes)
    from lstmkit.models import Sequential
    from lstmkit.layers import Dense, LSTM

    layers = [1, 16, 8, 1]  # [features, units of LSTM 1, units of LSTM 2, outputs]
    seq_len = 10

    # ---- seed program (imports changed) ----
    # 多层LSTM
    model = Sequential()
    # 多层LSTM中,最后一个LSTM层return_sequences通常为false,非最后一层为True
    with legacy_warnings("input_shape"):
        model.add(LSTM(layers[1], input_shape=(seq_len, layers[0]), return_sequences=True))
    # model.add(Dropout(0.2))
    model.add(LSTM(layers[2], return_sequences=False))
    # model.add(Dropout(0.2))
    model.add(Dense(units=layers[3], activation="tanh"))
    # ---- end of seed program ----

    x = np.random.default_rng(0).normal(size=(4, seq_len, layers[0])).astype(np.float32)
    out = model.predict(x)
    assert out.shape == (4, layers[3])
    assert np.all(np.abs(out) < 1.0)  # tanh
    first, second, dense = model.layers
    assert [w.shape for w in first.get_weights()] == [(1, 64), (16, 64), (64,)]
    assert [w.shape for w in second.get_weights()] == [(16, 32), (8, 32), (32,)]
    # The stack is the layers applied in turn: a (4, 10, 16) sequence, then the last h (4, 8).
    seq = np.asarray(first(x))
    assert seq.shape == (4, seq_len, layers[1])
    h = np.asarray(second(seq))
    assert h.shape == (4, layers[2])
    np.testing.assert_allclose(np.asarray(dense(h)), out, atol=1e-6)


# ---- 二,实例验证: the four return_sequences x return_state combinations ---------------------


def test_two_layers_return_sequences(legacy_warnings):
    # ---- seed program (1), imports changed ----
    from lstmkit.models import Model
    from lstmkit.layers import Input
    from lstmkit.layers import LSTM
    from numpy import array
    from lstmkit.models import Sequential  # noqa: F401  (as the seed imports)

    data = array([0.1, 0.2, 0.3]).reshape((1, 3, 1))
    inputs1 = Input(shape=(3, 1))
    lstm1, state_h, state_c = LSTM(2, return_sequences=True, return_state=True)(inputs1)  # 第一层
    lstm2 = LSTM(2, return_sequences=True)(lstm1)  # 第二层LSTM
    with legacy_warnings("input="):
        model = Model(input=inputs1, outputs=[lstm2])
    print(model.predict(data))
    # ---- end of seed program ----

    out = model.predict(data)  # a single array, as printed (Keras 3 unpacks a one-output list)
    assert isinstance(out, np.ndarray) and out.shape == (1, 3, 2)
    first = Model(inputs=inputs1, outputs=[lstm1, state_h, state_c]).predict(data)
    assert [a.shape for a in first] == [(1, 3, 2), (1, 2), (1, 2)]
    np.testing.assert_array_equal(first[0][:, -1], first[1])  # layer 1: last step is state_h
    # Layer 2 runs on layer 1's whole sequence.
    second = model.layers[-1]
    np.testing.assert_allclose(np.asarray(second(first[0])), out, atol=1e-6)


def test_two_layers_return_state(legacy_warnings):
    # ---- seed program (2), imports changed ----
    from lstmkit.models import Model
    from lstmkit.layers import Input
    from lstmkit.layers import LSTM
    from numpy import array
    from lstmkit.models import Sequential  # noqa: F401  (as the seed imports)

    data = array([0.1, 0.2, 0.3]).reshape((1, 3, 1))
    inputs1 = Input(shape=(3, 1))
    lstm1, state_h, state_c = LSTM(2, return_sequences=True, return_state=True)(inputs1)
    lstm2, state_h2, state_c2 = LSTM(2, return_state=True)(lstm1)
    with legacy_warnings("input="):
        model = Model(input=inputs1, outputs=[lstm2, state_h2, state_c2])
    print(model.predict(data))
    # ---- end of seed program ----

    out, h, c = model.predict(data)
    assert out.shape == h.shape == c.shape == (1, 2)
    np.testing.assert_array_equal(out, h)  # return_state: the output is the last hidden state
    assert np.all(np.abs(h) < np.abs(np.tanh(c)))  # h = o * tanh(c)


def test_two_layers_return_sequences_and_state(legacy_warnings):
    # ---- seed program (3), imports changed ----
    from lstmkit.models import Model
    from lstmkit.layers import Input
    from lstmkit.layers import LSTM
    from numpy import array
    from lstmkit.models import Sequential  # noqa: F401  (as the seed imports)

    data = array([0.1, 0.2, 0.3]).reshape((1, 3, 1))
    inputs1 = Input(shape=(3, 1))
    lstm1, state_h, state_c = LSTM(2, return_sequences=True, return_state=True)(inputs1)
    lstm2, state_h2, state_c2 = LSTM(2, return_sequences=True, return_state=True)(lstm1)
    with legacy_warnings("input="):
        model = Model(input=inputs1, outputs=[lstm2, state_h2, state_c2])
    print(model.predict(data))
    # ---- end of seed program ----

    seq, h, c = model.predict(data)
    assert seq.shape == (1, 3, 2) and h.shape == (1, 2) and c.shape == (1, 2)
    np.testing.assert_array_equal(seq[:, -1], h)  # the last step of the sequence is state_h2
    assert np.all(np.abs(h) < np.abs(np.tanh(c)))


def test_two_layers_return_neither(legacy_warnings):
    # ---- seed program (4), imports changed ----
    from lstmkit.models import Model
    from lstmkit.layers import Input
    from lstmkit.layers import LSTM
    from numpy import array
    from lstmkit.models import Sequential  # noqa: F401  (as the seed imports)

    data = array([0.1, 0.2, 0.3]).reshape((1, 3, 1))
    inputs1 = Input(shape=(3, 1))
    lstm1, state_h, state_c = LSTM(2, return_sequences=True, return_state=True)(inputs1)
    lstm2 = LSTM(2)(lstm1)
    with legacy_warnings("input="):
        model = Model(input=inputs1, outputs=[lstm2])
    print(model.predict(data))
    # ---- end of seed program ----

    out = model.predict(data)
    assert isinstance(out, np.ndarray) and out.shape == (1, 2)
    # The same two layers asked for everything: this output is their final hidden state.
    both = LSTM(2, return_sequences=True, return_state=True)
    both(np.zeros((1, 3, 2), np.float32))
    second = model.layers[-1]
    both.set_weights(second.get_weights())
    seq1 = Model(inputs=inputs1, outputs=lstm1).predict(data)
    seq2, h2, _ = both(seq1)
    np.testing.assert_allclose(np.asarray(h2), out, atol=1e-6)
    np.testing.assert_allclose(np.asarray(seq2)[:, -1], out, atol=1e-6)
