"""Seed 004 (Q&A): why `return_sequences=True` and `stateful=True` in the character-level text
generation model, and the third answer's worked example.

`tf.keras.X` -> `lstmkit.X`; the answer's TensorFlow helpers -> lstmkit/numpy:
`tf.keras.backend.clear_session()` -> `lstmkit.backend.clear_session()`,
`tf.set_random_seed(42)` -> `lstmkit.utils.set_random_seed(42)`,
`tf.keras.backend.get_value(t)` -> `get_value(t)`, a numpy conversion defined in the setup
lines (it also keeps each value it returns, so the tests can check the printed arrays).
"""

import numpy as np
import pytest

import lstmkit


def build_model(vocab_size, embedding_dim, rnn_units, batch_size):
    # ---- seed program: the tutorial's model (imports changed) ----
    model = lstmkit.Sequential(
        [
            lstmkit.layers.Embedding(
                vocab_size, embedding_dim, batch_input_shape=[batch_size, None]
            ),
            lstmkit.layers.LSTM(
                rnn_units,
                return_sequences=True,
                stateful=True,
                recurrent_initializer="glorot_uniform",
            ),
            lstmkit.layers.Dense(vocab_size),
        ]
    )
    return model
    # ---- end of seed program ----


def test_text_generation_model(legacy_warnings):
    # setup: the tutorial's sizes, (batch_size, sequence_length, vocab_size) = (64, 100, 65),
    # except rnn_units: 256 instead of the tutorial's 1024, to keep the test fast on a CPU
    vocab_size, embedding_dim, rnn_units, batch_size, seq_length = 65, 256, 256, 64, 100
    ids = np.random.default_rng(0).integers(0, vocab_size, size=(batch_size, seq_length))

    with legacy_warnings("batch_input_shape"):
        model = build_model(vocab_size, embedding_dim, rnn_units, batch_size)

    first = np.asarray(model(ids))
    assert first.shape == (64, 100, 65)  # return_sequences=True: a prediction at every step
    assert model.inputs[0].shape == (64, None)  # time dimension None
    second = np.asarray(model(ids))
    assert second.shape == (64, 100, 65)
    assert not np.allclose(first, second)  # stateful: the second batch starts where the first ended
    model.reset_states()
    np.testing.assert_allclose(np.asarray(model(ids)), first, atol=1e-6)

    # "the last state of sample i is the initial state of sample i in the next batch":
    # two half-length batches after a reset give the full-length batch's outputs.
    model.reset_states()
    halves = [np.asarray(model(ids[:, :50])), np.asarray(model(ids[:, 50:]))]
    np.testing.assert_allclose(np.concatenate(halves, axis=1), first, atol=1e-5)

    # A stateful model needs batches of exactly batch_size rows.
    with pytest.raises(ValueError, match="64"):
        model(ids[:32])

    # The answer: with return_sequences=False the output would be (64, 65), the last step only.
    with legacy_warnings("batch_input_shape"):
        last_only = lstmkit.Sequential(
            [
                lstmkit.layers.Embedding(vocab_size, embedding_dim, batch_input_shape=[64, None]),
                lstmkit.layers.LSTM(rnn_units, return_sequences=False, stateful=True),
                lstmkit.layers.Dense(vocab_size),
            ]
        )
    last_only.set_weights(model.get_weights())
    out = np.asarray(last_only(ids))
    assert out.shape == (64, 65)
    np.testing.assert_allclose(out, first[:, -1], atol=1e-5)


def test_worked_example_stateful_return_sequences(capsys):
    # setup: tf.keras.backend.get_value -> numpy; `seen` keeps what each call returned
    seen = []

    def get_value(t):
        seen.append(np.asarray(t))
        return seen[-1]

    # ---- seed program (TF -> lstmkit/numpy) ----
    lstmkit.backend.clear_session()  # tf.keras.backend.clear_session()
    lstmkit.utils.set_random_seed(42)  # tf.set_random_seed(42)
    X = np.array(
        [[[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 2, 3], [4, 5, 6], [0, 0, 0]]], dtype=np.float32
    )
    model = lstmkit.Sequential(
        [
            lstmkit.layers.LSTM(
                4, return_sequences=True, stateful=True, recurrent_initializer="glorot_uniform"
            )
        ]
    )
    print(get_value(model(X)).shape)
    # (2, 3, 4)
    print(get_value(model(X)))
    # ---- end of the first half ----

    assert "(2, 3, 4)" in capsys.readouterr().out
    first, second = seen
    assert first.shape == second.shape == (2, 3, 4)
    # Same inputs in rows 0 and 1 for two steps, from zero states: same outputs there.
    np.testing.assert_array_equal(first[0, :2], first[1, :2])
    assert not np.allclose(first[0, 2], first[1, 2])
    assert not np.allclose(first, second)  # the second call starts from the first's states
    # Check both calls against a plain LSTM with the same weights: the second call is the
    # plain layer started from the first call's final states.
    lstm = model.layers[0]
    assert lstm.name == "lstm"
    plain = lstmkit.layers.LSTM(4, return_sequences=True, return_state=True)
    plain(X)
    plain.set_weights(lstm.get_weights())
    seq1, h1, c1 = plain(X)
    seq2, h2, c2 = plain(X, initial_state=[h1, c1])
    np.testing.assert_allclose(first, np.asarray(seq1), atol=1e-6)
    np.testing.assert_allclose(second, np.asarray(seq2), atol=1e-6)
    (states,) = model.get_states().values()
    np.testing.assert_allclose(states[0], np.asarray(h2), atol=1e-6)
    np.testing.assert_allclose(states[1], np.asarray(c2), atol=1e-6)
    model.reset_states()
    np.testing.assert_allclose(np.asarray(model(X)), first, atol=1e-6)
    weights_1 = lstm.get_weights()
    seen.clear()

    # ---- seed program, second half ----
    lstmkit.backend.clear_session()  # tf.keras.backend.clear_session()
    lstmkit.utils.set_random_seed(42)  # tf.set_random_seed(42)
    model = lstmkit.Sequential(
        [
            lstmkit.layers.LSTM(
                4, return_sequences=False, stateful=True, recurrent_initializer="glorot_uniform"
            )
        ]
    )
    print(get_value(model(X)).shape)
    # (2, 4)
    print(get_value(model(X)))
    # ---- end of seed program ----

    assert "(2, 4)" in capsys.readouterr().out
    last_1, last_2 = seen
    assert last_1.shape == last_2.shape == (2, 4)
    # clear_session + the same seed: the same layer name and the same weights as before ...
    assert model.layers[0].name == "lstm"
    for a, b in zip(model.layers[0].get_weights(), weights_1):
        np.testing.assert_array_equal(a, b)
    # ... so each call returns the last step of the return_sequences=True model's same call
    # (the seed's (2, 4) print repeats the last rows of its (2, 3, 4) print).
    np.testing.assert_allclose(last_1, first[:, -1], atol=1e-6)
    np.testing.assert_allclose(last_2, second[:, -1], atol=1e-6)
    model.reset_states()
    np.testing.assert_allclose(np.asarray(model(X)), last_1, atol=1e-6)
