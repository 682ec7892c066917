"""`model.summary()`: the layer table Keras prints, with the same parameter counts."""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.layers.base import ordered_leaves
from lstmkit.layers.core import InputLayer
from lstmkit.layers.symbolic import tree_leaves


def _size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return ""


def _count(arrays: list) -> tuple[int, int]:
    n = int(sum(np.prod(a.shape) for a in arrays))
    return n, int(sum(np.prod(a.shape) * np.dtype(a.dtype).itemsize for a in arrays))


def _shape_text(outputs: Any) -> str:
    shapes = [t.shape for t in tree_leaves(outputs)]
    text = ", ".join(str(s) for s in shapes)
    return text if len(shapes) == 1 else f"[{text}]"


def render(model: Any) -> str:
    """The summary as text: one row per layer call, then the totals."""
    rows = []
    for node in model._nodes if model._graph_ready else []:
        layer = node.layer
        if isinstance(layer, InputLayer) and type(model).__name__ == "Sequential":
            continue
        rows.append(
            (
                f"{layer.name} ({type(layer).__name__})",
                _shape_text(node.outputs),
                str(layer.count_params()),
            )
        )
    if model.keras_style:  # a subclassed model: no graph, its tracked layers (as Keras)
        rows = [(f"{layer.name} ({type(layer).__name__})", "?",
                 str(layer.count_params()) if layer.built else "0 (unbuilt)")
                for layer in model.layers]  # fmt: skip
    elif not model._graph_ready:
        rows = [
            (f"{layer.name} ({type(layer).__name__})", "?", "0 (unbuilt)") for layer in model.layers
        ]
    widths = [
        max([len(h)] + [len(r[i]) for r in rows]) + 2
        for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))
    ]
    widths = [max(w, m) for w, m in zip(widths, (33, 24, 15))]

    def line(left, mid, right, fill="─"):
        return left + mid.join(fill * w for w in widths) + right

    def row(cells):
        return (
            "│"
            + "│".join(
                f" {c:<{w - 2}} " if i < 2 else f" {c:>{w - 2}} "
                for i, (c, w) in enumerate(zip(cells, widths))
            )
            + "│"
        )

    ready = model._graph_ready or model.keras_style
    flags = ordered_leaves(model.trainable_mask()) if ready else []
    weights = model.weights if ready else []
    total, total_b = _count(weights)
    trainable, trainable_b = _count([w for w, f in zip(weights, flags) if f])
    out = [
        f'Model: "{model.name}"',
        line("┌", "┬", "┐"),
        row(("Layer (type)", "Output Shape", "Param #")),
        line("├", "┼", "┤"),
    ]
    out += [row(r) for r in rows]
    out += [
        line("└", "┴", "┘"),
        f" Total params: {total:,} ({_size(total_b)})",
        f" Trainable params: {trainable:,} ({_size(trainable_b)})",
        f" Non-trainable params: {total - trainable:,} ({_size(total_b - trainable_b)})",
    ]
    return "\n".join(out)
