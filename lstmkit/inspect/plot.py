"""Plots of a trace: heat maps time x units per quantity and layer, and a saturation summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

GATES = ("input_gate", "forget_gate", "output_gate", "update_gate", "reset_gate")


def saturation(trace: dict[str, dict[str, np.ndarray]], sample: int | None = None) -> dict:
    """{layer: {gate: (share above 0.9, share below 0.1)}} over time and units (one sample, or
    all). A gate stuck near 0 or 1 passes or blocks everything: the share says how often."""
    out = {}
    for layer, quantities in trace.items():
        for gate in GATES:
            if gate in quantities:
                v = np.asarray(quantities[gate] if sample is None else quantities[gate][sample])
                out.setdefault(layer, {})[gate] = (float((v > 0.9).mean()), float((v < 0.1).mean()))
    return out


def _token_labels(tokens: Any, time: int) -> list[str] | None:
    if tokens is None:
        return None
    labels = [repr(t)[1:-1] if isinstance(t, str) else str(t) for t in tokens]  # "\n" -> \\n
    labels = ["\u2423" if s == " " else s for s in labels]  # a visible space: ␣
    if len(labels) != time:
        raise ValueError(f"plot_trace: {len(labels)} tokens given for {time} time steps.")
    return labels


def plot_trace(
    trace: dict[str, dict[str, np.ndarray]],
    path: Any = None,
    tokens: Sequence[Any] | str | None = None,
    *,
    sample: int = 0,
    title: str | None = None,
):
    """Draw `lstmkit.inspect.trace(...)` for one sample: one heat map (units x time) per gate and
    state of every layer, `tokens` (a string's characters, or token strings) along the time axis,
    and the gates' saturation. Saves a PNG (or PDF, ... by suffix) at `path`; returns the Figure.
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plot_trace needs matplotlib: pip install 'lstmkit[plot]'") from err
    if not trace or not all(isinstance(q, dict) for q in trace.values()):
        raise ValueError("plot_trace: expected the dict `lstmkit.inspect.trace` returns.")
    panels = [(layer, q, v) for layer, qs in trace.items() for q, v in qs.items()]
    batch, time = panels[0][2].shape[:2]
    if not 0 <= sample < batch:
        raise ValueError(f"plot_trace: sample must be in [0, {batch}), got {sample}.")
    labels = _token_labels(tokens, time)
    sat = saturation(trace, sample)
    n_sat = sum(len(g) for g in sat.values())
    width = float(np.clip(3 + 0.16 * time, 9, 26))
    heights = [1.9] * len(panels) + ([0.6 + 0.28 * n_sat] if n_sat else [])
    fig, axes = plt.subplots(
        len(heights), 1, figsize=(width, sum(heights) + 0.8), squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    axes = axes[:, 0]
    previous_layer = None
    for ax, (layer, q, values) in zip(axes, panels):
        v = np.asarray(values[sample], np.float64).T  # (units, time)
        if q in GATES:
            cmap, lo, hi = "viridis", 0.0, 1.0
        else:
            # symmetric, so 0 is white; the 99th percentile, so a few large cells don't wash out
            bound = max(float(np.percentile(np.abs(v), 99)), 1e-6)
            cmap, lo, hi = "RdBu_r", -bound, bound
        image = ax.imshow(v, aspect="auto", cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
        heading = f"{layer} — {q}" if layer != previous_layer else q
        if q in GATES:
            high, low = sat[layer][q]
            heading += f"   (>0.9: {high:.0%}, <0.1: {low:.0%})"
        ax.set_title(
            heading, loc="left", fontsize=10, fontweight="bold" if layer != previous_layer else None
        )
        previous_layer = layer
        ax.set_ylabel(f"{layer}\nunit", fontsize=8)
        ax.tick_params(labelsize=7)
        if labels is not None:
            step = max(1, time // 80)  # at most ~80 labels: each stays readable
            ax.set_xticks(range(0, time, step))
            ax.set_xticklabels(labels[::step], fontsize=8, fontfamily="monospace")
        else:
            ax.set_xlabel("time step", fontsize=8)
    if n_sat:
        ax = axes[-1]
        names = [f"{layer} {gate}" for layer, gates in sat.items() for gate in gates]
        high = np.array([h for gates in sat.values() for h, _ in gates.values()])
        low = np.array([lo for gates in sat.values() for _, lo in gates.values()])
        rows = np.arange(len(names))
        ax.barh(rows, high, color="#2a9d8f", label="> 0.9 (open)")
        ax.barh(rows, low, left=high, color="#e76f51", label="< 0.1 (closed)")
        ax.set_yticks(rows)
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        for row, (h, lo) in enumerate(zip(high, low)):
            ax.text(min(h + lo, 0.8) + 0.01, row, f"{h:.0%} open, {lo:.0%} closed", va="center",
                    fontsize=8)  # fmt: skip
        ax.set_title("saturation: share of gate values near 1 and near 0", loc="left", fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title or f"lstmkit trace, sample {sample}", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))  # room for the title
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
