"""How fit carries the parameters: written back to the layers only when read, callbacks that set
weights mid-fit are honoured, metrics read from the device only when something needs them."""

import numpy as np

import lstmkit
from lstmkit import callbacks
from lstmkit.models.training_api import _trainer


def model_and_data():
    lstmkit.utils.set_random_seed(0)
    model = lstmkit.Sequential([lstmkit.Input(shape=(3,)), lstmkit.layers.Dense(2),
                                lstmkit.layers.Dense(1)])  # fmt: skip
    model.compile(lstmkit.optimizers.SGD(0.1), "mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    return model, x, x.sum(axis=1, keepdims=True)


def count_calls(obj, name, counter):
    original = getattr(obj, name)

    def counted(*args, **kwargs):
        counter[name] = counter.get(name, 0) + 1
        return original(*args, **kwargs)

    setattr(obj, name, counted)


def test_weights_are_written_back_once_not_per_batch():
    model, x, y = model_and_data()
    counts = {}
    count_calls(model, "set_params", counts)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)  # 10 steps
    assert counts == {"set_params": 1}  # at the end of fit
    reference, _, _ = model_and_data()
    assert not all(np.array_equal(a, b) for a, b in
                   zip(model.get_weights(), reference.get_weights()))  # fmt: skip


def test_metrics_are_read_from_the_device_only_at_epoch_end():
    model, x, y = model_and_data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # build the trainer
    trainer, counts = _trainer(model), {}
    count_calls(trainer, "_result_fn", counts)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0)  # 15 steps, no batch callbacks
    assert counts == {"_result_fn": 3}

    seen = []

    class PerBatch(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs)

    counts.clear()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[PerBatch()])
    assert counts == {"_result_fn": 5 + 1}  # each batch for the callback, then the epoch
    assert len(seen) == 5 and all(isinstance(v, float) for v in seen[-1].values())
    assert sorted(seen[-1]) == ["loss", "mae"]


def test_a_callback_that_sets_weights_mid_fit_is_honoured():
    zeros = None

    class Reset(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.set_weights(zeros)

    model, x, y = model_and_data()
    zeros = [np.zeros_like(w) for w in model.get_weights()]
    model.fit(x, y, batch_size=8, shuffle=False, verbose=0, callbacks=[Reset()])
    reference, _, _ = model_and_data()
    reference.set_weights(zeros)
    for i in range(2, 5):  # batches after the reset start from zeros
        reference.train_on_batch(x[8 * i : 8 * (i + 1)], y[8 * i : 8 * (i + 1)])
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_optimizer_iterations_advance_during_fit_and_train_on_batch():
    model, x, y = model_and_data()
    seen = []

    class Steps(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(int(self.model.optimizer.iterations))  # a live variable, as in Keras

    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[Steps()])
    assert seen == [5, 10]
    model.train_on_batch(x[:8], y[:8])
    assert model.optimizer.iterations == 11
