"""Training resumes exactly: the optimizer's state travels in the file, in Keras's layout.

fit 2 epochs -> save -> load_model -> fit 2 more == fit 4 epochs (same data, shuffle=False, no
dropout), and Keras reads lstmkit's optimizer variables as its own (each slot next to the weight
it belongs to).
"""

import warnings

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.models import load_model
from lstmkit.saving.optimizer_vars import _rule_state, slot_leaves
from tests.saving import saving_helpers as H

FIT = {"batch_size": 4, "shuffle": False, "verbose": 0}


def _data(seed=0, n=12):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, H.T, H.F)).astype("float32")
    return x, rng.normal(size=(n, 2)).astype("float32")


def _tiny(optimizer):
    L = lstmkit.layers
    x = lstmkit.Input((H.T, H.F))
    model = lstmkit.Model(x, L.Dense(2, **H.ZD)(L.LSTM(H.U, **H.Z)(x)))
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _state_leaves(model):
    import jax

    return [np.asarray(v) for v in jax.tree_util.tree_leaves(model.optimizer.opt_state)]


def _check_resume(model, resumed, saved_state, x, y):
    """`model` has trained 2 epochs, `resumed` was loaded from its file then."""
    for a, b in zip(_state_leaves(resumed), saved_state, strict=True):  # the state came back
        np.testing.assert_array_equal(a, b)
    assert any(np.abs(s).max() > 0 for s in saved_state[2:])  # (and it is not all zeros)
    model.fit(x, y, epochs=2, **FIT)  # now 4 uninterrupted epochs
    resumed.fit(x, y, epochs=2, **FIT)
    for a, b in zip(resumed.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert resumed.optimizer.iterations == model.optimizer.iterations


def test_resume_adam_and_keras_reads_the_slots(tmp_path):
    """Adam: fit 2 -> save -> load_model -> fit 2 == fit 4. The model is one whose Keras layer
    order differs from lstmkit's (see H.reorder), and Keras, opening the file, finds each
    optimizer slot next to the weight it belongs to."""
    warnings.simplefilter("ignore")
    model = H.reorder(lstmkit)
    H.randomize(model, seed=2)
    model.compile(optimizer=lstmkit.optimizers.Adam(0.01), loss=["mse", "mse"])
    x = H.reorder_data(seed=3, batch=8)
    ys = [np.ones((8, 1), "float32"), np.linspace(-1, 1, 8, dtype="float32")[:, None]]
    model.fit(x, ys, epochs=2, **FIT)
    model.save(tmp_path / "m.keras")
    saved_state = _state_leaves(model)

    km = keras.models.load_model(tmp_path / "m.keras")
    assert [layer.name for layer in km.layers] != [layer.name for layer in model.layers]
    rule = _rule_state(model.optimizer.opt_state)
    index = {id(w): i for i, w in enumerate(model.trainable_weights)}
    slot_of = {}  # Keras variable -> lstmkit's index among trainable weights
    for kl in km.layers:
        lw = model.get_layer(kl.name).trainable_weights
        assert len(lw) == len(kl.trainable_weights)
        for kv, w in zip(kl.trainable_weights, lw):
            slot_of[id(kv)] = index[id(w)]
    opt = km.optimizer
    assert int(opt.iterations) == 4
    assert float(opt.learning_rate) == pytest.approx(0.01)
    for j, kv in enumerate(opt._trainable_variables):
        i = slot_of[id(kv)]
        momentum, velocity = (slot_leaves(model, rule.slots[s])[i] for s in (0, 1))
        np.testing.assert_array_equal(np.asarray(opt._momentums[j]), np.asarray(momentum))
        np.testing.assert_array_equal(np.asarray(opt._velocities[j]), np.asarray(velocity))

    _check_resume(model, load_model(tmp_path / "m.keras"), saved_state, x, ys)


def test_resume_sgd_momentum_with_schedule(tmp_path):
    """SGD with Nesterov momentum and a learning-rate schedule (so no learning_rate variable
    in the file); the `.weights.h5` file carries the optimizer's state too."""

    def sgd():
        schedule = lstmkit.optimizers.schedules.ExponentialDecay(0.05, 3, 0.5)
        return lstmkit.optimizers.SGD(learning_rate=schedule, momentum=0.9, nesterov=True)

    x, y = _data()
    model = _tiny(sgd())
    H.randomize(model, seed=1)
    model.fit(x, y, epochs=2, **FIT)
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    saved_state = _state_leaves(model)
    resumed = load_model(tmp_path / "m.keras")
    assert resumed.optimizer.iterations == 6
    assert H.h5_layout(tmp_path / "m.weights.h5") == H.read_keras_file(tmp_path / "m.keras")[1]
    _check_resume(model, resumed, saved_state, x, y)


SLOW_OPTIMIZERS = {
    "rmsprop": lambda: lstmkit.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adamw": lambda: lstmkit.optimizers.AdamW(0.01, amsgrad=True, clipnorm=1.0),
    "nadam": lambda: lstmkit.optimizers.Nadam(0.01),
    "adagrad": lambda: lstmkit.optimizers.Adagrad(0.05),
    "adadelta": lambda: lstmkit.optimizers.Adadelta(1.0),
    "sgd": lambda: lstmkit.optimizers.SGD(0.05),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_OPTIMIZERS))
def test_resume_every_optimizer(tmp_path, name):
    x, y = _data()
    model = _tiny(SLOW_OPTIMIZERS[name]())
    H.randomize(model, seed=1)
    model.fit(x, y, epochs=2, **FIT)
    model.save_weights(tmp_path / "m.weights.h5")
    saved_state = _state_leaves(model)
    resumed = _tiny(SLOW_OPTIMIZERS[name]())  # compiled afresh, then loaded
    resumed.load_weights(tmp_path / "m.weights.h5")
    _check_resume(model, resumed, saved_state, x, y)


@pytest.mark.slow
@pytest.mark.parametrize("opt", ["adam", "sgd", "rmsprop", "nadam"])
def test_keras_and_lstmkit_continue_each_others_training(tmp_path, opt):
    warnings.simplefilter("ignore")
    make = {
        "adam": lambda lib: lib.optimizers.Adam(0.01),
        "sgd": lambda lib: lib.optimizers.SGD(0.05, momentum=0.9),
        "rmsprop": lambda lib: lib.optimizers.RMSprop(0.01, momentum=0.3, centered=True),
        "nadam": lambda lib: lib.optimizers.Nadam(0.01),
    }[opt]
    x, y = _data(seed=4)
    km = H.small(keras, make(keras))
    H.randomize(km, seed=5)
    km.fit(x, y, epochs=2, **FIT)
    km.save(tmp_path / "k.keras")
    lk = load_model(tmp_path / "k.keras")
    lk.fit(x, y, epochs=1, **FIT)
    lk.save(tmp_path / "l.keras")
    km.fit(x, y, epochs=1, **FIT)
    kk = keras.models.load_model(tmp_path / "l.keras")
    for model in (kk, lk):
        model.fit(x, y, epochs=1, **FIT)
    km.fit(x, y, epochs=1, **FIT)
    for a, b, c in zip(km.get_weights(), lk.get_weights(), kk.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-5)
        np.testing.assert_allclose(c, a, atol=1e-5)
