"""Metrics against real Keras 3 (JAX backend): accumulation, weights, masks, jit, AUC, lookup."""

import os

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from keras.src.trainers.compile_utils import get_metric  # noqa: E402

import lstmkit.losses as L  # noqa: E402
import lstmkit.metrics as M  # noqa: E402


def close(a, b, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def data(kind: str, shape: tuple, seed: int = 0, classes: int = 4):
    """(y_true, y_pred) for a metric family; `shape` is the batch(/time) part."""
    r = np.random.RandomState(seed)
    if kind == "regression":
        return r.randn(*shape, 3).astype("f"), r.randn(*shape, 3).astype("f")
    if kind == "binary":
        return r.randint(0, 2, (*shape, 1)).astype("f"), r.rand(*shape, 1).astype("f")
    if kind == "exact":  # Accuracy: predictions equal to labels about half the time
        y = r.randint(0, 3, (*shape, 2)).astype("f")
        return y, np.where(r.rand(*y.shape) < 0.5, y, r.randint(0, 3, y.shape)).astype("f")
    labels = r.randint(0, classes, shape)
    p = r.rand(*shape, classes).astype("f")
    return (np.eye(classes, dtype="f")[labels] if kind == "categorical" else labels), p


CASES = [
    ("Accuracy", {}, "exact"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.3}, "binary"),
    ("CategoricalAccuracy", {}, "categorical"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanSquaredError", {}, "regression"),
    ("AUC", {}, "binary"),
]


def accumulate(ours, theirs, batches):
    state = ours.init()
    for y, p, sw in batches:
        state = ours.update(state, y, p, sample_weight=sw)
        theirs.update_state(y, p, sample_weight=sw)
    return ours.result(state), theirs.result()


def batches_of(kind, shape, weights, seed=0):
    out = []
    for b in range(3):
        y, p = data(kind, shape, seed=seed + b)
        sw = None
        if weights == "per_sample":
            sw = np.random.RandomState(10 + b).rand(shape[0]).astype("f")
        elif weights == "per_step":
            sw = np.random.RandomState(10 + b).rand(*shape).astype("f")
        out.append((y, p, sw))
    return out


@pytest.mark.parametrize("cls,kwargs,kind", CASES, ids=[f"{c}{k or ''}" for c, k, _ in CASES])
@pytest.mark.parametrize(
    "shape,weights",
    [((8,), None), ((8,), "per_sample"), ((4, 5), None), ((4, 5), "per_step")],
    ids=["rank2", "rank2-weighted", "rank3", "rank3-step-weighted"],
)
def test_metric_accumulates_like_keras(cls, kwargs, kind, shape, weights):
    ours, theirs = getattr(M, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    ours, theirs = accumulate(ours, theirs, batches_of(kind, shape, weights))
    close(ours, theirs, rtol=1e-5 if cls == "AUC" else 1e-6)


@pytest.mark.parametrize("cls", ["SparseCategoricalAccuracy", "MeanSquaredError", "BinaryAccuracy"])
def test_per_sample_weights_on_time_distributed_outputs(cls):
    """(batch,) weights with (batch, time) values: Keras averages over time first."""
    kind = {"SparseCategoricalAccuracy": "sparse", "MeanSquaredError": "regression"}.get(
        cls, "binary"
    )
    ours, theirs = accumulate(
        getattr(M, cls)(), getattr(keras.metrics, cls)(), batches_of(kind, (4, 5), "per_sample")
    )
    close(ours, theirs)


def test_column_labels_and_weights():
    r = np.random.RandomState(3)
    y, p, sw = r.randint(0, 4, (9, 1)), r.rand(9, 4).astype("f"), r.rand(9, 1).astype("f")
    ours = M.SparseCategoricalAccuracy()
    ours.update_state(y, p, sample_weight=sw)
    theirs = keras.metrics.SparseCategoricalAccuracy()
    theirs.update_state(y, p, sample_weight=sw)
    close(ours.result(), theirs.result())
    yb, pb = r.randint(0, 2, 9).astype("f"), r.rand(9, 1).astype("f")
    ours, theirs = M.BinaryAccuracy(), keras.metrics.BinaryAccuracy()
    ours.update_state(yb, pb, sw[:, 0])
    theirs.update_state(yb, pb, sw[:, 0])
    close(ours.result(), theirs.result())


@pytest.mark.parametrize("weight", [None, 3.0, "vector"])
def test_mean_matches_keras(weight):
    ours, theirs = M.Mean(), keras.metrics.Mean()
    r = np.random.RandomState(4)
    for _ in range(3):
        values = r.rand(6).astype("f")
        sw = r.rand(6).astype("f") if weight == "vector" else weight
        ours.update_state(values, sample_weight=sw)
        theirs.update_state(values, sample_weight=sw)
    close(ours.result(), theirs.result())
    ours.reset_state()
    assert float(ours.result()) == 0.0


def test_running_loss_is_batch_size_weighted_like_keras_fit():
    """Keras logs loss = sum(batch_loss * batch_size) / samples seen (last batch may be short)."""
    tracker, state = M.Mean(name="loss"), None
    state = tracker.init()
    reference = keras.metrics.Mean(name="loss")
    for loss, size in [(0.5, 32), (0.25, 32), (1.0, 4)]:
        state = tracker.update(state, np.float32(loss), sample_weight=size)
        reference.update_state(np.float32(loss), sample_weight=size)
    close(tracker.result(state), reference.result())
    close(tracker.result(state), (0.5 * 32 + 0.25 * 32 + 4.0) / 68)


@pytest.mark.parametrize("cls,kwargs,kind", CASES, ids=[c for c, _, _ in CASES])
def test_jit_update_matches_eager(cls, kwargs, kind):
    metric = getattr(M, cls)(**kwargs)
    update = jax.jit(metric.update)
    eager, jitted = metric.init(), metric.init()
    for y, p, sw in batches_of(kind, (4, 5), "per_step"):
        eager = metric.update(eager, y, p, sw)
        jitted = update(jitted, y, p, sw)
    assert jax.tree.structure(eager) == jax.tree.structure(metric.init())
    close(metric.result(jitted), metric.result(eager))
    close(jax.jit(metric.result)(jitted), metric.result(eager))


# ---------------------------------------------------------------- AUC


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"num_thresholds": 50},
        {"curve": "PR"},
        {"curve": "pr", "summation_method": "minoring"},
        {"summation_method": "majoring"},
        {"thresholds": [0.1, 0.35, 0.8]},
        {"thresholds": [0.25, 0.5, 0.75]},
        {"from_logits": True},
    ],
)
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.sampled_from([1, 7, 64]), weighted=st.booleans())
def test_auc_matches_keras(kwargs, seed, n, weighted):
    r = np.random.RandomState(seed)
    ours, theirs = M.AUC(**kwargs), keras.metrics.AUC(**kwargs)
    for _ in range(2):
        y = r.randint(0, 2, n).astype("f")
        p = (r.randn(n) * 3 if kwargs.get("from_logits") else r.rand(n)).astype("f")
        p[: n // 4] = np.round(p[: n // 4], 1)  # values exactly on thresholds too
        sw = r.rand(n).astype("f") if weighted else None
        ours.update_state(y, p, sw)
        theirs.update_state(y, p, sw)
    close(ours.result(), theirs.result(), rtol=1e-5, atol=1e-6)


def test_auc_edge_values_and_config():
    y = np.array([0, 1, 1, 0, 1], "f")
    p = np.array([0.0, 1.0, 0.5, 0.5, 1e-9], "f")
    ours, theirs = M.AUC(), keras.metrics.AUC(name="auc")
    ours.update_state(y, p)
    theirs.update_state(y, p)
    close(ours.result(), theirs.result(), rtol=1e-5)
    assert ours.get_config() == theirs.get_config()
    custom = keras.metrics.AUC(thresholds=[0.2, 0.6], curve="PR", name="auc")
    assert M.AUC(thresholds=[0.2, 0.6], curve="PR").get_config() == custom.get_config()
    close(M.AUC().result(), keras.metrics.AUC().result())  # empty state: 0


# ---------------------------------------------------------------- masks, names, lookup


@pytest.mark.parametrize(
    "loss_name,units,metrics",
    [("sparse_categorical_crossentropy", 3, ["acc"]), ("binary_crossentropy", 1, ["acc", "auc"])],
)
def test_masked_loss_and_metrics_match_keras_model(loss_name, units, metrics):
    """Masks from a mask_zero Embedding: the loss averages over unmasked steps only, mean
    metrics skip masked steps, AUC ignores the mask; the logged loss is batch-size weighted."""
    r = np.random.RandomState(0)
    x = r.randint(1, 9, (10, 6))
    x[:, 4:] = 0
    x[3, 2:] = 0
    y = r.randint(0, max(units, 2), (10, 6) if units > 1 else (10, 6, 1))
    sw = r.rand(10, 6).astype("f")
    model = keras.Sequential(
        [
            keras.Input((6,), dtype="int32"),
            keras.layers.Embedding(9, 4, mask_zero=True),
            keras.layers.LSTM(5, return_sequences=True),
            keras.layers.Dense(units, activation="softmax" if units > 1 else "sigmoid"),
        ]
    )
    model.compile(loss=loss_name, weighted_metrics=metrics)
    p, mask = model.predict(x, verbose=0), x != 0
    loss, tracker = L.get(loss_name), M.Mean()
    ours = [M.get(m, None, y.shape, p.shape) for m in metrics]
    for weights in (None, sw):
        logs = model.evaluate(
            x, y, sample_weight=weights, batch_size=4, verbose=0, return_dict=True
        )
        loss_state, states = tracker.init(), [m.init() for m in ours]
        for i in range(0, 10, 4):
            b = slice(i, i + 4)
            w = None if weights is None else weights[b]
            value = loss(y[b], p[b], w, mask=mask[b])
            loss_state = tracker.update(loss_state, value, sample_weight=len(x[b]))
            states = [
                m.update(s, y[b], p[b], w, mask=mask[b]) for m, s in zip(ours, states, strict=True)
            ]
        close(tracker.result(loss_state), logs["loss"], rtol=1e-5)
        for m, s in zip(ours, states, strict=True):
            close(m.result(s), logs[m.name], rtol=1e-5)


@pytest.mark.parametrize(
    "identifier,y_shape,p_shape",
    [
        ("accuracy", (8, 1), (8, 1)),
        ("accuracy", (8,), (8, 1)),
        ("acc", (8,), (8, 5)),
        ("Accuracy", (8, 1), (8, 5)),
        ("accuracy", (8, 5), (8, 5)),
        ("acc", (8, 7), (8, 7, 5)),
        ("accuracy", (8, 7, 5), (8, 7, 5)),
        ("mae", (8, 2), (8, 2)),
        ("mse", (8, 2), (8, 2)),
        ("MSE", (8, 2), (8, 2)),
        ("mean_absolute_error", (8, 2), (8, 2)),
        ("auc", (8, 1), (8, 1)),
        ("AUC", (8, 1), (8, 1)),
        ("binary_accuracy", (8, 1), (8, 1)),
        ("sparse_categorical_accuracy", (8,), (8, 3)),
        ("categorical_accuracy", (8, 3), (8, 3)),
    ],
)
def test_get_resolves_like_keras_compile(identifier, y_shape, p_shape):
    theirs = get_metric(identifier, np.zeros(y_shape), np.zeros(p_shape))
    ours = M.get(identifier, y_shape=y_shape, y_pred_shape=p_shape)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name


def test_accuracy_from_loss_without_shapes():
    assert isinstance(M.get("accuracy", loss="binary_crossentropy"), M.BinaryAccuracy)
    assert isinstance(M.get("acc", loss=L.BinaryCrossentropy()), M.BinaryAccuracy)
    sparse = M.get("acc", loss=L.get("sparse_categorical_crossentropy"))
    assert isinstance(sparse, M.SparseCategoricalAccuracy) and sparse.name == "acc"
    assert isinstance(M.get("accuracy", loss="categorical_crossentropy"), M.CategoricalAccuracy)
    with pytest.raises(ValueError, match="y_shape"):
        M.get("accuracy")


def test_get_objects_functions_and_errors():
    auc = M.AUC(num_thresholds=10)
    assert M.get(auc) is auc and auc.name == "auc"
    assert isinstance(M.get(M.Mean), M.Mean)
    wrapped = M.get(M.binary_accuracy)
    assert wrapped.name == "binary_accuracy"
    with pytest.raises(ValueError, match=r"'accuarcy'.*binary_accuracy"):
        M.get("accuarcy")
    with pytest.raises(ValueError, match="None"):
        M.get(None)


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        ("AUC", {"name": "auc"}),
        ("AUC", {"curve": "PR", "num_thresholds": 20, "from_logits": True, "name": "auc"}),
        ("BinaryAccuracy", {"threshold": 0.7}),
        ("SparseCategoricalAccuracy", {"name": "acc"}),
        ("Mean", {"name": "loss"}),
        ("MeanAbsoluteError", {}),
    ],
)
def test_serialize_matches_keras_and_round_trips(cls, kwargs):
    ours, theirs = getattr(M, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    assert M.serialize(ours) == keras.metrics.serialize(theirs)
    back = M.deserialize(keras.metrics.serialize(theirs))
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
