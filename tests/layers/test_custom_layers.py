"""Custom layers written the Keras 3 way run in lstmkit as in Keras: same weights in, same
outputs out, same training steps, same files."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import lstmkit
from lstmkit import ops as lk_ops
from tests.layers.custom_programs import attention_program, running_mean_program, token_batch

ATOL = 1e-5


def both(program):
    """The program built in Keras and in lstmkit, lstmkit given Keras's initial weights."""
    km, kcls = program(keras, keras.ops)
    lm, lcls = program(lstmkit, lk_ops)
    return km, lm, kcls, lcls


def max_err(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


# ----- (a) additive attention over LSTM outputs, with masking ----------------------------------
def test_attention_with_mask_matches_keras_outputs():
    rng = np.random.default_rng(0)
    x = token_batch(rng, 6)
    km, lm, _, _ = both(attention_program)
    assert [w.shape for w in lm.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    lm.set_weights(km.get_weights())
    assert max_err(lm.predict(x, verbose=0), km.predict(x, verbose=0)) <= ATOL
    assert max_err(lm(x), km(x)) <= ATOL  # eager call too
    # The mask matters: changing padded positions' ids changes nothing (in both).
    x2 = np.where(x == 0, 0, x)
    x2[:, -1] = np.where(x[:, -1] == 0, 0, x2[:, -1])
    assert max_err(lm.predict(x2, verbose=0), km.predict(x, verbose=0)) <= ATOL


def test_attention_layer_weights_are_variables_named_as_keras():
    km, lm, _, _ = both(attention_program)
    k_att, l_att = km.layers[-2], lm.layers[-2]
    assert [v.name for v in l_att.variables] == [v.name for v in k_att.weights]
    assert [v.path for v in l_att.variables] == [f"{l_att.name}/{n}" for n in ("W", "b", "v")]
    assert isinstance(l_att.W, lstmkit.Variable)
    assert l_att.W.shape == tuple(k_att.W.shape) and l_att.W.dtype == "float32"
    assert l_att.W.trainable and l_att.W.name == "W"
    np.testing.assert_array_equal(np.asarray(l_att.W), l_att.W.numpy())


def test_attention_sgd_steps_equal_keras_and_loss_decreases():
    rng = np.random.default_rng(1)
    x, y = token_batch(rng, 16), rng.integers(0, 2, size=(16, 1)).astype("float32")
    km, lm, _, _ = both(attention_program)
    lm.set_weights(km.get_weights())
    for m, lib in ((km, keras), (lm, lstmkit)):
        m.compile(optimizer=lib.optimizers.SGD(0.5), loss="binary_crossentropy")
    kh = km.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    lh = lm.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(lh.history["loss"], kh.history["loss"], atol=1e-5)
    for a, b in zip(lm.get_weights(), km.get_weights()):
        assert max_err(a, b) <= 1e-5
    assert lh.history["loss"][-1] < lh.history["loss"][0]


def test_attention_is_a_pure_function_of_its_parameters():
    """jit and grad through the custom layer: gradients equal Keras's (stateless_call)."""
    rng = np.random.default_rng(2)
    x = token_batch(rng, 4)
    km, lm, _, _ = both(attention_program)
    lm.set_weights(km.get_weights())
    params, state = lm.params, lm.state

    def loss(p):
        return jnp.sum(lm.apply(p, state, jnp.asarray(x))[0] ** 2)

    grads = jax.jit(jax.grad(loss))(params)
    att = lm.layers[-2]
    ours = grads[att.name]

    tv, ntv = km.trainable_variables, km.non_trainable_variables

    def kloss(values):
        out, _ = km.stateless_call(values, [v.value for v in ntv], x)
        return jnp.sum(out**2)

    kgrads = jax.grad(kloss)([v.value for v in tv])
    by_path = {v.path: g for v, g in zip(tv, kgrads)}
    for name in ("W", "b", "v"):
        assert max_err(ours[name], by_path[f"{att.name}/{name}"]) <= ATOL
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))


def test_attention_saves_and_loads_in_lstmkit_with_custom_objects(tmp_path):
    rng = np.random.default_rng(3)
    x = token_batch(rng, 5)
    _, lm, _, cls = both(attention_program)
    path = str(tmp_path / "att.keras")
    lm.save(path)
    back = lstmkit.models.load_model(path, custom_objects={"AdditiveAttention": cls})
    assert max_err(back.predict(x, verbose=0), lm.predict(x, verbose=0)) == 0.0
    with lstmkit.saving.custom_object_scope({"AdditiveAttention": cls}):
        lstmkit.models.load_model(path)


def test_keras_file_with_registered_custom_layer_loads_in_lstmkit_and_back(tmp_path):
    rng = np.random.default_rng(4)
    x = token_batch(rng, 5)
    km, _, _, lcls = both(attention_program)
    kpath, lpath = str(tmp_path / "keras.keras"), str(tmp_path / "lstmkit.keras")
    km.save(kpath)
    lm = lstmkit.models.load_model(kpath)  # found through register_keras_serializable
    assert any(isinstance(layer, lcls) for layer in lm.layers)
    assert max_err(lm.predict(x, verbose=0), km.predict(x, verbose=0)) <= ATOL
    lm.save(lpath)
    km2 = keras.models.load_model(lpath)
    assert max_err(km2.predict(x, verbose=0), km.predict(x, verbose=0)) <= ATOL


def test_unregistered_custom_layer_refused_naming_the_class(tmp_path):
    km, _, _, _ = both(lambda lib, ops: attention_program(lib, ops, package="unlisted"))
    path = str(tmp_path / "k.keras")
    km.save(path)
    lstmkit.saving.get_custom_objects().pop("unlisted>AdditiveAttention")
    with pytest.raises(ValueError, match="AdditiveAttention"):
        lstmkit.models.load_model(path)


# ----- (b) a non-trainable weight updated in call -----------------------------------------------
def test_weight_assigned_in_call_matches_keras_eagerly():
    rng = np.random.default_rng(5)
    km, lm, _, _ = both(running_mean_program)
    lm.set_weights(km.get_weights())
    for _ in range(3):
        x = rng.normal(size=(8, 4)).astype("float32")
        k_out, l_out = km(x, training=True), lm(x, training=True)
        assert max_err(l_out, k_out) <= ATOL
    k_layer, l_layer = km.layers[1], lm.layers[1]
    assert float(l_layer.steps.numpy()) == 3.0 == float(k_layer.steps.numpy())
    assert max_err(l_layer.moving_mean.numpy(), k_layer.moving_mean.numpy()) <= ATOL
    assert max_err(lm(x), km(x)) <= ATOL  # inference: nothing assigned
    assert float(l_layer.steps.numpy()) == 3.0
    assert [w.shape for w in lm.trainable_weights] == [w.shape for w in km.trainable_weights]
    assert len(lm.non_trainable_weights) == 2


def test_model_run_returns_assigned_weights_as_new_params():
    rng = np.random.default_rng(6)
    _, lm, _, _ = both(running_mean_program)
    x = jnp.asarray(rng.normal(size=(8, 4)).astype("float32"))
    params = lm.params
    name = lm.layers[1].name
    out = jax.jit(lambda p: lm.run(p, lm.state, x, training=True))(params)
    new_params = out[4]
    assert float(new_params[name]["steps"]) == 1.0
    np.testing.assert_allclose(new_params[name]["moving_mean"], 0.1 * np.mean(x, axis=0), atol=1e-6)
    assert float(lm.layers[1].steps.numpy()) == 0.0  # pure: nothing stored changed
    same = lm.run(params, lm.state, x, training=False)[4]
    assert float(same[name]["steps"]) == 0.0


def test_weight_assigned_in_call_is_updated_through_fit_like_keras():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(24, 4)).astype("float32"), rng.normal(size=(24, 1)).astype("float32")
    km, lm, _, _ = both(running_mean_program)
    lm.set_weights(km.get_weights())
    for m, lib in ((km, keras), (lm, lstmkit)):
        m.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    kh = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    lh = lm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert float(lm.layers[1].steps.numpy()) == 6.0 == float(km.layers[1].steps.numpy())
    np.testing.assert_allclose(lh.history["loss"], kh.history["loss"], atol=1e-5)
    for a, b in zip(lm.get_weights(), km.get_weights()):
        assert max_err(a, b) <= 1e-5
    lm.predict(x, verbose=0)
    assert float(lm.layers[1].steps.numpy()) == 6.0  # predict runs with training=False


def test_running_mean_round_trips_through_keras_files(tmp_path):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(5, 4)).astype("float32")
    km, lm, _, _ = both(running_mean_program)
    km(x, training=True)
    km.save(str(tmp_path / "k.keras"))
    lm = lstmkit.models.load_model(str(tmp_path / "k.keras"))
    assert float(lm.layers[1].steps.numpy()) == 1.0
    assert max_err(lm.predict(x, verbose=0), km.predict(x, verbose=0)) <= ATOL
    lm.save(str(tmp_path / "l.keras"))
    km2 = keras.models.load_model(str(tmp_path / "l.keras"))
    assert max_err(km2.predict(x, verbose=0), km.predict(x, verbose=0)) <= ATOL


# ----- the protocol, piece by piece -------------------------------------------------------------
class Scale(lstmkit.layers.Layer):
    """No build, no get_config: a weight made in __init__-free build by run, auto config."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.inner = lstmkit.layers.Dense(3)

    def call(self, inputs):
        return self.inner(inputs) * self.factor


def test_sublayers_tracked_built_by_run_and_auto_config():
    layer = Scale(3.0)
    out = layer(np.ones((2, 5), np.float32))
    assert out.shape == (2, 3)
    assert list(layer._sublayers) == ["inner"] and layer.inner.built
    assert [v.name for v in layer.variables] == ["kernel", "bias"]
    assert [w.shape for w in layer.get_weights()] == [(5, 3), (3,)]
    config = layer.get_config()
    assert config["factor"] == 3.0 and config["name"] == layer.name
    clone = Scale.from_config(config)
    assert clone.factor == 3.0


def test_symbolic_call_infers_output_shape_and_works_in_sequential():
    inp = lstmkit.Input((5,))
    out = Scale()(inp)
    assert out.shape == (None, 3)
    seq = lstmkit.Sequential([lstmkit.Input((5,)), Scale(), lstmkit.layers.Dense(1)])
    assert seq.predict(np.ones((4, 5), np.float32), verbose=0).shape == (4, 1)


def test_variable_behaves_like_an_array_and_assigns():
    layer = lstmkit.layers.Dense(2)
    layer.build((None, 3))
    k = layer._variables["kernel"]
    a = np.asarray(k)
    np.testing.assert_allclose(np.asarray(k + 1), a + 1)
    # atol too: the random kernel's column sum can be near 0, where float32 rounding is large
    # relative to it (this failed once, depending on the draw)
    np.testing.assert_allclose(
        np.asarray(np.ones((1, 3), np.float32) @ k), np.ones((1, 3)) @ a, rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(np.asarray(jnp.asarray(k)), a)
    assert k.ndim == 2 and k.path == f"{layer.name}/kernel"
    k.assign(np.zeros((3, 2)))
    assert np.all(layer.get_weights()[0] == 0)
    k.assign_add(np.ones((3, 2)))
    assert np.all(layer.get_weights()[0] == 1)
    with pytest.raises(ValueError, match=f"{layer.name}/kernel.*shape"):
        k.assign(np.zeros((2, 2)))


# ----- errors name the layer ----------------------------------------------------------------------
class BadWeight(lstmkit.layers.Layer):
    def __init__(self, shape=(None, 3), initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.shape_, self.init_ = shape, initializer

    def build(self, input_shape):
        self.w = self.add_weight(shape=self.shape_, initializer=self.init_, name="w")

    def call(self, inputs):
        return inputs


class ReturnsNone(lstmkit.layers.Layer):
    def call(self, inputs):
        inputs * 2  # noqa: B018  (forgot return)


class ReturnsText(lstmkit.layers.Layer):
    def call(self, inputs):
        return "done"


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        (BadWeight(name="bad_shape"), "bad_shape.*add_weight.*shape"),
        (BadWeight((3,), "no_such_init", name="bad_init"), "bad_init.*initializer"),
        (ReturnsNone(name="forgetful"), "forgetful.*returned None"),
        (ReturnsText(name="chatty"), "chatty.*must return arrays"),
    ],
)
def test_user_mistakes_name_the_layer(layer, match):
    with pytest.raises((ValueError, TypeError), match=match):
        layer(np.ones((2, 3), np.float32))


def test_unexpected_call_keyword_names_the_layer():
    layer = Scale(name="scaler")
    with pytest.raises(TypeError, match="scaler.*unexpected keyword.*foo"):
        layer(np.ones((2, 5), np.float32), foo=1)


def activity_penalty_program(lib, ops):
    """A layer adding a loss term in call (Keras's add_loss), inside a Sequential model."""

    class Penalized(lib.layers.Layer):
        def __init__(self, rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate
            self.dense = lib.layers.Dense(2)

        def call(self, inputs):
            y = self.dense(inputs)
            self.add_loss(self.rate * ops.mean(y * y))
            return y

    return lib.Sequential([lib.Input((3,)), Penalized(), lib.layers.Dense(1)]), Penalized


def test_add_loss_in_call_counts_in_the_loss_like_keras():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(10, 3)).astype("float32"), rng.normal(size=(10, 1)).astype("float32")
    km, lm, _, _ = both(activity_penalty_program)
    lm.set_weights(km.get_weights())
    for m in (km, lm):
        m.compile(optimizer="sgd", loss="mse")
    assert abs(lm.evaluate(x, y, verbose=0) - km.evaluate(x, y, verbose=0)) <= 1e-5


class Halve(lstmkit.layers.Layer):
    """No compute_output_shape: lstmkit infers it by tracing call, as Keras."""

    def call(self, inputs):
        return inputs[..., ::2] * 0.5


def test_inferred_output_shape_inside_time_distributed():
    layer = Halve()
    assert layer.compute_output_shape((None, 4, 6)) == (None, 4, 3)
    inp = lstmkit.Input((4, 6))
    out = lstmkit.layers.TimeDistributed(Halve())(inp)
    assert out.shape == (None, 4, 3)
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    y = lstmkit.Model(inp, out).predict(x, verbose=0)
    np.testing.assert_array_equal(y, x[..., ::2] * 0.5)


def bahdanau_program(lib, ops, package: str = "custom_test"):
    """Attention with two positional inputs, as TensorFlow's NMT tutorial writes it:
    `call(self, query, values)` over an LSTM's sequence and its last state."""

    @lib.saving.register_keras_serializable(package=package)
    class BahdanauAttention(lib.layers.Layer):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.W1 = lib.layers.Dense(units)
            self.W2 = lib.layers.Dense(units)
            self.V = lib.layers.Dense(1)

        def call(self, query, values):
            query = ops.expand_dims(query, 1)  # (batch, 1, features)
            score = self.V(ops.tanh(self.W1(query) + self.W2(values)))  # (batch, time, 1)
            weights = ops.softmax(score, axis=1)
            return ops.sum(weights * values, axis=1)  # (batch, features)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    inputs = lib.Input((6, 3))
    sequence, h, _ = lib.layers.LSTM(5, return_sequences=True, return_state=True)(inputs)
    context = BahdanauAttention()(h, sequence)
    return lib.Model(inputs, lib.layers.Dense(2)(context)), BahdanauAttention


def test_call_with_two_positional_inputs_matches_keras_and_round_trips(tmp_path):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(3, 6, 3)).astype("float32")
    km, lm, _, _ = both(bahdanau_program)
    lm.set_weights(km.get_weights())
    assert max_err(lm.predict(x, verbose=0), km.predict(x, verbose=0)) <= ATOL
    assert list(lm.layers[2]._sublayers) == ["W1", "W2", "V"]
    km.save(str(tmp_path / "k.keras"))
    assert max_err(lstmkit.models.load_model(str(tmp_path / "k.keras")).predict(x, verbose=0),
                   km.predict(x, verbose=0)) <= ATOL  # fmt: skip
    lm.save(str(tmp_path / "l.keras"))
    assert max_err(keras.models.load_model(str(tmp_path / "l.keras")).predict(x, verbose=0),
                   km.predict(x, verbose=0)) <= ATOL  # fmt: skip
