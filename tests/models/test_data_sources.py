"""fit / evaluate / predict on generators, PyDatasets and timeseries datasets, against Keras 3.

The Keras twin runs the same model from the same initial weights on the same batches (its own
`keras.utils.PyDataset` and Python generators on the JAX backend), so the losses must agree.
"""

import threading
import warnings

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit import utils
from lstmkit.models import training_setup as setup

N, BATCH = 40, 16  # three batches an epoch, the last one short (8 rows)
RNG = np.random.default_rng(3)
X = RNG.normal(size=(N, 5, 3)).astype("float32")
Y = RNG.normal(size=(N, 2)).astype("float32")
SW = RNG.uniform(0.5, 1.5, size=N).astype("float32")


def build(lib, weights=None):
    # The data path is what is tested: a model that compiles fast (no recurrent scan).
    model = lib.Sequential([lib.Input(shape=(5, 3)), lib.layers.Flatten(), lib.layers.Dense(2)])
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
    return model


def batches(with_weights=False):
    for i in range(0, N, BATCH):
        rows = slice(i, i + BATCH)
        yield (X[rows], Y[rows], SW[rows]) if with_weights else (X[rows], Y[rows])


def dataset_class(base):
    class Batches(base):
        def __init__(self, with_weights=False, **kwargs):
            super().__init__(**kwargs)
            self.with_weights, self.epochs_ended = with_weights, 0

        def __len__(self):
            return -(-N // BATCH)

        def __getitem__(self, i):
            return list(batches(self.with_weights))[i]

        def on_epoch_end(self):
            self.epochs_ended += 1

    return Batches


OurBatches, KerasBatches = dataset_class(utils.PyDataset), dataset_class(keras.utils.PyDataset)


@pytest.fixture(scope="module")
def keras_run():
    """Keras's numbers: 2 epochs on a PyDataset with sample weights and validation, then
    evaluate and predict; and the initial weights both sides start from."""
    ours = build(lstmkit)
    weights = ours.get_weights()
    theirs = build(keras, weights)
    history = theirs.fit(KerasBatches(with_weights=True), epochs=2, shuffle=False, verbose=0,
                         validation_data=KerasBatches()).history  # fmt: skip
    evaluated = theirs.evaluate(KerasBatches(), verbose=0)
    return {
        "model": ours, "weights": weights, "keras": theirs, "history": history,
        "evaluate": evaluated, "predict": theirs.predict(X, verbose=0),
    }  # fmt: skip


def fresh(run):
    """The shared lstmkit model back at the initial weights (plain SGD keeps no state)."""
    run["model"].set_weights(run["weights"])
    return run["model"]


def forever(with_weights=False):
    while True:
        yield from batches(with_weights)


def test_py_dataset_fit_evaluate_predict_match_keras(keras_run):
    model = fresh(keras_run)
    ds = OurBatches(with_weights=True, workers=2, max_queue_size=2)
    got = model.fit(ds, epochs=2, shuffle=False, verbose=0, validation_data=OurBatches()).history
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(got[key], keras_run["history"][key], rtol=1e-5, atol=1e-6)
    assert ds.epochs_ended == 2
    evaluated = model.evaluate(OurBatches(), verbose=0)
    np.testing.assert_allclose(evaluated, keras_run["evaluate"], rtol=1e-5, atol=1e-6)
    predicted = model.predict((x for x, _ in batches()), verbose=0)  # batches of 16, 16, 8
    np.testing.assert_allclose(predicted, keras_run["predict"], rtol=1e-5, atol=1e-6)


def test_generators_match_keras(keras_run):
    model = fresh(keras_run)
    got = model.fit(forever(with_weights=True), steps_per_epoch=3, epochs=2, verbose=0,
                    validation_data=forever(), validation_steps=3).history  # fmt: skip
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(got[key], keras_run["history"][key], rtol=1e-5, atol=1e-6)
    # one program for the 16-row batches and one for the last, 8-row batch: none per batch
    assert setup.trainer_for(model).trace_counts["train"] <= 2


def test_timeseries_dataset_in_fit_and_predict(keras_run):
    series = RNG.normal(size=(30, 3)).astype("float32")
    ds = utils.timeseries_dataset_from_array(series, series[:, :2], sequence_length=5, batch_size=8)
    model = fresh(keras_run)
    model.fit(ds, epochs=1, shuffle=False, verbose=0)  # trains: the weights move
    assert not np.allclose(model.get_weights()[0], keras_run["weights"][0])
    model.set_weights(keras_run["keras"].get_weights())
    windows = np.concatenate([x for x, _ in ds])
    np.testing.assert_allclose(
        model.predict(ds, verbose=0), keras_run["keras"].predict(windows, verbose=0), atol=1e-5
    )


class Lazy(utils.PyDataset):
    """Batches made on request; records how far ahead of the training loop they are asked for."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n, self.requested, self.lock = n, [], threading.Lock()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.lock:
            self.requested.append(i)
        return np.full((4, 5, 3), i % 7, np.float32), np.zeros((4, 2), np.float32)


def test_py_dataset_streams_lazily_with_a_bounded_queue(keras_run):
    model = fresh(keras_run)
    ds = Lazy(30, workers=3, max_queue_size=4)
    ahead = []

    class Watch(lstmkit.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            with ds.lock:
                ahead.append(max(ds.requested) - batch)

    model.fit(ds, epochs=1, shuffle=False, verbose=0, callbacks=[Watch()])
    assert len(ahead) == 30 and max(ahead) <= ds.max_queue_size
    assert sorted(ds.requested[1:]) == list(range(30))  # each batch once (after the peek)


def test_multiprocessing_workers(keras_run):
    model = fresh(keras_run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # JAX's note on os.fork
        ds = OurBatches(with_weights=True, workers=2, use_multiprocessing=True)
        got = model.fit(ds, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, keras_run["history"]["loss"], rtol=1e-5, atol=1e-6)


def test_clear_errors(keras_run):
    model = fresh(keras_run)
    with pytest.raises(ValueError, match="walked only once.*steps_per_epoch"):
        model.fit(batches(), epochs=2, verbose=0)
    with pytest.raises(ValueError, match="`y` is not supported when `x` is a generator"):
        model.fit(OurBatches(), Y, verbose=0)
    with pytest.raises(ValueError, match="`validation_split` is not supported"):
        model.fit(OurBatches(), validation_split=0.2, verbose=0)

    class Endless(utils.PyDataset):
        num_batches = None

        def __getitem__(self, i):
            return X[:BATCH], Y[:BATCH]

    with pytest.raises(ValueError, match="endless.*pass `steps_per_epoch`"):
        model.fit(Endless(), verbose=0)
    assert len(model.fit(Endless(), steps_per_epoch=2, epochs=2, verbose=0).history["loss"]) == 2
    with pytest.raises(ValueError, match="holds no targets"):
        model.fit((x for x, _ in batches()), verbose=0)
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(batches(), steps_per_epoch=2, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 2  # the generator had 3 batches: stopped in epoch 2


def test_keras2_generator_methods(keras_run):
    model = fresh(keras_run)
    ds = OurBatches(with_weights=True)
    with pytest.warns(DeprecationWarning, match="`fit_generator` is a legacy \\(Keras 2\\)"):
        history = model.fit_generator(ds, epochs=2, workers=2, shuffle=False, verbose=0)
    assert ds.workers == 2  # Keras 2's fit argument, set where Keras 3 reads it
    np.testing.assert_allclose(history.history["loss"], keras_run["history"]["loss"], rtol=1e-5)
    with pytest.warns(DeprecationWarning, match="evaluate_generator"):
        evaluated = model.evaluate_generator(forever(), steps=3)
    np.testing.assert_allclose(evaluated, keras_run["evaluate"], rtol=1e-5, atol=1e-6)
    with pytest.warns(DeprecationWarning, match="predict_generator"):
        predicted = model.predict_generator((x for x, _ in batches()))
    np.testing.assert_allclose(predicted, keras_run["predict"], rtol=1e-5, atol=1e-6)
