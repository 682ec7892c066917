"""split_dataset, PyDataset / Sequence and model_to_dot / plot_model against Keras 3.

`model_to_dot` is compared with real Keras's (it needs only pydot) on the same model, node ids
replaced by layer names. `split_dataset`'s Keras twin needs TensorFlow (not installed): its
sizes and shuffle are checked against Keras's documented rules (Python `random.seed(seed)` then
`random.shuffle`; fractions rounded; the right part taken from the back).
"""

import random
import re

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit import utils


def test_split_dataset_sizes_and_shuffle():
    x, y = np.arange(10), np.arange(10) * 10
    left, right = utils.split_dataset((x, y), left_size=0.8)
    assert isinstance(left, tuple) and len(left[0]) == 8 and len(right[0]) == 2
    np.testing.assert_array_equal(right[1], [80, 90])
    left, right = utils.split_dataset(x, left_size=3, right_size=0.5)  # 3 front, 5 back
    np.testing.assert_array_equal(left, [0, 1, 2])
    np.testing.assert_array_equal(right, [5, 6, 7, 8, 9])
    order = list(range(10))
    random.seed(7)
    random.shuffle(order)
    left, right = utils.split_dataset([x, y], right_size=4, shuffle=True, seed=7)
    np.testing.assert_array_equal(left[0], order[:6])
    np.testing.assert_array_equal(right[1], np.array(order[6:]) * 10)
    with pytest.raises(ValueError, match="at least one of `left_size` or `right_size`"):
        utils.split_dataset(x)
    with pytest.raises(ValueError, match="`left_size` should be either a positive integer"):
        utils.split_dataset(x, left_size=10)
    with pytest.raises(TypeError, match="`right_size` type"):
        utils.split_dataset(x, right_size="1")
    with pytest.raises(ValueError, match="same number of samples"):
        utils.split_dataset((x, y[:3]), left_size=0.5)


class Squares(utils.PyDataset):
    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2, 1), i, np.float32), np.full((2, 1), i * i, np.float32)


def test_py_dataset_api():
    ds = Squares(3, workers=2, max_queue_size=4)
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size, ds.num_batches) == (
        2,
        False,
        4,
        3,
    )
    assert [float(b[1][0, 0]) for b in ds] == [0.0, 1.0, 4.0]
    assert utils.Sequence is utils.PyDataset and utils.data_utils.Sequence is utils.PyDataset
    assert utils.vis_utils.plot_model is utils.plot_model  # Keras 2's import path

    class NoSuper(utils.PyDataset):
        def __init__(self):
            pass

    with pytest.warns(UserWarning, match="should call `super"):
        assert NoSuper().workers == 1


def _canonical(dot_text: str, names: dict) -> tuple[set, set]:
    """Nodes (labels) and edges with `id(layer)` replaced by the layer's name."""
    for ident, name in names.items():
        dot_text = dot_text.replace(str(ident), name)
    nodes = set(re.findall(r"^(\S+) \[label=(.*)\];$", dot_text, re.M))
    edges = set(re.findall(r"^(\S+) -> (\S+) \[penwidth=2\];$", dot_text, re.M))
    return nodes, edges


def _build(lib, sequential):
    L = lib.layers
    if sequential:
        return lib.Sequential(
            [
                L.Input(shape=(5, 3)),
                L.LSTM(4, name="rec"),
                L.Dense(1, activation="sigmoid", name="out"),
            ]
        )
    inp = L.Input(shape=(5,), dtype="int32", name="seq")
    h = L.LSTM(4, return_sequences=True, name="rec")(L.Embedding(9, 3, name="emb")(inp))
    a, b = L.Dense(2, name="a")(h), L.Dense(2, activation="relu", name="b")(h)
    return lib.Model(inp, [a, L.Dense(3, name="c")(b)])


@pytest.mark.parametrize("sequential", [True, False])
def test_model_to_dot_matches_keras(sequential):
    opts = dict(show_shapes=True, show_dtype=True, show_layer_activations=True, show_trainable=True)
    ours, theirs = _build(lstmkit, sequential), _build(keras, sequential)
    ours.layers[-1].trainable = theirs.layers[-1].trainable = False
    got = utils.model_to_dot(ours, **opts).to_string()
    want = keras.utils.model_to_dot(theirs, **opts).to_string()
    assert got.splitlines()[:6] == want.splitlines()[:6]  # graph attributes
    mine = _canonical(got, {id(layer): layer.name for layer in _all_layers(ours)})
    keras_layers = theirs._operations if not sequential else theirs.layers
    assert mine == _canonical(want, {id(layer): layer.name for layer in keras_layers})
    assert len(mine[0]) == (2 if sequential else 6) and mine[1]


def _all_layers(model):
    return list(model.layers) + [t.node.layer for t in model.inputs]


def test_plot_model_without_graphviz_says_what_to_install(tmp_path):
    model = _build(lstmkit, True)
    if utils.model_visualization.check_graphviz():
        pytest.skip("graphviz is installed here")
    with pytest.raises(ImportError, match="install pydot.*graphviz.*`dot` program"):
        utils.plot_model(model, to_file=str(tmp_path / "m.png"), show_shapes=True)
    utils.plot_model(model, to_file=str(tmp_path / "m.dot"))  # DOT text needs only pydot
    assert (tmp_path / "m.dot").read_text().startswith("digraph G {")
