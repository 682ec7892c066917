"""Plots of a trace: one heat map per gate or state, time on x, units on y (needs matplotlib)."""

from __future__ import annotations

from typing import Any


def plot_trace(trace: dict, sample: int = 0, path: str | None = None, title: str | None = None):
    """Draw every quantity of `trace` (from `lstmkit.inspect.trace`) for one sample.

    Returns the matplotlib Figure; with `path`, also saves it there (PNG, PDF, ... by suffix).
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plot_trace needs matplotlib: pip install 'lstmkit[plot]'") from err
    names = list(trace)
    batch = next(iter(trace.values())).shape[0]
    if not 0 <= sample < batch:
        raise ValueError(f"plot_trace: sample must be in [0, {batch}), got {sample}.")
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 1.6 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        values: Any = trace[name][sample].T  # (units, time)
        bounded = name in ("i", "f", "o", "z", "r")
        image = ax.imshow(
            values,
            aspect="auto",
            cmap="viridis" if bounded else "coolwarm",
            vmin=0 if bounded else None,
            vmax=1 if bounded else None,
        )
        ax.set_ylabel(name)
        fig.colorbar(image, ax=ax)
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle(title or f"sample {sample}")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig
