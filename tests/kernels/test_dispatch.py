"""lstmkit turns JAX's asynchronous CPU dispatch off on import, unless the user chose or it is
too late (kernels/dispatch.py). Each case runs in a fresh interpreter: the setting is read once,
when JAX starts its CPU backend."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REPORT = (
    "import jax; print(jax.config.values['jax_cpu_enable_async_dispatch'], "
    "jax.numpy.arange(3).sum().item())"
)


def run(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "JAX_CPU_ENABLE_ASYNC_DISPATCH"}
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

    from lstmkit.kernels import dispatch

    jax.numpy.ones(1)  # the backend runs in this test process
    assert dispatch.backends_started()
    assert dispatch.run_cpu_computations_inline() is False
