"""Two settings of the CPU runtime that lstmkit makes when it is imported, each left alone when
the user chose otherwise (docs/performance.md, "The CPU runtime").

1. Inline dispatch. By default JAX hands every CPU computation costing more than a few flops to
   a worker thread of XLA's and returns at once; the caller waits for the result later. Here that
   hand-off buys little: lstmkit's native kernels spread their own work over the cores, and the
   Python it would overlap with a step competes for the same cores. It costs two thread wake-ups
   per call: 50-80 µs on the project's 2-core machine, 10-15 % of a streamed step of the seed-004
   model, whose output is awaited at every step anyway. Left alone when
   `JAX_CPU_ENABLE_ASYNC_DISPATCH` is set, or when JAX's backend already started (it reads the
   setting once, when it starts).

2. Freed memory kept for reuse (glibc only). XLA allocates the output and temporary buffers of a
   program at every call and frees them after; glibc serves blocks of 128 KB or more (up to 32
   MB, adjusted as it goes) with fresh `mmap`s, returns them to the system when they are freed,
   and gives the heap's free top back too. Every training step then faulted its buffers in page
   by page: 17,600 page faults a step at (64, 100, 128, 256), about a quarter of its time (train
   step 84-97 -> 63-76 ms), 92,000 at (64, 100, 256, 1024) (1110-1180 -> 958-997 ms). Here
   blocks under 1 GB come from the heap, and up to 1 GB of freed heap top is kept for the next
   step. The process keeps that memory mapped between steps (as PyTorch's caching allocators
   do); larger blocks are still mapped afresh, since the heap would fragment around them (with
   no `mmap` at all the peak of a (64, 100, 256, 1024) train step rose from 538 to 778 MB; with
   this threshold it is 599-619, PyTorch's 658). Left alone when `GLIBC_TUNABLES` sets a malloc
   tunable or `LSTMKIT_MALLOC_TUNING=0`.
"""

from __future__ import annotations

import ctypes
import os
import platform

import jax

ASYNC_ENV = "JAX_CPU_ENABLE_ASYNC_DISPATCH"
MALLOC_ENV = "LSTMKIT_MALLOC_TUNING"

# mallopt's parameters (glibc's malloc.h) and lstmkit's values.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 1 << 30  # bytes: larger blocks are mapped afresh
TRIM_THRESHOLD = 1 << 30  # bytes of free heap top kept before any is given back


def backends_started() -> bool:
    """Whether JAX has started its backends (then the dispatch setting is fixed)."""
    from jax._src import xla_bridge  # no public name for it; a missing one counts as started

    started = getattr(xla_bridge, "backends_are_initialized", None)
    return True if started is None else bool(started())


def run_cpu_computations_inline() -> bool:
    """Turn JAX's asynchronous CPU dispatch off unless the user set it or it is too late.
    Returns whether the setting was changed."""
    if ASYNC_ENV in os.environ or backends_started():
        return False
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    return True


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to serve large blocks from the heap and keep freed memory for reuse,
    unless the user tuned malloc or switched this off. Returns whether it was changed."""
    user_tuned = "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "")
    switched_off = os.environ.get(MALLOC_ENV, "1").strip().lower() in ("0", "false", "off")
    if user_tuned or switched_off or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # Some glibc versions refuse a threshold above 32 MB, the most their heap arenas hold.
    mapped = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) or mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    return bool(mapped) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def configure() -> None:
    """Both settings, once, when lstmkit is imported."""
    run_cpu_computations_inline()
    keep_freed_memory()
