"""Merging layers (Add ... Dot, and the lowercase functional forms) against real Keras 3: numbers,
output shapes, masks (as values and as what a following LSTM sees), configs and errors."""

import json

import jax.numpy as jnp
import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.saving.config import serialize_layer
from tests.layers.keras_twin import assert_same

B, T, F = 3, 4, 3
ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x, y, z = (rng.normal(size=(B, T, F)).astype("float32") for _ in range(3))
    x[0, 2:] = 0.0  # x masked at the end of sample 0
    y[0, 3:] = 0.0  # y masked a step later: the OR of both masks differs from either
    y[1, :1] = 0.0
    x[2, 1] = 0.0  # a masked step in the middle
    return [x, y, z]


def _graph(lib):
    """Two masked inputs and one unmasked: every merging layer, and LSTMs fed through the
    layers whose output mask matters (elementwise OR, Concatenate)."""
    L = lib.layers
    x, y, z = (lib.Input((T, F), name=n) for n in "xyz")
    mx, my = L.Masking(name="mx")(x), L.Masking(name="my")(y)
    outs = [getattr(L, cls)(name=cls.lower())([mx, my]) for cls in ELEMENTWISE]
    outs += [
        L.Concatenate(name="cat_masked")([mx, z]),  # a mask and none: ones for z
        L.Concatenate(axis=1, name="cat_time")([x, z]),
        L.Dot(axes=(1, 1), name="dot_time")([x, z]),
        L.Dot(axes=-1, normalize=True, name="dot_cos")([x, z]),
        L.Dot(axes=1, name="dot_2d")([L.Flatten(name="fx")(x), L.Flatten(name="fz")(z)]),
    ]
    lstm = dict(kernel_initializer="ones", recurrent_initializer="ones")
    outs.append(L.LSTM(2, name="after_or", **lstm)(L.Maximum(name="max2")([mx, my])))
    outs.append(L.LSTM(2, name="after_cat", **lstm)(L.Concatenate(name="cat2")([mx, my])))
    outs.append(L.LSTM(2, name="after_one", **lstm)(L.Add(name="add2")([mx, z])))
    return lib.Model([x, y, z], outs)


@pytest.fixture(scope="module")
def models():
    keras.backend.clear_session()
    km, lm = _graph(keras), _graph(lstmkit)
    lm.set_weights(km.get_weights())
    return km, lm


def test_merging_layers_match_keras_with_masks(models):
    km, lm = models
    data = _data()
    assert [tuple(t.shape) for t in lm.outputs] == [tuple(t.shape) for t in km.outputs]
    assert_same(lm.predict(data, verbose=0), km.predict(data, verbose=0), "merging model")


@pytest.mark.parametrize("cls", [*ELEMENTWISE, "Concatenate"])
def test_output_masks_match_keras(cls):
    x, y, _ = _data(1)
    mx = np.any(x != 0, axis=-1)
    for masks in ([mx, np.any(y != 0, axis=-1)], [mx, None], [None, None]):
        theirs = getattr(keras.layers, cls)().compute_mask([x, y], masks)
        ours = getattr(lstmkit.layers, cls)().compute_mask([jnp.asarray(x), jnp.asarray(y)], masks)
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert lstmkit.layers.Dot(1).compute_mask([x, y], [mx, mx]) is None


def test_inputs_of_different_ranks_broadcast_as_keras():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(B, F)).astype("f4"), rng.normal(size=(B, T, F)).astype("f4")
    for cls in ("Add", "Maximum", "Multiply"):
        assert_same(getattr(lstmkit.layers, cls)()([a, b]), getattr(keras.layers, cls)()([a, b]))
    k, ours = keras.layers.Dot(axes=(1, 2)), lstmkit.layers.Dot(axes=(1, 2))
    c, d = rng.normal(size=(2, 3, 5)).astype("f4"), rng.normal(size=(2, 4, 3)).astype("f4")
    assert_same(ours([c, d]), k([c, d]), "Dot (1, 2)")
    assert ours.compute_output_shape([(None, 3, 5), (None, 4, 3)]) == (None, 5, 4)


def test_functional_forms_build_the_layers():
    L = lstmkit.layers
    a, b = lstmkit.Input((T, F)), lstmkit.Input((T, F))
    for fn, cls in [(L.add, L.Add), (L.subtract, L.Subtract), (L.multiply, L.Multiply),
                    (L.average, L.Average), (L.maximum, L.Maximum), (L.minimum, L.Minimum),
                    (L.concatenate, L.Concatenate), (L.dot, L.Dot)]:  # fmt: skip
        out = fn([a, b], name=f"fn_{cls.__name__.lower()}")
        assert isinstance(out.node.layer, cls) and out.node.layer.name.startswith("fn_")
    assert L.concatenate([a, b], axis=1).shape == (None, 2 * T, F)
    assert L.dot([a, b], axes=1).shape == (None, F, F)
    x, y = _data(3)[:2]
    assert_same(L.add([x, y]), keras.layers.add([x, y]))
    assert_same(L.concatenate([x, y], axis=1), keras.layers.concatenate([x, y], axis=1))


def _config(layer):
    entry = layer if isinstance(layer, dict) else keras.saving.serialize_keras_object(layer)
    return json.loads(json.dumps(entry))


@pytest.mark.parametrize(
    "cls, kwargs",
    [(c, {}) for c in ELEMENTWISE]
    + [
        ("Concatenate", {"axis": 1}),
        ("Dot", {"axes": (1, 2), "normalize": True}),
        ("Dot", {"axes": -1}),
    ],  # fmt: skip
)
def test_configs_are_keras_configs(cls, kwargs):
    ours = getattr(lstmkit.layers, cls)(name="m", **kwargs)
    theirs = getattr(keras.layers, cls)(name="m", **kwargs)
    assert _config(serialize_layer(ours)) == _config(theirs)
    again = getattr(lstmkit.layers, cls).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


def test_mistakes_get_clear_errors():
    L = lstmkit.layers
    a, b, c = (lstmkit.Input((T, F)) for _ in range(3))
    with pytest.raises(ValueError, match=r"'sub'.*exactly 2 inputs"):
        L.Subtract(name="sub")([a, b, c])
    with pytest.raises(ValueError, match=r"'add'.*list of inputs"):
        L.Add(name="add")(a)
    with pytest.raises(ValueError, match=r"'cat'.*matching shapes.*\(None, 5, 3\)"):
        L.Concatenate(axis=-1, name="cat")([a, lstmkit.Input((5, F))])
    with pytest.raises(ValueError, match=r"'mul'.*incompatible shapes"):
        L.Multiply(name="mul")([a, lstmkit.Input((T, 2))])
    with pytest.raises(ValueError, match=r"'dot'.*axis 2 of the first \(3\) != axis 1"):
        L.Dot(axes=(2, 1), name="dot")([a, b])
    with pytest.raises(ValueError, match="two ints"):
        L.Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="batch axis"):
        L.Dot(axes=0, name="d0")([a, b])
