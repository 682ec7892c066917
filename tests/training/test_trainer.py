"""The engine alone: one pure step over a parameter pytree with a trainable mask (a float64
NumPy reference), the scanned multi-step call, and lazy logs in CallbackList."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lstmkit import callbacks as lc
from lstmkit.losses import MeanSquaredError
from lstmkit.training.trainer import Trainer, combine, partition


def toy_trainer(jit=True):
    """y = x @ w + b; `calls` is a frozen leaf the forward assigns (counts training calls);
    `frozen_w` is frozen and must not move."""

    def forward(params, state, xs, training, key):
        y = xs[0] @ params["w"] + params["inner"]["b"] + 0.0 * params["inner"]["frozen_w"]
        new_params = {**params, "calls": params["calls"] + 1.0}
        return [y], [None], state, jnp.zeros(()), new_params

    params = {
        "w": jnp.asarray([[0.5], [-1.0]], jnp.float32),
        "calls": jnp.zeros((), jnp.float32),
        "inner": {"b": jnp.asarray([0.1], jnp.float32), "frozen_w": jnp.ones((2,), jnp.float32)},
    }
    mask = {"w": True, "calls": False, "inner": {"b": True, "frozen_w": False}}
    trainer = Trainer(
        forward=forward,
        penalty=lambda p: jnp.zeros(()),
        constrain=lambda p: p,
        mask=mask,
        tx=optax.sgd(0.1),
        losses=[MeanSquaredError()],
        loss_weights=[1.0],
        metrics=[[]],
        output_names=["out"],
        jit=jit,
    )
    return trainer, params


def reference_step(w, b, x, y, lr=0.1):
    """float64: one SGD step on the mean squared error."""
    w, b, x, y = (np.asarray(a, np.float64) for a in (w, b, x, y))
    err = x @ w + b - y  # (batch, 1)
    gw, gb = 2 * x.T @ err / len(x), 2 * err.mean(axis=0)
    return w - lr * gw, b - lr * gb


def test_partition_and_combine_are_inverse():
    _, params = toy_trainer()
    mask = {"w": True, "calls": False, "inner": {"b": True, "frozen_w": False}}
    train, frozen = partition(params, mask)
    assert train["calls"] is None and frozen["w"] is None
    back = combine(train, frozen)
    assert set(back) == set(params) and back["inner"]["frozen_w"] is params["inner"]["frozen_w"]


def test_step_trains_the_mask_and_takes_assigned_frozen_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2)).astype("float32")
    y = rng.normal(size=(4, 1)).astype("float32")
    for jit in (True, False):
        trainer, params = toy_trainer(jit)
        opt_state = trainer.init_opt_state(params)
        mstate = trainer.fresh_metric_state()
        key = jax.random.key(0)
        p, s, opt_state, mstate, key, loss = trainer.train_step(
            params, {}, opt_state, mstate, key, [x], [y], None
        )
        w, b = reference_step(params["w"], params["inner"]["b"], x, y)
        np.testing.assert_allclose(p["w"], w, rtol=1e-5)
        np.testing.assert_allclose(p["inner"]["b"], b, rtol=1e-5)
        assert float(p["calls"]) == 1.0  # a frozen leaf takes what the call assigned
        np.testing.assert_array_equal(p["inner"]["frozen_w"], params["inner"]["frozen_w"])
        assert list(trainer.results(mstate)) == ["loss"]


def test_scanned_steps_equal_single_steps():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 2)).astype("float32")  # (steps, batch, features)
    y = rng.normal(size=(3, 4, 1)).astype("float32")
    trainer, params = toy_trainer()
    carry = (params, {}, trainer.init_opt_state(params), trainer.fresh_metric_state(),
             jax.random.key(0))  # fmt: skip
    single = carry
    for i in range(3):
        *single, _ = trainer.train_step(*single, [x[i]], [y[i]], None)
    *scanned, _ = trainer.train_steps(*carry, [x], [y], None)
    for a, b in zip(jax.tree.leaves(single[:4]), jax.tree.leaves(scanned[:4])):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert float(scanned[0]["calls"]) == 3.0


def test_callback_list_reads_lazy_logs_only_for_callbacks_that_use_them():
    reads = []

    def logs():
        reads.append(1)
        return {"loss": jnp.asarray(0.5)}

    class Quiet(lc.Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    cbs = lc.CallbackList([Quiet()], add_history=True)
    for step in range(5):
        cbs.on_train_batch_end(step, logs)
    assert reads == []  # nothing overrides a batch hook: the device is never read

    seen = []

    class Reader(lc.Callback):
        def on_batch_end(self, batch, logs=None):  # the legacy alias counts too
            seen.append(logs)

    cbs = lc.CallbackList([Quiet(), Reader(), Reader()])
    cbs.on_train_batch_end(0, logs)
    assert len(reads) == 1  # read once, shared
    assert seen[0] == {"loss": 0.5} and isinstance(seen[0]["loss"], float)


def test_progress_bar_reads_logs_only_when_it_redraws():
    import io

    reads = []

    def logs():
        reads.append(1)
        return {"loss": jnp.asarray(0.25)}

    class Clock:
        t = 100.0

        def __call__(self):
            return self.t

    clock = Clock()
    bar = lc.ProgbarLogger(clock=clock, stream=io.StringIO(), dynamic_display=True)
    cbs = lc.CallbackList([bar], verbose=1, epochs=1, steps=50)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    for step in range(40):  # 40 steps within the same 0.05 s: one redraw (the first)
        cbs.on_train_batch_end(step, logs)
    assert len(reads) == 1
    clock.t += 0.06
    cbs.on_train_batch_end(40, logs)
    assert len(reads) == 2
