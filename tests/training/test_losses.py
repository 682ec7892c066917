"""Losses against real Keras 3 (JAX backend): values, reductions, weights, masks, lookup."""

import os

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lstmkit.losses as L  # noqa: E402

RTOL, ATOL = 1e-6, 1e-7


def close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def make(kind: str, shape: tuple, seed: int = 0, classes: int = 4):
    """(y_true, y_pred) for a loss family; `shape` is the batch(/time) part."""
    r = np.random.RandomState(seed)
    if kind == "regression":
        return r.randn(*shape, 3).astype("f"), r.randn(*shape, 3).astype("f")
    if kind == "binary":
        return r.randint(0, 2, (*shape, 1)).astype("f"), r.rand(*shape, 1).astype("f")
    if kind == "binary_logits":
        return r.randint(0, 2, (*shape, 1)).astype("f"), 3 * r.randn(*shape, 1).astype("f")
    labels = r.randint(0, classes, shape)
    if kind.startswith("categorical"):
        labels = np.eye(classes, dtype="f")[labels]
    if kind.endswith("logits"):
        return labels, 2 * r.randn(*shape, classes).astype("f")
    p = r.rand(*shape, classes).astype("f") + 0.05
    return labels, p / p.sum(-1, keepdims=True)


CASES = [
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("Huber", {}, "regression"),
    ("Huber", {"delta": 0.4}, "regression"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True}, "binary_logits"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "binary_logits"),
    ("CategoricalCrossentropy", {}, "categorical"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.15}, "categorical"),
    ("CategoricalCrossentropy", {"from_logits": True}, "categorical_logits"),
    (
        "CategoricalCrossentropy",
        {"from_logits": True, "label_smoothing": 0.3},
        "categorical_logits",
    ),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_logits"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 2}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 0}, "sparse_logits"),
]
IDS = [f"{c}-{k}-{'-'.join(f'{a}={b}' for a, b in kw.items())}" for c, kw, k in CASES]


@pytest.mark.parametrize("cls,kwargs,kind", CASES, ids=IDS)
@pytest.mark.parametrize("shape", [(7,), (5, 6)], ids=["rank2", "rank3"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_loss_matches_keras(cls, kwargs, kind, shape, weighted):
    y, p = make(kind, shape)
    sw = np.random.RandomState(1).rand(*shape).astype("f") if weighted else None
    ours = getattr(L, cls)(**kwargs)(y, p, sample_weight=sw)
    theirs = getattr(keras.losses, cls)(**kwargs)(y, p, sample_weight=sw)
    assert ours.shape == ()
    close(ours, theirs)
    per_sample = getattr(keras.losses, cls)(reduction=None, **kwargs)(y, p)
    close(getattr(L, cls)(**kwargs).per_sample(y, p), per_sample)


@pytest.mark.parametrize("reduction", ["sum", "mean", "mean_with_sample_weight", None, "none"])
def test_reductions_match_keras(reduction):
    y, p = make("categorical", (9,))
    sw = np.random.RandomState(2).rand(9).astype("f")
    for weight in (None, sw):
        ours = L.CategoricalCrossentropy(reduction=reduction)(y, p, sample_weight=weight)
        theirs = keras.losses.CategoricalCrossentropy(reduction=reduction)(
            y, p, sample_weight=weight
        )
        close(ours, theirs)


@pytest.mark.parametrize(
    "y_shape,p_shape,kind",
    [((8,), (8, 1), "binary"), ((8, 1), (8, 1), "binary"), ((8, 1), (8, 4), "sparse")],
)
def test_label_shapes_are_matched_like_keras(y_shape, p_shape, kind):
    r = np.random.RandomState(3)
    y = r.randint(0, p_shape[-1] if kind == "sparse" else 2, y_shape).astype("f")
    p = r.rand(*p_shape).astype("f")
    name = "BinaryCrossentropy" if kind == "binary" else "SparseCategoricalCrossentropy"
    sw = r.rand(8).astype("f")
    close(getattr(L, name)()(y, p, sw), getattr(keras.losses, name)()(y, p, sw))


def test_scalar_and_column_sample_weight_match_keras():
    y, p = make("regression", (6,))
    for sw in (np.float32(0.3), np.random.RandomState(4).rand(6, 1).astype("f")):
        close(L.MeanSquaredError()(y, p, sw), keras.losses.MeanSquaredError()(y, p, sw))


def test_per_sample_weight_on_time_distributed_values_broadcasts_over_time():
    """Keras errors for (batch,) weights on (batch, time) values; lstmkit broadcasts them."""
    y, p = make("regression", (4, 5))
    sw = np.random.RandomState(5).rand(4).astype("f")
    values = np.asarray(keras.losses.MeanSquaredError(reduction=None)(y, p))  # (4, 5)
    close(L.MeanSquaredError()(y, p, sw), (values * sw[:, None]).sum() / values.size)


@pytest.mark.parametrize(
    "fn,kwargs,kind",
    [
        ("mean_squared_error", {}, "regression"),
        ("mean_absolute_error", {}, "regression"),
        ("huber", {"delta": 0.7}, "regression"),
        ("binary_crossentropy", {"label_smoothing": 0.1}, "binary"),
        ("categorical_crossentropy", {"from_logits": True}, "categorical_logits"),
        ("sparse_categorical_crossentropy", {}, "sparse"),
    ],
)
def test_functions_match_keras(fn, kwargs, kind):
    y, p = make(kind, (3, 4))
    close(getattr(L, fn)(y, p, **kwargs), getattr(keras.losses, fn)(y, p, **kwargs))


def test_aliases():
    assert L.mse is L.mean_squared_error and L.mae is L.mean_absolute_error
    assert L.bce is L.binary_crossentropy


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 6),
    classes=st.integers(2, 6),
    smoothing=st.sampled_from([0.0, 0.05, 0.5]),
    from_logits=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_crossentropies_property(batch, classes, smoothing, from_logits, seed):
    kind = "categorical_logits" if from_logits else "categorical"
    y, p = make(kind, (batch,), seed=seed, classes=classes)
    kw = {"from_logits": from_logits, "label_smoothing": smoothing}
    close(L.CategoricalCrossentropy(**kw)(y, p), keras.losses.CategoricalCrossentropy(**kw)(y, p))
    labels = np.argmax(y, -1)
    kw = {"from_logits": from_logits}
    ours = L.SparseCategoricalCrossentropy(**kw)(labels, p)
    close(ours, keras.losses.SparseCategoricalCrossentropy(**kw)(labels, p))
    yb, pb = y[:, :1], (p[:, :1] if from_logits else np.clip(p[:, :1], 0, 1))
    kw = {"from_logits": from_logits, "label_smoothing": smoothing}
    close(L.BinaryCrossentropy(**kw)(yb, pb), keras.losses.BinaryCrossentropy(**kw)(yb, pb))


@pytest.mark.parametrize(
    "loss,y,p",
    [
        (L.BinaryCrossentropy(), [[1.0], [0.0], [1.0]], [[1.0], [0.0], [0.0]]),
        (L.BinaryCrossentropy(label_smoothing=0.1), [[1.0], [0.0]], [[0.0], [1.0]]),
        (L.CategoricalCrossentropy(), [[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]),
        (L.SparseCategoricalCrossentropy(), [0, 1], [[0.0, 1.0], [1.0, 0.0]]),
        (L.SparseCategoricalCrossentropy(ignore_class=1), [0, 1], [[0.0, 1.0], [1.0, 0.0]]),
        (L.BinaryCrossentropy(from_logits=True), [[1.0], [0.0]], [[-90.0], [90.0]]),
        (L.CategoricalCrossentropy(from_logits=True), [[1.0, 0.0]], [[-90.0, 90.0]]),
    ],
)
def test_gradients_finite_at_saturated_predictions(loss, y, p):
    y, p = np.asarray(y, "f"), np.asarray(p, "f")
    value, grad = jax.value_and_grad(lambda q: loss(y, q))(jnp.asarray(p))
    assert np.isfinite(value) and np.all(np.isfinite(grad))


@pytest.mark.parametrize(
    "cls", ["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy"]
)
def test_probabilities_at_and_near_0_and_1_are_clipped_like_keras(cls):
    p1 = np.array([0.0, 1.0, 1e-9, 1e-7, 3e-7, 1 - 6e-8, 0.9999999, 0.5], "f")
    if cls == "BinaryCrossentropy":
        y, p = np.array([1, 0, 1, 1, 0, 0, 0, 1], "f")[:, None], p1[:, None]
    else:
        p = np.stack([p1, 1 - p1], -1)
        y = np.array([0, 1, 0, 0, 1, 1, 1, 0])
        y = np.eye(2, dtype="f")[y] if cls == "CategoricalCrossentropy" else y
    ours = getattr(L, cls)(reduction=None)(y, p)
    close(ours, getattr(keras.losses, cls)(reduction=None)(y, p))


def test_jit_matches_eager():
    y, p = make("sparse", (4, 5))
    sw = np.random.RandomState(6).rand(4, 5).astype("f")
    loss = L.SparseCategoricalCrossentropy(ignore_class=1)
    close(jax.jit(loss)(y, p, sw), loss(y, p, sw))
    close(
        jax.jit(loss)(y, p, sw),
        keras.losses.SparseCategoricalCrossentropy(ignore_class=1)(y, p, sw),
    )


# ---------------------------------------------------------------- lookup and configs


@pytest.mark.parametrize(
    "name,kind",
    [
        ("mse", "regression"),
        ("MSE", "regression"),
        ("mae", "regression"),
        ("huber", "regression"),
        ("Huber", "regression"),
        ("MeanSquaredError", "regression"),
        ("binary_crossentropy", "binary"),
        ("bce", "binary"),
        ("categorical_crossentropy", "categorical"),
        ("SparseCategoricalCrossentropy", "sparse"),
        ("sparse_categorical_crossentropy", "sparse"),
    ],
)
def test_get_by_name_matches_keras_compile(name, kind):
    from keras.src.trainers.compile_utils import get_loss

    y, p = make(kind, (6,))
    theirs = get_loss(name, y, p)
    ours = L.get(name)
    assert isinstance(ours, L.Loss) and ours.name == theirs.name
    close(ours(y, p), theirs(y, p))


def test_get_accepts_objects_functions_classes_and_dicts():
    obj = L.BinaryCrossentropy(from_logits=True)
    assert L.get(obj) is obj
    assert L.get(None) is None
    assert isinstance(L.get(L.Huber), L.Huber)

    def my_loss(y_true, y_pred):
        return jnp.mean(jnp.abs(y_true - y_pred) ** 3, axis=-1)

    wrapped = L.get(my_loss)
    assert wrapped.name == "my_loss"
    y, p = make("regression", (5,))
    close(wrapped(y, p), np.mean(np.abs(y - p) ** 3))
    from_keras = L.get(keras.losses.serialize(keras.losses.BinaryCrossentropy(from_logits=True)))
    assert isinstance(from_keras, L.BinaryCrossentropy) and from_keras.from_logits


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        ("MeanSquaredError", {}),
        ("MeanAbsoluteError", {"name": "l1"}),
        ("BinaryCrossentropy", {"label_smoothing": 0.2}),
        ("CategoricalCrossentropy", {"from_logits": True, "axis": -1}),
        ("SparseCategoricalCrossentropy", {"ignore_class": 3}),
        ("binary_crossentropy", None),
    ],
)
def test_serialize_matches_keras_and_round_trips(cls, kwargs):
    ours = getattr(L, cls) if kwargs is None else getattr(L, cls)(**kwargs)
    theirs = getattr(keras.losses, cls) if kwargs is None else getattr(keras.losses, cls)(**kwargs)
    assert L.serialize(ours) == keras.losses.serialize(theirs)
    back = L.deserialize(keras.losses.serialize(theirs))
    if kwargs is not None:
        assert type(back) is type(ours) and back.get_config() == ours.get_config()
        assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()


def test_function_wrapper_serializes_like_keras():
    ours = L.LossFunctionWrapper(L.huber, name="hub", delta=2.0)
    from keras.src.losses.losses import LossFunctionWrapper

    theirs = LossFunctionWrapper(keras.losses.huber, name="hub", delta=2.0)
    assert L.serialize(ours) == keras.losses.serialize(theirs)
    back = L.deserialize(keras.losses.serialize(theirs))
    y, p = make("regression", (4,))
    close(back(y, p), theirs(y, p))


@pytest.mark.parametrize(
    "y_shape,p_shape,fn",
    [
        ((8, 1), (8, 1), "binary_crossentropy"),
        ((8,), (8, 5), "sparse_categorical_crossentropy"),
        ((8, 1), (8, 5), "sparse_categorical_crossentropy"),
        ((8, 5), (8, 5), "categorical_crossentropy"),
        ((8, 7), (8, 7, 5), "sparse_categorical_crossentropy"),
    ],
)
def test_crossentropy_shortcut_follows_keras(y_shape, p_shape, fn):
    from keras.src.trainers.compile_utils import get_loss

    keras_fn = get_loss("crossentropy", np.zeros(y_shape), np.zeros(p_shape)).fn
    assert keras_fn.__name__ == fn
    assert L.get("ce", y_shape, p_shape).fn is getattr(L, fn)


def test_unknown_names_raise():
    with pytest.raises(ValueError, match=r"'msee'.*mean_squared_error"):
        L.get("msee")
    with pytest.raises(ValueError, match="needs y_true_shape"):
        L.get("crossentropy")
    with pytest.raises(ValueError, match="reduction"):
        L.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match=r"y_true \(4, 3\) and y_pred \(4, 2\)"):
        L.CategoricalCrossentropy()(np.zeros((4, 3)), np.ones((4, 2)))


def test_check_sparse_labels():
    L.check_sparse_labels(np.array([0, 4, 2]), 5)
    L.check_sparse_labels(np.array([[0.0], [4.0]]), 5)
    L.check_sparse_labels(np.array([0, -1, 3]), 5, ignore_class=-1)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\); got max 7 for 5 classes"):
        L.check_sparse_labels(np.array([1, 7, 2]), 5)
    with pytest.raises(ValueError, match="got min -1"):
        L.check_sparse_labels(np.array([1, -1]), 5)
    with pytest.raises(ValueError, match="non-integer"):
        L.check_sparse_labels(np.array([1.5, 2.0]), 5)
    with pytest.raises(ValueError, match="non-integer"):
        L.check_sparse_labels(np.array([np.nan, 2.0]), 5)
