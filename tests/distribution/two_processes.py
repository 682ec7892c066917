"""One of two processes of a multi-process DataParallel run on 127.0.0.1, two CPU devices each.

Usage: python two_processes.py PROCESS_ID PORT OUTDIR
Each process trains the same model on its own half of every batch, writes what it saw to
OUTDIR/p{PROCESS_ID}.json, saves the model (only process 0 writes the file); process 0 also
trains a one-device reference. Then process 1 dies and process 0 starts another fit: it must
stop by itself (JAX's heartbeat) with an error naming the lost process.
"""

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import json  # noqa: E402

import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit import distribution as dl  # noqa: E402

PID, PORT, OUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
dl.initialize(f"127.0.0.1:{PORT}", 2, PID, initialization_timeout=60, heartbeat_timeout_seconds=3)

rng = np.random.default_rng(0)
X = rng.normal(size=(16, 5, 3)).astype("float32")
Y = np.stack([X[:, :, 0].sum(1), X[:, -1, 1]], 1).astype("float32")
PER_PROCESS = 4  # rows per process per step: a global batch of 8


def share(a, p):
    """Process p's rows: its half of every global batch of 8."""
    return a.reshape(-1, 2, PER_PROCESS, *a.shape[1:])[:, p].reshape(-1, *a.shape[1:])


def build():
    model = lstmkit.Sequential(
        [lstmkit.Input((5, 3)), lstmkit.layers.LSTM(4), lstmkit.layers.Dense(2)]
    )
    model.compile(lstmkit.optimizers.Adam(0.01), "mse")
    return model


lstmkit.utils.set_random_seed(PID)  # different initial weights: process 0's must win
model = build()
initial = [w.tolist() for w in model.get_weights()]
dl.set_distribution(dl.DataParallel())
model.fit(share(X, PID), share(Y, PID), batch_size=PER_PROCESS, epochs=2, shuffle=False, verbose=0)
result = {
    "devices": dl.list_devices(),
    "initial": initial,
    "weights": [w.tolist() for w in model.get_weights()],
    "loss": model.evaluate(share(X, PID), share(Y, PID), batch_size=PER_PROCESS, verbose=0),
    "predict": model.predict(share(X, PID)[:4], verbose=0).tolist(),
}
model.save(os.path.join(OUT, f"model_p{PID}.keras"))  # process 0 writes, process 1 skips
if PID == 0:  # the same training on one device, from process 0's initial weights
    dl.set_distribution(None)
    ref = build()
    ref.set_weights([np.asarray(w, np.float32) for w in initial])
    ref.fit(X, Y, batch_size=2 * PER_PROCESS, epochs=2, shuffle=False, verbose=0)
    result["reference"] = [w.tolist() for w in ref.get_weights()]
    result["reference_loss"] = ref.evaluate(X, Y, batch_size=8, verbose=0)
    result["reference_predict"] = ref.predict(share(X, 0)[:4], verbose=0).tolist()
    dl.set_distribution(dl.DataParallel())
with open(os.path.join(OUT, f"p{PID}.json"), "w") as f:
    json.dump(result, f)
multihost_utils.sync_global_devices("results written")
if PID == 1:
    os._exit(3)  # dies without a word to the coordinator
print("process 0: training on while process 1 is gone", flush=True)
model.fit(share(X, PID), share(Y, PID), batch_size=PER_PROCESS, epochs=50, verbose=0)
print("process 0: UNEXPECTED: training finished without process 1", flush=True)
