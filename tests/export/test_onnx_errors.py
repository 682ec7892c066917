"""What cannot be exported raises an ExportError naming the layer and why, before anything is
written: no file, no temporary, an existing file untouched. onnx is an optional extra."""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

import lstmkit
from lstmkit.export import ExportError, to_onnx

L = lstmkit.layers


class MyCell(lstmkit.layers.LSTMCell):
    """A custom cell: its step may differ from LSTMCell's, so it has no mapping."""


class Doubler(lstmkit.layers.Layer):
    def call(self, inputs):
        return 2 * inputs


def _custom_activation(x):
    return x * x


def _models():
    x = lstmkit.Input((None, 3))
    custom_cell = L.RNN(MyCell(2), name="mine")
    return {
        "custom layer": (
            lstmkit.Model(x, Doubler(name="doubler")(x)),
            r"'doubler' \(Doubler\) has no ONNX mapping",
        ),
        "recurrent activation": (
            lstmkit.Sequential(
                [lstmkit.Input((None, 3)), L.LSTM(2, activation="gelu", name="enc")]
            ),  # fmt: skip
            "layer 'enc' has activation='gelu'",
        ),
        "custom activation": (
            lstmkit.Sequential(
                [lstmkit.Input((4,)), L.Dense(2, activation=_custom_activation, name="head")]
            ),  # fmt: skip
            "layer 'head' uses the activation",
        ),
        "custom cell": (lstmkit.Model(x, custom_cell(x)), "layer 'mine' runs a MyCell"),
        "stacked cells in Bidirectional": (
            lstmkit.Model(x, L.Bidirectional(L.RNN([L.GRUCell(2)]), name="bi")(x)),
            "runs a list of cells inside Bidirectional",
        ),
    }


@pytest.mark.parametrize("what", list(_models()))
def test_refused_before_anything_is_written(tmp_path, what):
    model, message = _models()[what]
    path = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match=message):
        to_onnx(model, path)
    assert list(tmp_path.iterdir()) == []  # no file, no temporary
    path.write_bytes(b"previous")
    with pytest.raises(ExportError):
        model.export(path)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_bad_arguments():
    model = lstmkit.Sequential([lstmkit.Input((None, 3)), L.GRU(2)])
    with pytest.raises(ExportError, match="`opset` must be an integer from 14"):
        to_onnx(model, "never.onnx", opset=9)
    with pytest.raises(ExportError, match="is not built"):
        to_onnx(lstmkit.Sequential([L.GRU(2)]), "never.onnx")
    with pytest.raises(ExportError, match="expected an lstmkit Model"):
        to_onnx(L.GRU(2), "never.onnx")


def test_missing_onnx_says_how_to_install(monkeypatch):
    model = lstmkit.Sequential([lstmkit.Input((None, 3)), L.GRU(2)])
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install lstmkit\[onnx\]"):
        to_onnx(model, "never.onnx")


def test_lstmkit_never_imports_onnx_at_module_level():
    """`import lstmkit` works without onnx: onnx is imported only inside import_onnx()."""
    package = pathlib.Path(lstmkit.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module-level statements only
            names = [a.name for a in getattr(node, "names", [])]
            module = getattr(node, "module", None) or ""
            if isinstance(node, (ast.Import, ast.ImportFrom)) and (
                module.split(".")[0] == "onnx" or any(n.split(".")[0] == "onnx" for n in names)
            ):
                found.append(str(path))
    assert found == []
