"""Run in a subprocess with 4 simulated CPU devices (XLA_FLAGS must be set before JAX starts):
several checks of lstmkit.distribution against one-device runs, printed as one JSON object.

Usage: python four_devices.py OUTDIR   (OUTDIR receives the .keras files it writes)
"""

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"

import io  # noqa: E402
import json  # noqa: E402
import zipfile  # noqa: E402

import h5py  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit import distribution as dl  # noqa: E402

OUT = sys.argv[1]
results: dict = {"devices": dl.list_devices()}
rng = np.random.default_rng(0)
X = rng.normal(size=(32, 5, 3)).astype("float32")
Y = np.stack([X[:, :, 0].sum(1), X[:, -1, 1]], 1).astype("float32")


def max_diff(a, b):
    return float(max(np.abs(u - v).max() for u, v in zip(a, b)))


def spec(array):
    return [None if s is None else str(s) for s in array.sharding.spec]


def leaves(tree):
    return jax.tree.leaves(tree)


def pair(build):
    """Two copies of one model with the same initial weights, compiled alike."""
    a, b = build(), build()
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(lstmkit.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return a, b


def stateless():
    return lstmkit.Sequential(
        [lstmkit.Input((5, 3)), lstmkit.layers.LSTM(4), lstmkit.layers.Dense(2)]
    )


def stateful():
    return lstmkit.Sequential(
        [
            lstmkit.Input((5, 3), batch_size=8),
            lstmkit.layers.LSTM(4, stateful=True),
            lstmkit.layers.Dense(2),
        ]
    )


# 1. DataParallel, stateless: 2 epochs of Adam, then evaluate and predict (7 rows: padded).
one, dp = pair(stateless)
w0 = one.get_weights()
one.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
data_parallel = dl.DataParallel()
with data_parallel.scope():
    dp.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    trainer = dp._trainer_cache[1]
    # what was put on the mesh: everything once, and each epoch's fresh metric state
    expected_moves = (
        len(leaves(dp.params)) + len(leaves(dp.optimizer.opt_state)) + 1
        + 2 * len(leaves(trainer.fresh_metric_state()))
    )  # fmt: skip
    moves = trainer.placement.moved
    batch = trainer.placement.put_batch([X[:8]])[0]
    results["dp"] = {
        "weights_diff": max_diff(one.get_weights(), dp.get_weights()),
        "moved": max_diff(one.get_weights(), w0),
        "param_devices": len(leaves(dp.params)[0].sharding.device_set),
        "param_replicated": all(p.sharding.is_fully_replicated for p in leaves(dp.params)),
        "opt_replicated": all(
            p.sharding.is_fully_replicated for p in leaves(dp.optimizer.opt_state)
        ),
        "batch_spec": spec(batch),
        "batch_shard_rows": [s.data.shape[0] for s in batch.addressable_shards],
        "train_traces": trainer.trace_counts["train"],
        "moves": [moves, expected_moves],
        "evaluate_diff": max_diff(
            dp.evaluate(X, Y, batch_size=8, verbose=0), one.evaluate(X, Y, batch_size=8, verbose=0)
        ),
        "predict_diff": float(
            np.abs(dp.predict(X[:7], verbose=0) - one.predict(X[:7], verbose=0)).max()
        ),
    }
    # 3. batches that cannot be split over 4 devices
    errors = []
    for kwargs in ({"batch_size": 6}, {"batch_size": 8, "n": 30}):
        n = kwargs.pop("n", 32)
        try:
            dp.fit(X[:n], Y[:n], epochs=1, verbose=0, **kwargs)
            errors.append(None)
        except ValueError as e:
            errors.append(str(e))
    try:
        dp.fit(X, Y, batch_size=8, epochs=1, validation_data=(X[:6], Y[:6]), verbose=0)
        errors.append(None)
    except ValueError as e:
        errors.append(str(e))
    results["divisibility_errors"] = errors
    # validation inside fit runs on the mesh too: its loss is evaluate's on the final weights
    history = dp.fit(X, Y, batch_size=8, epochs=1, validation_data=(X[:16], Y[:16]), verbose=0)
    results["validation"] = [
        history.history["val_loss"][-1],
        dp.evaluate(X[:16], Y[:16], batch_size=8, verbose=0)[0],
    ]
    # 5. saving under the distribution: the same file as one device
    dp.save(os.path.join(OUT, "dp.keras"))
# the same model, its arrays brought back to one device, saved without a distribution
dp.set_weights(dp.get_weights())
dp.optimizer.opt_state = jax.tree.map(jax.numpy.asarray, jax.device_get(dp.optimizer.opt_state))
dp.save(os.path.join(OUT, "one.keras"))


def h5_items(path):
    out = {}
    with (
        zipfile.ZipFile(path) as zf,
        h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as f,
    ):
        f.visititems(
            lambda name, obj: (
                out.__setitem__(name, np.asarray(obj).tolist())
                if isinstance(obj, h5py.Dataset)
                else None
            )
        )
    return out


a_items, b_items = h5_items(os.path.join(OUT, "dp.keras")), h5_items(os.path.join(OUT, "one.keras"))
results["save"] = {
    "same_names": sorted(a_items) == sorted(b_items),
    "n_datasets": len(a_items),
    "same_values": all(a_items[k] == b_items.get(k) for k in a_items),
    "same_config": zipfile.ZipFile(os.path.join(OUT, "dp.keras")).read("config.json")
    == zipfile.ZipFile(os.path.join(OUT, "one.keras")).read("config.json"),
}


# steps_per_execution=2: two batches per call, split along their second (row) axis
def dense():
    return lstmkit.Sequential(
        [lstmkit.Input((5, 3)), lstmkit.layers.Flatten(), lstmkit.layers.Dense(2)]
    )


one_d, dp_d = pair(dense)
for m in (one_d, dp_d):
    m.compile(lstmkit.optimizers.Adam(0.01), "mse", steps_per_execution=2)
one_d.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
with data_parallel.scope():
    dp_d.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
results["steps_per_execution"] = {
    "weights_diff": max_diff(one_d.get_weights(), dp_d.get_weights()),
    "traces": dp_d._trainer_cache[1].trace_counts["train"],
}

# 2. DataParallel, stateful: states split by batch row; reset_states between epochs.
one_s, dp_s = pair(stateful)
for _ in range(2):
    one_s.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    one_s.reset_states()
with dl.DataParallel(devices=dl.list_devices()).scope():
    states_spec = None
    for _ in range(2):
        dp_s.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        states_spec = states_spec or [spec(s) for s in leaves(dp_s.state)]
        dp_s.reset_states()
    reset_zero = all(float(np.abs(np.asarray(s)).max()) == 0.0 for s in leaves(dp_s.state))
    pred_s = dp_s.predict(X[:8], verbose=0)
results["stateful"] = {
    "weights_diff": max_diff(one_s.get_weights(), dp_s.get_weights()),
    "state_spec": states_spec,
    "reset_zero": reset_zero,
    "predict_diff": float(np.abs(pred_s - one_s.predict(X[:8], verbose=0)).max()),
}

# 4. ModelParallel on a 2x2 mesh: every kernel split over "model" columns.
one_m, mp = pair(stateless)
one_m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
mesh = dl.DeviceMesh((2, 2), ["batch", "model"], dl.list_devices())
layout_map = dl.LayoutMap(mesh)
layout_map[".*kernel"] = (None, "model")
model_parallel = dl.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
with model_parallel.scope():
    mp.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    kernel = mp.layers[0].params["cell"]["kernel"]
    mp_trainer = mp._trainer_cache[1]
    mp_moves = [
        mp_trainer.placement.moved,
        len(leaves(mp.params)) + len(leaves(mp.optimizer.opt_state)) + 1
        + 2 * len(leaves(mp_trainer.fresh_metric_state())),
    ]  # fmt: skip
    loaded = lstmkit.models.load_model(os.path.join(OUT, "dp.keras"))
    loaded_kernel = loaded.layers[0].params["cell"]["kernel"]
results["mp"] = {
    "weights_diff": max_diff(one_m.get_weights(), mp.get_weights()),
    "moved": max_diff(one_m.get_weights(), mp.get_weights()) < max_diff(one_m.get_weights(), w0),
    "kernel_spec": spec(kernel),
    "kernel_shard_shape": list(kernel.addressable_shards[0].data.shape),
    "bias_replicated": mp.layers[0].params["cell"]["bias"].sharding.is_fully_replicated,
    "train_traces": mp_trainer.trace_counts["train"],
    "moves": mp_moves,
    "loaded_kernel_spec": spec(loaded_kernel),
    "loaded_equal": max_diff(loaded.get_weights(), dp.get_weights()),
}
print("RESULTS " + json.dumps(results))
