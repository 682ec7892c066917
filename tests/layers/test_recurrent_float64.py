"""Recurrent layers with dtype="float64" (JAX's x64 mode on) compute in float64, as Keras's do:
their outputs equal a float64 NumPy reference (to 1e-7: XLA's float64 tanh and logistic are
approximations at ~2e-8), and a change of 1e-9 in an input, lost in float32, shows in the output.
The mode is process-wide, so the check runs in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import lstmkit.layers as L
    from tests.inspect.test_trace import numpy_trace

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4))  # float64
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False
    for kind, cls in (("lstm", L.LSTM), ("gru", L.GRU)):
        layer = cls(5, dtype="float64", return_sequences=True)
        layer(x)
        layer.set_weights([rng.normal(size=w.shape) * 0.5 for w in layer.get_weights()])
        out = np.asarray(layer(x, mask=mask))
        assert out.dtype == np.float64, (kind, out.dtype)
        want = numpy_trace(kind, x, layer.get_weights(), mask)["hidden_state"]
        err = np.abs(out - want).max()
        assert err < 1e-7, (kind, err)
        nudged = np.asarray(layer(x + 1e-9, mask=mask))  # 1e-9 is below float32's resolution
        assert 0 < np.abs(nudged - out).max() < 1e-7, kind
    print("OK")
""")


def test_float64_layers_compute_in_float64():
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("OK")
