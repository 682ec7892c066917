"""Architectures built the same way in Keras 3 and in lstmkit, for the file-format tests.

Each builder takes the library (`keras` or `lstmkit`, whose `layers`, `Input`, `Model`,
`Sequential` spell the same) and names every layer, so both write the same config.json. One shape
vocabulary (T, F, U, V) keeps the number of distinct weight shapes, and so of compilations, small.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import h5py
import numpy as np

T, F, U, V, B = 5, 3, 4, 7, 4  # time, features, units, vocabulary, batch
# Random initializers compile once per weight shape on JAX (seconds each, in Keras and lstmkit);
# the tests overwrite every weight anyway, so the default-run models start from zeros.
Z = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}
ZD = {"kernel_initializer": "zeros"}
ZE = {"embeddings_initializer": "zeros"}


def zoo(lib):
    """Functional, two inputs / four outputs: Masking and Embedding(mask_zero) masks, return_state
    into initial_state, Bidirectional (concat, ave, None with states), TimeDistributed, stacked
    cells, GRU/SimpleRNN, pooling, Reshape/Flatten/Activation/Dropout, a regularizer and a
    constraint."""
    L = lib.layers
    seq = lib.Input((T, F), name="seq")
    ids = lib.Input((T,), dtype="int32", name="ids")
    m = L.Masking(0.0, name="masking")(seq)
    o, h, c = L.LSTM(U, return_sequences=True, return_state=True, kernel_regularizer="l2",
                     recurrent_constraint="max_norm", name="lstm_a", **Z)(m)  # fmt: skip
    y = L.LSTM(U, unit_forget_bias=False, name="lstm_b", **Z)(seq, initial_state=[h, c])
    z = L.Bidirectional(L.GRU(U, return_sequences=True, name="gru", **Z), name="bi")(o)
    z = L.TimeDistributed(L.Dense(F, activation="relu", name="td_dense", **ZD), name="td")(z)
    z = L.Bidirectional(L.SimpleRNN(U, return_sequences=True, name="srnn", **Z),
                        merge_mode="ave", name="bi_ave")(z)  # fmt: skip
    z = L.RNN([L.LSTMCell(U, name="cell_a", **Z), L.SimpleRNNCell(U, name="cell_b", **Z)],
              return_sequences=True, name="stack")(z)  # fmt: skip
    z = L.Dropout(0.5, name="drop")(z)
    p1 = L.GlobalAveragePooling1D(name="avg")(z)
    e = L.Embedding(V, F, mask_zero=True, name="emb", **ZE)(ids)
    _, bw, _, _, hb, _ = L.Bidirectional(
        L.LSTM(U, return_sequences=True, return_state=True, name="lstm_c", **Z), merge_mode=None,
        name="bi_none")(e)  # fmt: skip
    r = L.SimpleRNN(U, return_sequences=True, go_backwards=True, name="srnn_b", **Z)(bw)
    r = L.RNN(L.GRUCell(U, reset_after=False, name="gcell", **Z), return_sequences=True,
              name="grnn")(r)  # fmt: skip
    p2 = L.GlobalMaxPooling1D(name="max")(r)
    act = L.Activation("tanh", name="act")(y)
    w = L.Flatten(name="flat")(L.Reshape((2, U // 2), name="reshape")(act))
    out1 = L.Dense(1, activation="sigmoid", name="out1", **ZD)(w)
    out2 = L.Dense(2, name="out2", **ZD)(p1)
    out3 = L.Dense(2, activation="softmax", name="out3", **ZD)(p2)
    out4 = L.Dense(1, name="out4", **ZD)(hb)
    return lib.Model([seq, ids], [out1, out2, out3, out4], name="zoo")


def bidirectional(lib):
    """Every merge mode, return_state, masks from Masking."""
    L = lib.layers
    x = lib.Input((T, F), name="x")
    m = L.Masking(0.0, name="masking")(x)
    a = L.Bidirectional(L.LSTM(U, return_sequences=True, name="l1"), merge_mode="sum", name="b1")(m)
    b = L.Bidirectional(L.GRU(U, return_sequences=True, name="g1"), merge_mode="mul", name="b2")(a)
    c = L.Bidirectional(L.SimpleRNN(U, return_sequences=True, name="s1"), merge_mode="ave",
                        name="b3")(b)  # fmt: skip
    outs = L.Bidirectional(L.LSTM(U, return_state=True, name="l2"), merge_mode=None, name="b4")(c)
    return lib.Model(x, outs, name="bidi")


def sequential(lib):
    L = lib.layers
    return lib.Sequential(
        [
            lib.Input((T,), dtype="int32"),
            L.Embedding(V, F, mask_zero=True, name="emb"),
            L.LSTM(U, return_sequences=True, go_backwards=True, name="lstm"),
            L.Dropout(0.3, name="drop"),
            L.GRU(U, name="gru"),
            L.Dense(2, activation="softmax", name="dense"),
        ],
        name="seq",
    )


def stateful(lib):
    """Sequential with a fixed batch: stateful layers, Embedding(mask_zero), go_backwards."""
    L = lib.layers
    return lib.Sequential(
        [
            lib.Input(batch_shape=(2, T), dtype="int32"),
            L.Embedding(V, F, mask_zero=True, name="emb", **ZE),
            L.LSTM(U, stateful=True, return_sequences=True, go_backwards=True, name="lstm", **Z),
            L.Dropout(0.3, name="drop"),
            L.GRU(U, stateful=True, reset_after=False, name="gru", **Z),
            L.Dense(1, name="dense", **ZD),
        ],
        name="stateful",
    )


def small(lib, optimizer=None, fast=True):
    """A small regressor for the training tests."""
    L = lib.layers
    z, zd = (Z, ZD) if fast else ({}, {})
    x = lib.Input((T, F), name="x")
    h = L.LSTM(U, return_sequences=True, name="lstm", **z)(x)
    h = L.GRU(U, name="gru", **z)(h)
    model = lib.Model(x, L.Dense(2, name="dense", **zd)(h), name="small")
    if optimizer is not None:
        model.compile(optimizer=optimizer, loss="mse")
    return model


def randomize(model, seed=0):
    """Random weights everywhere (biases too), so that every array must land in its place."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])


def zoo_data(seed=0, batch=B):
    rng = np.random.default_rng(seed)
    seq = rng.normal(size=(batch, T, F)).astype("float32")
    seq[0, 3:] = 0.0  # right padding
    seq[1, :2] = 0.0  # left padding
    ids = rng.integers(1, V, size=(batch, T)).astype("int32")
    ids[0, 4:] = 0
    ids[2, :1] = 0
    return [seq, ids]


def seq_data(seed=0, batch=B):
    return zoo_data(seed, batch)[0]


def ids_data(seed=0, batch=B):
    return zoo_data(seed, batch)[1]


def as_list(x):
    return [np.asarray(v) for v in x] if isinstance(x, (list, tuple)) else [np.asarray(x)]


def max_diff(a, b):
    a, b = as_list(a), as_list(b)
    assert len(a) == len(b)
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


def read_keras_file(path):
    """(config.json as a dict, {h5 path: (shape, attrs)}) of a .keras file."""
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        weights = zf.read("model.weights.h5")
    return config, h5_layout(io.BytesIO(weights))


def h5_layout(source):
    """{h5 path: (shape, attrs)}; lstmkit's per-dataset checksum attribute (an addition Keras
    ignores) is left out, so layouts compare with Keras's own."""
    out = {}

    def visit(name, obj):
        attrs = {k: v for k, v in obj.attrs.items() if k != "lstmkit_crc32"}
        out[name] = (getattr(obj, "shape", None), attrs)

    with h5py.File(source, "r") as f:
        f.visititems(visit)
    if "optimizer/vars" in out:  # the optimizer's auto-name (adam_3) depends on the process
        shape, attrs = out["optimizer/vars"]
        out["optimizer/vars"] = (shape, {k: v for k, v in attrs.items() if k != "name"})
    for path, (shape, attrs) in out.items():  # so does a StackedRNNCells' (see below)
        name = str(attrs.get("name", ""))
        if re.fullmatch(r"stacked_rnn_cells_\d+", name):
            out[path] = (shape, {**attrs, "name": "stacked_rnn_cells"})
    return out


def without_object_ids(config):
    """Keras marks objects used twice with a process-specific `shared_object_id`; automatic
    names (a Sequential's InputLayer, the mask operations `not_equal_3`, `any_1`) depend on what
    else the process built: they become canonical names here."""
    if isinstance(config, dict) and "layers" in config.get("config", {}):
        config = json.loads(json.dumps(config))
        layers = config["config"]["layers"]
        if config.get("class_name") == "Sequential" and layers[0]["class_name"] == "InputLayer":
            layers[0]["config"]["name"] = "input_layer"
        ops = [e["name"] for e in layers if e.get("module") == "keras.src.ops.numpy"]
        # the StackedRNNCells an RNN makes from a list of cells is auto-named per process too
        text = re.sub(r'"stacked_rnn_cells_\d+"', '"stacked_rnn_cells"', json.dumps(config))
        for i, name in enumerate(ops):
            text = text.replace(f'"{name}"', f'"op_{i}"')
        config = json.loads(text)
    if isinstance(config, dict) and isinstance(config.get("compile_config"), dict):
        config = json.loads(json.dumps(config))  # optimizers are auto-named per process too
        config["compile_config"].get("optimizer", {}).get("config", {}).pop("name", None)
    if isinstance(config, dict):
        return {k: without_object_ids(v) for k, v in config.items() if k != "shared_object_id"}
    if isinstance(config, list):
        return [without_object_ids(v) for v in config]
    return config


def reorder(lib):
    """Two branches where Keras's layer order differs from the order without mask operations:
    Keras's `not_equal` for Masking hangs below `pre`, which makes `pre` one level deeper, so it
    comes before `d1` in Keras's `model.layers` (and weight file, and optimizer slots)."""
    L = lib.layers
    a = lib.Input((T, F), name="a")
    b = lib.Input((F,), name="b")
    h = L.Dense(F, name="pre", **ZD)(a)
    h = L.LSTM(U, name="lstm", **Z)(L.Masking(0.0, name="masking")(h))
    out1 = L.Dense(1, name="out1", **ZD)(h)
    g = b
    for i in range(1, 4):  # d2 frozen: no optimizer slots
        g = L.Dense(F, name=f"d{i}", trainable=i != 2, **ZD)(g)
    out2 = L.Dense(1, name="out2", **ZD)(g)
    return lib.Model([a, b], [out2, out1], name="reorder")


def reorder_data(seed=0, batch=B):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, T, F)).astype("float32"),
            rng.normal(size=(batch, F)).astype("float32")]  # fmt: skip


def shared(lib):
    """One LSTM called on two inputs (two nodes of one layer), and one Dense used twice."""
    L = lib.layers
    a, b = lib.Input((T, F), name="a"), lib.Input((T, F), name="b")
    lstm, dense = L.LSTM(U, name="lstm"), L.Dense(2, name="dense")
    return lib.Model([a, b], [dense(lstm(a)), dense(lstm(b))], name="shared")


def shared_data(seed=0, batch=B):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, T, F)).astype("float32") for _ in range(2)]
