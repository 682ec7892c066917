"""What the benchmark scripts share: each system runs in a child process of its own (no thread
pools or caches shared between runtimes), with its threads capped, and reports JSON on its last
line of output."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def thread_env(threads: int, **extra: str) -> dict[str, str]:
    """The environment for a child: every runtime's threads (BLAS, OpenMP, XLA) capped at
    `threads`, over this process's environment and `extra`."""
    n = str(threads)
    eigen = "true" if threads > 1 else "false"
    xla = f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_multi_thread_eigen={eigen}"
    return {**os.environ, "BENCH_THREADS": n, "OPENBLAS_NUM_THREADS": n, "OMP_NUM_THREADS": n,
            "MKL_NUM_THREADS": n, "XLA_FLAGS": f"{xla} intra_op_parallelism_threads={n}",
            **extra}  # fmt: skip


def run_child(name: str, cmd: list[str], env: dict[str, str]) -> dict | None:
    """Run `cmd`; its last line of output as JSON, or None (its error printed) if it failed."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        print(f"{name}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])
