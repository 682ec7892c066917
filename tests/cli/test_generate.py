"""`lstmkit generate`: characters streamed one at a time, the same seed the same text, and the
step-by-step logits equal to Keras 3 running the whole sequence through the checkpoint."""

import io
import sys

import keras
import numpy as np
import pytest

from lstmkit.cli import checkpoint, generate
from tests.cli.conftest import checkpoint_of, run_cli


def test_same_seed_same_text_other_seed_other_text(trained, capsys):
    argv = ["generate", checkpoint_of(trained), "--prompt", "the ", "--length", "60"]
    code, first, err = run_cli([*argv, "--seed", "1"], capsys)
    assert code == 0 and err == "" and first.startswith("the ") and len(first) == 4 + 60 + 1
    assert run_cli([*argv, "--seed", "1"], capsys)[1] == first
    assert run_cli([*argv, "--seed", "2"], capsys)[1] != first
    cold = run_cli([*argv, "--seed", "1", "--temperature", "0.05"], capsys)[1]
    assert cold != first and len(set(cold[4:])) < len(set(first[4:]))  # near-greedy: narrower


class _Recorder(io.StringIO):
    def __init__(self):
        super().__init__()
        self.events = []

    def write(self, s):
        self.events.append(("write", s))
        return super().write(s)

    def flush(self):
        self.events.append(("flush", None))


def test_each_character_is_flushed_as_it_is_drawn(trained, monkeypatch):
    recorder = _Recorder()
    monkeypatch.setattr(sys, "stdout", recorder)
    argv = ["generate", checkpoint_of(trained), "--prompt", "a", "--length", "5"]
    from lstmkit.cli import main

    assert main(argv) == 0
    writes = [i for i, (kind, _) in enumerate(recorder.events) if kind == "write"]
    assert len(writes) == 1 + 5 + 1  # prompt, 5 characters, newline
    for i in writes:
        assert recorder.events[i + 1][0] == "flush"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras's get_weights under NumPy 2
def test_stepping_equals_keras_on_the_whole_sequence(trained):
    """The batch-1 stepper's logits, character by character, against Keras 3 reading the
    checkpoint file and running prompt + generated text as one sequence."""
    path = checkpoint_of(trained)
    model, vocab, meta = checkpoint.load_for_inference(path)
    ids = list(vocab.encode("the quick "))
    stream = generate.open_stream(model)
    ours = [stream.step(np.array([i]))[0] for i in ids]
    rng = np.random.default_rng(0)
    for _ in range(15):  # continue with sampled characters
        ids.append(generate.sample(ours[-1], 1.0, rng))
        ours.append(stream.step(np.array([ids[-1]]))[0])
    trained_keras = keras.saving.load_model(path)  # Keras opens the file, assets and all
    s = meta["settings"]
    twin = keras.Sequential(
        [keras.Input(batch_shape=(1, None), dtype="int32"),
         keras.layers.Embedding(len(vocab), s["embedding"]),
         *[keras.layers.LSTM(s["units"], return_sequences=True) for _ in range(s["layers"])],
         keras.layers.Dense(len(vocab))]
    )  # fmt: skip
    twin.set_weights(trained_keras.get_weights())
    theirs = np.asarray(twin(np.array([ids[:-1]])))[0]  # (time, vocab)
    np.testing.assert_allclose(np.stack(ours[:-1]), theirs, rtol=1e-5, atol=1e-5)


def test_sample_follows_the_temperature():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([0.7, 0.2, 0.1]))
    draws = np.bincount([generate.sample(logits, 1.0, rng) for _ in range(4000)], minlength=3)
    np.testing.assert_allclose(draws / 4000, [0.7, 0.2, 0.1], atol=0.03)
    sharp = np.bincount([generate.sample(logits, 0.1, rng) for _ in range(500)], minlength=3)
    assert sharp[0] > 495
