"""CPU dispatch: a computation runs in the thread that calls it.

By default JAX hands every CPU computation costing more than a few flops to a worker thread of
XLA's and returns at once (asynchronous dispatch); the caller waits for the result later. On a
CPU that hand-off buys little here: lstmkit's native kernels spread their own work over the
cores, and the Python that async dispatch would overlap with a step competes for the same cores.
It costs two thread wake-ups per call: 50-80 µs measured on the project's 2-core machine, 10-15 %
of a streamed step of the seed-004 model (`model.stream().step`), whose output is awaited at
every step anyway. So lstmkit asks JAX to run CPU computations inline, when it is imported.

Left alone when the user chose: `JAX_CPU_ENABLE_ASYNC_DISPATCH` set in the environment, or
`jax.config.update("jax_cpu_enable_async_dispatch", ...)` after importing lstmkit and before the
first computation. JAX reads the setting once, when it starts its CPU backend; after that a
change has no effect, so none is made.
"""

from __future__ import annotations

import os

import jax

ENV = "JAX_CPU_ENABLE_ASYNC_DISPATCH"


def backends_started() -> bool:
    """Whether JAX has started its backends (then the dispatch setting is fixed)."""
    from jax._src import xla_bridge  # no public name for it; a missing one counts as started

    started = getattr(xla_bridge, "backends_are_initialized", None)
    return True if started is None else bool(started())


def run_cpu_computations_inline() -> bool:
    """Turn JAX's asynchronous CPU dispatch off unless the user set it or it is too late.
    Returns whether the setting was changed."""
    if ENV in os.environ or backends_started():
        return False
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    return True
