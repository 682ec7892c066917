"""`model_to_dot` and `plot_model`: Keras 3's model diagrams through pydot.

`model_to_dot` needs only pydot (the graph as DOT text, `dot.to_string()`); `plot_model` also
needs Graphviz's `dot` program to render the image, and says what to install when it is missing.
The nodes and edges are Keras's: one HTML-table node per layer (named by `id(layer)`), edges from
each producing layer to its consumer; a Sequential model is a chain of its layers.
"""

from __future__ import annotations

import os
from typing import Any

try:
    import pydot
except ImportError:  # pydot is optional: only these functions need it
    pydot = None

GRAPHVIZ_HINT = (
    "You must install pydot (`pip install pydot`) and graphviz (the `dot` program: e.g. "
    "`apt install graphviz`, `brew install graphviz`, or see https://graphviz.gitlab.io/download/) "
    "for `plot_model` to work."
)


def check_pydot() -> bool:
    return pydot is not None


def check_graphviz() -> bool:
    """Whether pydot can render (Graphviz's `dot` runs)."""
    if pydot is None:
        return False
    try:
        pydot.Dot.create(pydot.Dot())
        return True
    except (OSError, pydot.PydotException):
        return False


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list) and len(shape) == 1:
        shape = shape[0]
    return f"{shape}".replace("}", "").replace("{", "")


def _activation_name(layer: Any) -> str:
    act = layer.activation
    return getattr(act, "name", None) or getattr(act, "__name__", None) or str(act)


def _label(layer: Any, shapes: tuple, opts: dict) -> str:
    """Keras's node label: a black title row, optional activation, shape/dtype/trainable row."""
    cls = type(layer).__name__
    colspan = max(
        1, int(opts["show_dtype"]) + int(opts["show_trainable"]) + 2 * opts["show_shapes"]
    )
    title = f"<b>{layer.name}</b> ({cls})" if opts["show_layer_names"] else f"<b>{cls}</b>"
    table = '<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
    table += (
        f'<tr><td colspan="{colspan}" bgcolor="black"><font point-size="16" color="white">'
        f"{title}</font></td></tr>"
    )
    if opts["show_layer_activations"] and getattr(layer, "activation", None) is not None:
        table += (
            f'<tr><td bgcolor="white" colspan="{colspan}"><font point-size="14">'
            f"Activation: <b>{_activation_name(layer)}</b></font></td></tr>"
        )
    cols = []
    cell = '<td bgcolor="white"><font point-size="14">{}: <b>{}</b></font></td>'
    if opts["show_shapes"]:
        if cls != "InputLayer":
            cols.append(cell.format("Input shape", _shape_text(shapes[0])))
        cols.append(cell.format("Output shape", _shape_text(shapes[1])))
    if opts["show_dtype"]:
        cols.append(cell.format("Output dtype", _shape_text(shapes[2]) if shapes[2] else "?"))
    if opts["show_trainable"] and hasattr(layer, "trainable") and getattr(layer, "weights", None):
        color, text = (
            ("forestgreen", "Trainable") if layer.trainable else ("firebrick", "Non-trainable")
        )
        cols.append(
            f'<td bgcolor="{color}"><font point-size="14" color="white"><b>{text}</b></font></td>'
        )
    if cols:
        table += "<tr>" + "".join(cols) + "</tr>"
    return table + "</table>>"


def _graph(model: Any) -> tuple[list, list, dict]:
    """(layers, edges (source, destination), {id(layer): (input shapes, output shapes, output
    dtypes)})."""
    nodes = getattr(model, "_nodes", None) or []
    shapes: dict = {}
    for node in nodes:
        ins = [t.shape for t in node.parent_tensors] or None
        outs = node.outputs
        many = isinstance(outs, (list, tuple))
        dtypes = [t.dtype for t in outs] if many else outs.dtype
        outs = [t.shape for t in outs] if many else outs.shape
        shapes.setdefault(id(node.layer), (ins, outs, dtypes))
    if type(model).__name__ == "Sequential" or not nodes:
        layers = list(model.layers)
        return layers, list(zip(layers, layers[1:])), shapes
    layers, edges = [], []
    for t in getattr(model, "inputs", []):  # InputLayers first, as Keras's operations
        if t.node.layer not in layers:
            layers.append(t.node.layer)
    for node in nodes:
        if node.layer not in layers:
            layers.append(node.layer)
        for t in node.parent_tensors:
            edges.append((t.node.layer, node.layer))
    return layers, edges, shapes


def model_to_dot(model: Any, show_shapes: bool = False, show_dtype: bool = False,
                 show_layer_names: bool = True, rankdir: str = "TB", expand_nested: bool = False,
                 dpi: int = 200, subgraph: bool = False, show_layer_activations: bool = False,
                 show_trainable: bool = False, splines: str = "ortho",
                 **kwargs: Any) -> Any:  # fmt: skip
    """The model as a `pydot.Dot` graph (`.to_string()` is its DOT text)."""
    if pydot is None:
        raise ImportError("You must install pydot (`pip install pydot`) for model_to_dot to work.")
    if kwargs:
        raise ValueError(f"model_to_dot: unrecognized keyword arguments: {sorted(kwargs)}")
    if not getattr(model, "built", True):
        raise ValueError(
            f"Model '{model.name}' has not yet been built. Build the model first by calling "
            "`build()` or by calling the model on a batch of data."
        )
    dot = pydot.Dot()
    dot.set("rankdir", rankdir)
    dot.set("concentrate", True)
    dot.set("dpi", dpi)
    dot.set("splines", splines)
    dot.set_node_defaults(shape="record")
    opts = {"show_shapes": show_shapes, "show_dtype": show_dtype,
            "show_layer_names": show_layer_names, "show_trainable": show_trainable,
            "show_layer_activations": show_layer_activations}  # fmt: skip
    layers, edges, shapes = _graph(model)
    for layer in layers:
        label = _label(layer, shapes.get(id(layer), (None, None, None)), opts)
        node = pydot.Node(str(id(layer)), label=label, fontname="Helvetica", border="0", margin="0")
        dot.add_node(node)
    for src, dst in edges:
        if not dot.get_edge(str(id(src)), str(id(dst))):
            edge = pydot.Edge(str(id(src)), str(id(dst)))
            edge.set("penwidth", "2")
            dot.add_edge(edge)
    return dot


def plot_model(model: Any, to_file: str = "model.png", show_shapes: bool = False,
               show_dtype: bool = False, show_layer_names: bool = False, rankdir: str = "TB",
               expand_nested: bool = False, dpi: int = 200, show_layer_activations: bool = False,
               show_trainable: bool = False, **kwargs: Any) -> Any:  # fmt: skip
    """Render the model's diagram to `to_file` (png, svg, pdf, ... by extension, or .dot text)."""
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    if not check_graphviz() and extension != "dot":
        raise ImportError(GRAPHVIZ_HINT + " (Writing `to_file='model.dot'` needs only pydot.)")
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable, **kwargs)  # fmt: skip
    if extension == "dot":
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(dot.to_string())
        return None
    dot.write(to_file, format=extension)
    return None
