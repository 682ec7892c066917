"""Optimizers and schedules against real Keras 3 (JAX backend): updates, defaults, config, lookup.

Oracle: the same 20 gradient pytrees applied to the same variables by
``keras.optimizers.X.apply_gradients`` and by ``tx.update`` + ``optax.apply_updates``.
Run eagerly, our rules do Keras's float32 operations in Keras's order, so the results are equal
bit for bit; under ``jax.jit`` XLA fuses them (FMA) and they agree to 1e-6.
"""

import inspect
import os
import re

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lstmkit.optimizers as lo  # noqa: E402
from lstmkit.optimizers import schedules as ls  # noqa: E402

SHAPES = [(3, 4), (4,), (2, 3, 2)]
NAMES = ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Nadam"]


def problem(seed=0, steps=20, scale=3.0):
    """Initial variables and `steps` gradient lists (one all-zero gradient, for the clip path)."""
    r = np.random.default_rng(seed)
    init = [r.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[(r.normal(size=s) * scale).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    grads[4][1] = np.zeros_like(grads[4][1])
    return init, grads


def run_keras(opt, init, grads, on_step=None):
    variables = [keras.Variable(v) for v in init]
    for i, g in enumerate(grads):
        if on_step:
            on_step(i, opt)
        opt.apply_gradients(zip([jnp.asarray(x) for x in g], variables, strict=True))
    return [np.asarray(v.value) for v in variables], opt


def run_ours(opt, init, grads, jit=True, on_step=None):
    tx = opt.to_optax()
    params = [jnp.asarray(v) for v in init]
    state = tx.init(params)
    traces = []

    def step(p, s, g):
        traces.append(1)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    step = jax.jit(step) if jit else step
    for i, g in enumerate(grads):
        if on_step:
            on_step(i, opt)
            state = opt.sync_lr(state)
        params, state = step(params, state, [jnp.asarray(x) for x in g])
    return [np.asarray(p) for p in params], state, len(traces)


def check(ours, theirs, exact):
    for a, b in zip(ours, theirs, strict=True):
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-5)


CASES = {
    "sgd": ("SGD", {}),
    "sgd_momentum": ("SGD", {"momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", {}),
    "rmsprop_momentum": ("RMSprop", {"momentum": 0.5}),
    "rmsprop_centered": ("RMSprop", {"centered": True}),
    "rmsprop_centered_momentum": ("RMSprop", {"centered": True, "momentum": 0.5, "rho": 0.8}),
    "adam": ("Adam", {}),
    "adam_amsgrad": ("Adam", {"amsgrad": True}),
    "adamw": ("AdamW", {}),
    "adagrad": ("Adagrad", {}),
    "adagrad_acc": ("Adagrad", {"initial_accumulator_value": 0.5, "learning_rate": 0.1}),
    "adadelta": ("Adadelta", {"learning_rate": 1.0}),
    "nadam": ("Nadam", {}),
    "adam_clipnorm": ("Adam", {"clipnorm": 1.0}),
    "sgd_clipvalue": ("SGD", {"clipvalue": 0.5, "momentum": 0.9}),
    "rmsprop_global_clipnorm": ("RMSprop", {"global_clipnorm": 2.0}),
    "sgd_weight_decay": ("SGD", {"weight_decay": 0.05, "momentum": 0.9}),
    "nadam_lr": ("Nadam", {"learning_rate": 0.02, "beta_1": 0.8}),
}


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("case", list(CASES))
def test_updates_match_keras(case, jit):
    name, kwargs = CASES[case]
    init, grads = problem()
    theirs, k_opt = run_keras(getattr(keras.optimizers, name)(**kwargs), init, grads)
    ours, state, _ = run_ours(getattr(lo, name)(**kwargs), init, grads, jit=jit)
    # Keras decays the weights in place before the rule; an additive update rounds differently.
    exact = not jit and kwargs.get("weight_decay", 0.004 if name == "AdamW" else None) is None
    check(ours, theirs, exact)
    assert int(lo.get_iterations(state)) == int(k_opt.iterations) == 20


def keras_and_ours_schedules():
    ks, ours = keras.optimizers.schedules, ls
    return {
        "exponential": (ks.ExponentialDecay(0.1, 5, 0.5), ours.ExponentialDecay(0.1, 5, 0.5)),
        "exponential_stair": (
            ks.ExponentialDecay(0.1, 3, 0.7, staircase=True),
            ours.ExponentialDecay(0.1, 3, 0.7, staircase=True),
        ),
        "piecewise": (
            ks.PiecewiseConstantDecay([5, 12], [0.1, 0.05, 0.01]),
            ours.PiecewiseConstantDecay([5, 12], [0.1, 0.05, 0.01]),
        ),
        "inverse_time": (ks.InverseTimeDecay(0.1, 5, 0.5), ours.InverseTimeDecay(0.1, 5, 0.5)),
        "inverse_time_stair": (
            ks.InverseTimeDecay(0.1, 4, 1.5, staircase=True),
            ours.InverseTimeDecay(0.1, 4, 1.5, staircase=True),
        ),
        "cosine": (ks.CosineDecay(0.1, 15, alpha=0.1), ours.CosineDecay(0.1, 15, alpha=0.1)),
        "cosine_warmup": (
            ks.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=5),
            ours.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=5),
        ),
    }


@pytest.mark.parametrize("which", list(keras_and_ours_schedules()))
def test_schedules_match_keras(which):
    k_sched, our_sched = keras_and_ours_schedules()[which]
    steps = range(30)
    theirs = np.array([np.float32(k_sched(s)) for s in steps])
    ours = np.array([np.float32(our_sched(s)) for s in steps])
    np.testing.assert_array_equal(ours, theirs)
    traced = jax.jit(our_sched)(jnp.arange(30))  # fused by XLA: equal to the last bit or two
    np.testing.assert_allclose(traced, theirs, rtol=1e-6, atol=1e-8)
    assert ls.serialize(our_sched) == keras.optimizers.schedules.serialize(k_sched)


@pytest.mark.parametrize("which", ["exponential", "piecewise", "cosine_warmup"])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_schedule_drives_optimizer(which, name):
    k_sched, our_sched = keras_and_ours_schedules()[which]
    kwargs = {"momentum": 0.9} if name == "SGD" else {}
    init, grads = problem(seed=1)
    theirs, _ = run_keras(
        getattr(keras.optimizers, name)(learning_rate=k_sched, **kwargs), *problem(seed=1)
    )
    opt = getattr(lo, name)(learning_rate=our_sched, **kwargs)
    ours, state, _ = run_ours(opt, init, grads, jit=False)
    check(ours, theirs, exact=True)
    # the state holds the rate of the last update (step 19)
    assert float(lo.get_lr(state)) == float(np.float32(k_sched(19)))
    opt.iterations = 7
    assert opt.learning_rate == float(np.float32(k_sched(7)))


def test_learning_rate_change_between_steps_matches_keras_without_recompiling():
    def change(i, opt):
        if i in (5, 12):
            opt.learning_rate = opt.learning_rate * 0.1

    init, grads = problem(seed=2)
    theirs, _ = run_keras(keras.optimizers.Adam(0.01), init, grads, on_step=change)
    opt = lo.Adam(0.01)
    ours, state, traces = run_ours(opt, init, grads, jit=True, on_step=change)
    check(ours, theirs, exact=False)
    assert traces == 1  # the rate lives in the state: one compilation for all 20 steps
    assert float(lo.get_lr(state)) == opt.learning_rate == pytest.approx(1e-4, rel=1e-6)
    ours_eager, _, _ = run_ours(lo.Adam(0.01), init, grads, jit=False, on_step=change)
    check(ours_eager, theirs, exact=True)


def test_get_and_set_lr_are_pure():
    opt = lo.RMSprop(0.5)
    assert opt.learning_rate == float(np.float32(0.5))
    state = opt.init({"w": jnp.ones(3)})
    new = lo.set_lr(state, 0.25)
    assert float(lo.get_lr(state)) == 0.5 and float(lo.get_lr(new)) == 0.25
    assert lo.get_lr(new).dtype == jnp.float32 and lo.get_lr(new).shape == ()
    nested = (new, optax.EmptyState())  # found inside a wrapping chain state as well
    assert float(lo.get_lr(lo.set_lr(nested, 2.0))) == 2.0
    with pytest.raises(ValueError, match="no learning rate"):
        lo.get_lr(optax.sgd(0.1).init(jnp.ones(2)))


def test_learning_rate_is_recorded_as_float32_like_keras():
    ours, theirs = lo.SGD(0.1), keras.optimizers.SGD(0.1)
    assert ours.learning_rate == float(np.asarray(theirs.learning_rate))
    ours.learning_rate, theirs.learning_rate = 0.003, 0.003
    assert ours.learning_rate == float(np.asarray(theirs.learning_rate))
    # a float32 variable, as Keras's (float() gives the float32 value as a Python float)
    assert ours.learning_rate.numpy().dtype == theirs.learning_rate.numpy().dtype == np.float32
    assert float(ours.learning_rate) == float(theirs.learning_rate)


def test_defaults_match_keras():
    common = ["learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm"]
    for name in NAMES:
        ours = getattr(lo, name)()
        theirs = getattr(keras.optimizers, name)()
        keras_params = inspect.signature(getattr(keras.optimizers, name)).parameters
        our_params = inspect.signature(getattr(lo, name)).parameters
        for arg, p in keras_params.items():
            if arg in our_params and our_params[arg].default is not inspect.Parameter.empty:
                assert our_params[arg].default == p.default, (name, arg)
        ours_cfg, theirs_cfg = ours.get_config(), theirs.get_config()
        del ours_cfg["name"], theirs_cfg["name"]
        assert ours_cfg == theirs_cfg, name
        assert all(k in ours_cfg for k in common)


@pytest.mark.parametrize("name", NAMES)
def test_config_and_serialization_match_keras(name):
    kwargs = {"learning_rate": 0.02, "clipnorm": 0.5, "name": "opt"}
    ours = getattr(lo, name)(**kwargs)
    theirs = getattr(keras.optimizers, name)(**kwargs)
    assert lo.serialize(ours) == keras.optimizers.serialize(theirs)
    assert lo.deserialize(keras.optimizers.serialize(theirs)).get_config() == ours.get_config()
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


def test_schedule_config_roundtrip():
    k_opt = keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.CosineDecay(0.1, 100))
    ours = lo.get(keras.optimizers.serialize(k_opt))
    assert isinstance(ours.schedule, ls.CosineDecay)
    assert lo.serialize(ours) == keras.optimizers.serialize(k_opt)


def test_get_accepts_names_instances_and_dicts():
    for name in ["sgd", "SGD", "rmsprop", "RMSprop", "adam", "Adam", "adamw", "adagrad"]:
        assert type(lo.get(name)).__name__.lower() == name.lower()
    assert isinstance(lo.get("adadelta"), lo.Adadelta) and isinstance(lo.get("Nadam"), lo.Nadam)
    opt = lo.Adam()
    assert lo.get(opt) is opt and lo.get(None) is None
    assert lo.get({"class_name": "Adam", "config": {"learning_rate": 0.5}}).learning_rate == 0.5
    with pytest.raises(ValueError, match="'adamax'.*adadelta, adagrad, adam, adamw, nadam"):
        lo.get("adamax")
    with pytest.raises(ValueError, match="Could not interpret"):
        lo.get(3)


def test_argument_errors_like_keras():
    with pytest.raises(ValueError, match="Only one of `clipnorm`"):
        lo.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        lo.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="momentum"):
        lo.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        lo.Adam(learning_rate="fast")
    with pytest.raises(ValueError, match="not recognized"):
        lo.Adam(bogus=1)
    with pytest.raises(ValueError, match="decay_steps"):
        ls.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(TypeError, match="not settable"):
        lo.SGD(learning_rate=ls.ExponentialDecay(0.1, 5, 0.5)).learning_rate = 0.1
    with pytest.raises(NotImplementedError, match="use_ema"):
        lo.Adam(use_ema=True)
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        assert lo.SGD(lr=0.5).learning_rate == 0.5


def test_auto_names_count_like_keras():
    first, second = lo.Adagrad(), lo.Adagrad()
    assert re.fullmatch(r"adagrad(_\d+)?", first.name) and second.name != first.name
    assert lo.RMSprop(name="mine").name == "mine"


def test_weight_decay_needs_params():
    tx = lo.AdamW().to_optax()
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="params"):
        tx.update(params, tx.init(params))


@settings(max_examples=8, deadline=None)
@given(
    name=st.sampled_from(["RMSprop", "Adam", "Nadam", "SGD"]),
    lr=st.floats(1e-4, 0.5),
    rho=st.floats(0.5, 0.99),
    momentum=st.sampled_from([0.0, 0.3, 0.9]),
    seed=st.integers(0, 1000),
)
def test_hyperparameter_sweep_matches_keras_exactly(name, lr, rho, momentum, seed):
    kwargs = {
        "RMSprop": {"rho": rho, "momentum": momentum},
        "Adam": {"beta_1": rho, "amsgrad": momentum > 0.5},
        "Nadam": {"beta_2": rho},
        "SGD": {"momentum": momentum, "nesterov": momentum == 0.3},
    }[name]
    init, grads = problem(seed=seed, steps=6)
    theirs, _ = run_keras(getattr(keras.optimizers, name)(learning_rate=lr, **kwargs), init, grads)
    ours, _, _ = run_ours(getattr(lo, name)(learning_rate=lr, **kwargs), init, grads, jit=False)
    check(ours, theirs, exact=True)
