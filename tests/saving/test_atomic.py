"""Saves are atomic: a file is written beside its target and renamed into place, so a failure, a
crash or a SIGKILL at any moment leaves the previous file whole."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lstmkit
from lstmkit.models import load_model
from lstmkit.saving.keras_format import atomic_write

L = lstmkit.layers


def test_failed_write_leaves_previous_file_and_no_temporaries(tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"previous")

    def write(f):
        f.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(path, write)
    assert path.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]
    mode = path.stat().st_mode
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]
    assert path.stat().st_mode == mode  # not mkstemp's private 0o600
    (tmp_path / "plain").write_bytes(b"")
    atomic_write(tmp_path / "fresh.keras", lambda f: f.write(b"x"))
    assert (tmp_path / "fresh.keras").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_failed_save_leaves_previous_file(tmp_path):
    x = lstmkit.Input((3,))
    model = lstmkit.Model(x, L.Dense(2, kernel_initializer="zeros")(x))
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    before = {p: (tmp_path / p).read_bytes() for p in ("m.keras", "m.weights.h5")}
    broken = lstmkit.Model(x, L.Dense(2, activation=lambda t: t, kernel_initializer="zeros")(x))
    with pytest.raises(ValueError, match="lambda"):
        broken.save(tmp_path / "m.keras")
    for p, data in before.items():
        assert (tmp_path / p).read_bytes() == data
    assert sorted(os.listdir(tmp_path)) == ["m.keras", "m.weights.h5"]


# A process that saves two versions of a model in a loop, in forked children that it kills with
# SIGKILL after random delays, copying the file after each kill. The children only write: every
# array they save was turned into numpy before the fork.
SAVER = textwrap.dedent(
    """
    import os, random, shutil, signal, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import lstmkit
    from tests.saving.test_atomic import build

    path, kills = sys.argv[1], int(sys.argv[2])
    models = [build(0), build(1)]
    for m in models:
        m.save(path)  # also caches every weight as numpy in this process
    rng = random.Random(0)
    saves = 0
    for k in range(kills):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            i = 0
            while True:
                models[i % 2].save(path)
                os.write(w, b".")
                i += 1
        os.close(w)
        time.sleep(rng.uniform(0.01, 0.2))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            saves += len(chunk)
        os.close(r)
        shutil.copy(path, os.path.join(os.path.dirname(path), f"snap{k}.keras"))
    print(saves)
    """
)


def build(seed):
    """About a megabyte of weights: two LSTMs and a Dense, random values from `seed`."""
    x = lstmkit.Input((None, 32), name="x")
    zeros = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}
    h = L.LSTM(128, return_sequences=True, name="lstm_a", **zeros)(x)
    h = L.LSTM(96, name="lstm_b", **zeros)(h)
    model = lstmkit.Model(x, L.Dense(8, kernel_initializer="zeros", name="dense")(h), name="big")
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sigkill_while_saving_never_breaks_the_file(tmp_path):
    kills = 20
    path = tmp_path / "m.keras"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", SAVER, str(path), str(kills)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saves = int(done.stdout.split()[-1])
    assert saves >= kills  # the children were saving when they were killed
    versions = [build(0).get_weights(), build(1).get_weights()]
    for k in range(kills):
        weights = load_model(tmp_path / f"snap{k}.keras").get_weights()
        assert any(
            all(np.array_equal(a, b) for a, b in zip(weights, version)) for version in versions
        ), f"snapshot {k} holds neither version"
