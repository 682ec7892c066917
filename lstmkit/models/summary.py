"""`model.summary()`: the layer table Keras 3 prints, with the same columns, options and counts.

Keras draws the table with `rich`; when `rich` is installed (Keras depends on it) lstmkit draws
it the same way, so the text is Keras's. Without it a plain table with the same cells is drawn.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from typing import Any

import numpy as np

from lstmkit.layers.base import ordered_leaves
from lstmkit.layers.symbolic import tree_leaves
from lstmkit.models.files import file_function

try:  # optional: Keras's own table renderer
    import rich.console
    import rich.table
    import rich.text
except ImportError:  # pragma: no cover - exercised only where rich is absent
    rich = None


def _size(n_bytes: float) -> str:
    """Keras's readable memory size."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def _count(arrays: list) -> tuple[int, int]:
    n = int(sum(np.prod(a.shape) for a in arrays))
    return n, int(sum(np.prod(a.shape) * np.dtype(a.dtype).itemsize for a in arrays))


def _shape_text(layer: Any) -> str:
    """The output shape(s) of the layer's latest call, as Keras formats them."""
    nodes = layer.__dict__.get("_inbound_nodes") or []
    if not nodes:
        return "?"
    shapes = [t.shape for t in tree_leaves(nodes[-1].outputs)]
    text = [f"({', '.join(str(d) for d in s)})" for s in shapes]
    return text[0] if len(text) == 1 else f"[{', '.join(text)}]"


def _params_text(layer: Any) -> str:
    return f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"


def _sequential_like(model: Any) -> bool:
    """Keras's test: one call per depth, each with one input, no layer called twice."""
    if type(model).__name__ == "Sequential" or model.keras_style or not model._graph_ready:
        return True
    nodes = model._nodes
    seen: set[int] = set()
    for prev, node in zip(nodes, nodes[1:]):
        parents = node.parent_tensors
        if len(parents) != 1 or parents[0].node is not prev or id(node.layer) in seen:
            return False
        seen.add(id(node.layer))
    return True


def _connections(model: Any, layer: Any) -> str:
    """`Connected to`: each input as `producer[node index][tensor index]`."""
    in_model = {id(n) for n in model._nodes}
    parts = []
    for node in layer.__dict__.get("_inbound_nodes") or []:
        if id(node) not in in_model:
            continue
        for t in node.parent_tensors:
            producer = t.node.layer
            index = [id(n) for n in producer.__dict__.get("_inbound_nodes", [])].index(id(t.node))
            parts.append(f"{producer.name}[{index}][{t.index}]")
    return ", ".join(parts) or "-"


def _layer_range(layers: list, layer_range: Any) -> tuple[int, int]:
    """Keras's `layer_range`: two names (or regexes), both ends included."""
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2:
        raise ValueError(
            "layer_range must be a list or tuple of length 2. Received: "
            f"layer_range = {layer_range} of length {len(layer_range)}"
        )
    if not all(isinstance(n, str) for n in layer_range):
        raise ValueError(f"layer_range should contain string type only. Received: {layer_range}")
    lower = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    upper = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not lower or not upper:
        raise ValueError(
            f"Passed layer_names do not match the layer names in the model. Received: {layer_range}"
        )
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def _class_name(layer: Any) -> str:
    """The class Keras shows: a plain functional model is Keras's `Functional`."""
    cls = type(layer)
    functional = cls.__name__ == "Model" and cls.__module__ == "lstmkit.models.functional"
    return "Functional" if functional else cls.__name__


def _rows(model: Any, layers: list, sequential_like: bool, expand_nested: bool,
          show_trainable: bool) -> list[list[str]]:  # fmt: skip
    def fields(layer: Any, level: int) -> list[list[str]]:
        prefix = "   " * level + "└ " if level else ""
        row = [f"{prefix}{layer.name} ({_class_name(layer)})", _shape_text(layer),
               _params_text(layer)]  # fmt: skip
        if not sequential_like:
            row.append(_connections(model, layer))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        rows = [row]
        inner = getattr(layer, "layers", None) if expand_nested else None
        for sub in inner or []:
            rows += fields(sub, level + 1)
        return rows

    return [row for layer in layers for row in fields(layer, 0)]


def render(model: Any, line_length: int | None = None, positions: Any = None,
           expand_nested: bool = False, show_trainable: bool = False,
           layer_range: Any = None) -> str:  # fmt: skip
    """The summary as text, laid out as Keras 3's `print_summary`."""
    layers = model.layers
    sequential_like = _sequential_like(model)
    if sequential_like:
        default_length, positions = 88, positions or [0.45, 0.80, 1.0]
        header, justify = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"]
    else:
        default_length, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        justify = ["left", "left", "right", "left"]
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header, justify = header + ["Trainable"], justify + ["center"]
    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    widths, current = [], 0
    for pos in positions:  # relative positions (<= 1) or absolute ones, as Keras
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    start, stop = _layer_range(layers, layer_range)
    rows = _rows(model, layers[start:stop], sequential_like, expand_nested, show_trainable)
    ready = model._graph_ready or model.keras_style
    flags = ordered_leaves(model.trainable_mask()) if ready else []
    weights = model.weights if ready else []
    total, total_b = _count(weights)
    trainable, trainable_b = _count([w for w, f in zip(weights, flags) if f])
    optimizer = getattr(model, "optimizer", None)
    built = optimizer is not None and getattr(optimizer, "opt_state", None) is not None
    # Keras counts the optimizer's variables once it is built (after the first step).
    opt_n, opt_b = _count(file_function("optimizer_variables")(model) or []) if built else (0, 0)
    non_trainable, non_trainable_b = total - trainable, total_b - trainable_b
    totals = [
        f" Total params: {total + opt_n:,} ({_size(total_b + opt_b)})",
        f" Trainable params: {trainable:,} ({_size(trainable_b)})",
        f" Non-trainable params: {non_trainable:,} ({_size(non_trainable_b)})",
    ]
    if built:
        totals.append(f" Optimizer params: {opt_n:,} ({_size(opt_b)})")
    table = (_rich_table if rich is not None else _plain_table)(
        header, justify, widths, line_length, rows
    )
    return "\n".join([f'Model: "{model.name}"', table, *totals]) + "\n"


def _rich_table(header, justify, widths, line_length, rows) -> str:
    columns = [rich.table.Column(h, justify=j, width=w) for h, j, w in zip(header, justify, widths)]
    table = rich.table.Table(*columns, width=line_length, show_lines=True)
    for row in rows:
        table.add_row(*[rich.text.Text(cell) for cell in row])
    console = rich.console.Console(highlight=False, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(table)
    return capture.get().rstrip("\n")


def _plain_table(header, justify, widths, line_length, rows) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) + 2 for i, h in enumerate(header)]

    def line(left: str, mid: str, right: str, fill: str) -> str:
        return left + mid.join(fill * w for w in widths) + right

    def row(cells: list[str], bar: str) -> str:
        align = {"left": "<", "right": ">", "center": "^"}
        return bar + bar.join(f" {c:{align[j]}{w - 2}} "
                              for c, j, w in zip(cells, justify, widths)) + bar  # fmt: skip

    out = [line("┏", "┳", "┓", "━"), row(header, "┃"), line("┡", "╇", "┩", "━")]
    for i, r in enumerate(rows):
        if i:
            out.append(line("├", "┼", "┤", "─"))
        out.append(row(r, "│"))
    out.append(line("└", "┴", "┘", "─"))
    return "\n".join(out)


def print_summary(model: Any, print_fn: Callable | None = None, **options: Any) -> None:
    """Print (or hand to `print_fn`, as one string) the summary."""
    text = render(model, **options)
    if print_fn is None:
        print(text, end="")
    else:
        print_fn(text)
