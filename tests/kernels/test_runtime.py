"""The CPU runtime settings lstmkit makes on import (kernels/runtime.py): JAX's asynchronous CPU
dispatch off, and glibc's malloc keeping freed memory, each left alone when the user chose or when
it is too late. Each case runs in a fresh interpreter: both are settings of the process."""

import os
import platform
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REPORT = (
    "import jax; print(jax.config.values['jax_cpu_enable_async_dispatch'], "
    "jax.numpy.arange(3).sum().item())"
)

# Page faults per block of touching fresh 40 MB blocks (above the largest size glibc ever serves
# from its heap by itself) after others were freed: each block is mapped afresh and faults in
# page by page (2 MB pages where numpy asks for them: hundreds of faults), or none when malloc
# keeps freed memory.
FAULTS = """
import resource, numpy as np
def touch():
    a = np.empty(40 << 20, np.uint8); a.fill(1)
for _ in range(3):
    touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    touch()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 10)
"""


def run(code: str, **env: str) -> str:
    drop = {"JAX_CPU_ENABLE_ASYNC_DISPATCH", "GLIBC_TUNABLES", "LSTMKIT_MALLOC_TUNING"}
    clean = {k: v for k, v in os.environ.items() if k not in drop}
    full = {**clean, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu", **env}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    "code, env, expected",
    [
        ("import lstmkit; " + REPORT, {}, "False 3"),  # lstmkit's default: inline
        ("import lstmkit; " + REPORT, {"JAX_CPU_ENABLE_ASYNC_DISPATCH": "true"}, "True 3"),
        ("import jax; jax.numpy.ones(1); import lstmkit; " + REPORT, {}, "True 3"),  # too late
        (
            "import lstmkit, jax; jax.config.update('jax_cpu_enable_async_dispatch', True); "
            + REPORT,
            {},
            "True 3",
        ),  # the user's own update after the import wins
    ],
    ids=["import", "env-var", "backend-started", "user-update"],
)
def test_cpu_dispatch_setting(code, env, expected):
    assert run(code, **env) == expected


def test_nothing_changes_once_the_backend_started():
    import jax

    from lstmkit.kernels import runtime

    jax.numpy.ones(1)  # the backend runs in this test process
    assert runtime.backends_started()
    assert runtime.run_cpu_computations_inline() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_freed_memory_is_kept_for_reuse():
    assert int(run("import lstmkit" + FAULTS)) < 5
    # Without lstmkit, or with it switched off either way: every block faults in again.
    assert int(run(FAULTS)) > 15
    assert int(run("import lstmkit" + FAULTS, LSTMKIT_MALLOC_TUNING="0")) > 15
    tuned = "glibc.malloc.arena_max=2"  # the user tuned malloc: lstmkit leaves it alone
    assert int(run("import lstmkit" + FAULTS, GLIBC_TUNABLES=tuned)) > 15
