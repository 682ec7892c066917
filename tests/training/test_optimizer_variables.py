"""`optimizer.variables`, `iterations`, `learning_rate` (read, assign, set), `build` and
`set_weights` against real Keras 3: the same small LSTM models trained from the same weights
give the same list of variables (paths, order, shapes, dtypes, values)."""

import keras
import numpy as np
import pytest

import lstmkit

X = np.random.default_rng(0).normal(size=(8, 3, 4)).astype(np.float32)
Y = np.random.default_rng(1).normal(size=(8, 1)).astype(np.float32)

OPTIMIZERS = {  # Keras's slot layouts: interleaved pairs then a list; one list per slot
    "adam": lambda lib: lib.optimizers.Adam(0.01, amsgrad=True, name="adam"),
    "rmsprop": lambda lib: lib.optimizers.RMSprop(momentum=0.5, centered=True, name="rms"),
}


def schedule_nadam(lib):
    schedule = lib.optimizers.schedules.ExponentialDecay(0.01, 2, 0.5)
    return lib.optimizers.Nadam(schedule, name="nadam")


def pair(make, functional=False):
    """A Keras model and an lstmkit model with the same weights, compiled with `make(lib)`."""
    models = []
    for lib in (keras, lstmkit):
        if functional:  # a frozen Dense between the LSTM and the head: Keras's slots skip it
            inp = lib.Input((3, 4), name="x")
            h = lib.layers.LSTM(2, name="lstm")(inp)
            h = lib.layers.Dense(3, name="frozen", trainable=False)(h)
            model = lib.Model(inp, lib.layers.Dense(1, name="head")(h), name="net")
        else:
            model = lib.Sequential([lib.Input((3, 4)), lib.layers.LSTM(2, name="lstm"),
                                    lib.layers.Dense(1, name="head")], name="seq")  # fmt: skip
        model.compile(make(lib), "mse")
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


def check_same(k_vars, l_vars, atol=1e-6):
    assert [v.path for v in l_vars] == [v.path for v in k_vars]
    assert [v.name for v in l_vars] == [v.name for v in k_vars]
    for kv, lv in zip(k_vars, l_vars):
        assert (lv.shape, lv.dtype) == (tuple(kv.shape), kv.dtype), kv.path
        np.testing.assert_allclose(lv.numpy(), kv.numpy(), atol=atol, err_msg=kv.path)


def fit_both(km, lm):
    for m in (km, lm):
        m.fit(X, Y, batch_size=4, epochs=1, verbose=0, shuffle=False)


@pytest.fixture(scope="module")
def trained():
    """name -> (keras model, lstmkit model) after one epoch (2 steps); checked unbuilt first."""
    out = {}
    for name, make in OPTIMIZERS.items():
        km, lm = pair(make)
        assert not lm.optimizer.built and not km.optimizer.built
        check_same(km.optimizer.variables, lm.optimizer.variables)  # iteration, learning_rate
        fit_both(km, lm)
        out[name] = km, lm
    return out


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_variables_match_keras_after_fit(trained, name):
    km, lm = trained[name]
    assert lm.optimizer.built
    check_same(km.optimizer.variables, lm.optimizer.variables)
    it = lm.optimizer.iterations
    assert int(it) == it.numpy() == 2 and it.path == f"{lm.optimizer.name}/iteration"


def test_functional_model_frozen_layer_schedule_and_nadam_scalar():
    km, lm = pair(schedule_nadam, functional=True)
    check_same(km.optimizer.variables, lm.optimizer.variables)  # iteration only: a schedule
    fit_both(km, lm)
    k_vars, l_vars = km.optimizer.variables, lm.optimizer.variables
    check_same(k_vars[:-1], l_vars[:-1])
    # Keras's unnamed momentum product: "variable", numbered by Keras's global count of
    # unnamed variables ("variable_163" after other tests) where lstmkit keeps "variable"
    assert l_vars[-1].path == "variable" and k_vars[-1].path.startswith("variable")
    np.testing.assert_allclose(l_vars[-1].numpy(), k_vars[-1].numpy(), rtol=1e-6)
    # with a schedule, learning_rate is the schedule's value at `iterations` (an array)
    np.testing.assert_allclose(lm.optimizer.learning_rate, km.optimizer.learning_rate)


def test_learning_rate_assign_and_set_continue_training_as_keras(trained):
    km, lm = trained["rmsprop"]
    km.optimizer.learning_rate.assign(1e-3)
    lm.optimizer.learning_rate = 1e-3  # the attribute (Keras assigns the variable: the same)
    lr = lm.optimizer.learning_rate
    assert float(lr) == float(km.optimizer.learning_rate) == float(np.float32(1e-3))
    assert lr.numpy().dtype == np.float32 and lr.shape == () and lr.path == "rms/learning_rate"
    np.testing.assert_allclose(lr * 10, km.optimizer.learning_rate * 10)
    fit_both(km, lm)
    km.optimizer.learning_rate = 5e-4
    lr.assign(lr * 0.5)  # the variable; a handle read earlier stays live, as Keras's
    assert float(lm.optimizer.learning_rate) == float(np.float32(5e-4))
    fit_both(km, lm)
    for kw, lw in zip(km.get_weights(), lm.get_weights()):
        np.testing.assert_allclose(lw, kw, atol=1e-6)
    check_same(km.optimizer.variables, lm.optimizer.variables)


def test_build_then_set_weights_restores_keras_state(trained):
    km, _ = trained["adam"]
    fresh = lstmkit.Sequential([lstmkit.Input((3, 4)), lstmkit.layers.LSTM(2, name="lstm"),
                                lstmkit.layers.Dense(1, name="head")], name="seq")  # fmt: skip
    fresh.compile(OPTIMIZERS["adam"](lstmkit), "mse")
    fresh.optimizer.build(fresh.trainable_variables)  # Keras's way to create the slots
    assert [v.path for v in fresh.optimizer.variables] == [v.path for v in km.optimizer.variables]
    assert all(not np.any(v.numpy()) for v in fresh.optimizer.variables[2:])  # zeros
    fresh.set_weights(km.get_weights())
    fresh.optimizer.set_weights([v.numpy() for v in km.optimizer.variables])
    check_same(km.optimizer.variables, fresh.optimizer.variables, atol=0)
    km.fit(X, Y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    fresh.fit(X, Y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for kw, lw in zip(km.get_weights(), fresh.get_weights()):
        np.testing.assert_allclose(lw, kw, atol=1e-6)
    check_same(km.optimizer.variables, fresh.optimizer.variables)
    # one slot assigned through its variable; iterations reset
    slot = fresh.optimizer.variables[3]
    slot.assign(np.ones(slot.shape))
    np.testing.assert_array_equal(fresh.optimizer.variables[3].numpy(), 1.0)
    fresh.optimizer.iterations.assign(0)
    assert int(fresh.optimizer.iterations) == 0
    # the errors
    with pytest.raises(ValueError, match=r"expected a list of 17 arrays"):
        fresh.optimizer.set_weights([0, 0.1])
    with pytest.raises(ValueError, match="shape"):
        fresh.optimizer.learning_rate.assign(np.ones(2))
    with pytest.raises(ValueError, match="trainable variables"):
        fresh.optimizer.build([np.zeros(3)])


def test_unbuilt_optimizer_errors():
    with pytest.raises(ValueError, match="compile"):
        lstmkit.optimizers.Adam().build([np.zeros(3)])
    with pytest.raises(ValueError, match="not yet been built"):
        lstmkit.optimizers.Adam().set_weights([])
