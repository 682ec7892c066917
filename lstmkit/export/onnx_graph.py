"""A small builder of ONNX graphs: nodes, constants, inputs and outputs, with unique names.

Only this module (and `onnx_export.write`) touch the `onnx` package; it is imported when an
export starts (`import_onnx`), so lstmkit imports without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_OPSET = 14
DEFAULT_OPSET = 17
INT64_MAX = np.iinfo(np.int64).max


class ExportError(ValueError):
    """A model (or a part of it) that cannot be written as ONNX; the message says which and why."""


def import_onnx() -> Any:
    """The onnx module, or an ImportError saying how to install it."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError(
            "ONNX export needs the onnx package: pip install lstmkit[onnx] (or pip install onnx)."
        ) from e
    return onnx


class Graph:
    """The nodes, constants, inputs and outputs of one ONNX graph under construction.

    Every method that adds a node returns the name(s) of its output(s); names are unique.
    """

    def __init__(self, opset: int):
        self.onnx = import_onnx()
        latest = self.onnx.defs.onnx_opset_version()
        is_int = isinstance(opset, int) and not isinstance(opset, bool)
        if not is_int or not MIN_OPSET <= opset <= latest:
            raise ExportError(
                f"to_onnx: `opset` must be an integer from {MIN_OPSET} to {latest} (the newest "
                f"this onnx package knows), got {opset!r}."
            )
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self._used: set[str] = set()
        self._consts: dict[tuple, str] = {}
        self._counts: dict[str, int] = {}

    def name(self, hint: str) -> str:
        """A fresh internal value name, `hint:k` (the colon keeps them apart from the graph's
        input and output names, which are layer names)."""
        k = self._counts.get(hint, 0)
        self._counts[hint] = k + 1
        name = f"{hint}:{k}"
        self._used.add(name)
        return name

    # ----- values ------------------------------------------------------------------------------
    def const(self, value: Any, hint: str = "const", dtype: Any = None) -> str:
        """An initializer holding `value`; small constants are shared."""
        array = np.asarray(value, dtype=dtype)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        key = None
        if array.size <= 8:
            key = (array.dtype.str, array.shape, array.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, *values: int) -> str:
        """A 1-D int64 constant (shapes, axes, indices)."""
        return self.const(np.array(values, np.int64), "ints")

    def add_input(self, name: str, dtype: Any, shape: list) -> str:
        """A graph input; `shape` holds ints or dimension names (dynamic axes)."""
        elem = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self._claim(name)
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, elem, shape))
        return name

    def add_output(self, value: str, name: str, dtype: Any, shape: list) -> None:
        """Expose `value` as the graph output `name` (through Identity when the names differ)."""
        self._claim(name)
        if value != name:
            self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name]))
        elem = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, elem, shape))

    def _claim(self, name: str) -> None:
        if name in self._used:
            raise ExportError(f"to_onnx: two graph inputs or outputs would be named {name!r}.")
        self._used.add(name)

    # ----- nodes -------------------------------------------------------------------------------
    def op(self, op_type: str, inputs: list[str], n_out: int = 1, hint: str | None = None,
           **attrs: Any) -> Any:  # fmt: skip
        """Add a node; returns its output name (or a list of `n_out` names)."""
        base = hint or op_type.lower()
        outs = [self.name(base if n_out == 1 else f"{base}_{i}") for i in range(n_out)]
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def reduce(self, op_type: str, x: str, axes: list[int], keepdims: bool = False) -> str:
        """ReduceSum/Max/Mean/Min over `axes` (an input from opset 18, ReduceSum from 13)."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(*axes)], keepdims=int(keepdims))
        return self.op(op_type, [x], axes=list(axes), keepdims=int(keepdims))

    def flip_time(self, x: str) -> str:
        """Reverse axis 1 (time) of a (batch, time, ...) value, whatever its length."""
        return self.op("Slice", [x, self.ints(-1), self.ints(-INT64_MAX), self.ints(1),
                                 self.ints(-1)])  # fmt: skip

    def _reachable(self) -> tuple[list[Any], list[Any]]:
        """The nodes and initializers the outputs depend on (a mask computed by a layer but
        replaced by a `mask=` argument, say, is dropped)."""
        needed = {o.name for o in self.outputs}
        nodes = []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.output):
                nodes.append(node)
                needed.update(node.input)
        initializers = [t for t in self.initializers if t.name in needed]
        return nodes[::-1], initializers

    def model(self, name: str) -> Any:
        """The finished ModelProto."""
        helper = self.onnx.helper
        nodes, initializers = self._reachable()
        graph = helper.make_graph(nodes, name, self.inputs, self.outputs, initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="lstmkit")
        # The oldest IR version that carries this opset: runtimes read older IRs more widely.
        model.ir_version = helper.find_min_ir_version_for(opsets)
        return model
