"""The training engine: one jitted pure step over the parameter pytree.

The model hands over pure functions and is never imported here:
  forward(params, state, xs, training, key)
      -> (outputs, output masks, new_state, extra loss, new_params)
  (extra loss: activity regularizers; new_params: weights a layer assigned inside `call`)
  penalty(params) -> scalar (weight regularizers), constrain(params) -> params
`params` is the model's nested parameter pytree and `mask` a pytree of bools beside it: training
differentiates and updates the True leaves (an Optax state over that part only); the False leaves
take their values from `new_params`. `metrics` holds, per output, (metric, weighted) pairs: as in
Keras 3 only `weighted_metrics` see sample weights; every metric and loss sees the output's mask.

One train step is `(params, state, opt_state, metric_state, key, xs, ys, sw) -> the same five,
and the loss`; `train_steps` runs several of them in one call through `lax.scan`
(`steps_per_execution`). With `jit=False` the same functions run op by op (`run_eagerly`).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lstmkit.distribution.placement import Placement
from lstmkit.kernels import precision
from lstmkit.metrics.core import Mean

# XLA options for the small programs that run once per fit or per epoch (the optimizer's and
# the metrics' fresh states, the metric results): their run time does not matter, and without
# LLVM's optimizations and with XLA's older CPU emitters each compiles ~4x faster (Adam's init
# for three layers: 0.11 -> 0.024 s of CPU).
ONE_OFF = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}


def _is_none(x: Any) -> bool:
    return x is None


def partition(tree: Any, mask: Any) -> tuple[Any, Any]:
    """(the True leaves, the False leaves) of `tree`, each with None where the other has values."""
    train = jax.tree.map(lambda p, m: p if m else None, tree, mask)
    frozen = jax.tree.map(lambda p, m: None if m else p, tree, mask)
    return train, frozen


def combine(train: Any, frozen: Any) -> Any:
    """The inverse of `partition`."""
    return jax.tree.map(lambda t, f: f if t is None else t, train, frozen, is_leaf=_is_none)


@functools.cache
def _host_is_device() -> bool:
    """Whether JAX computes on the host CPU: a step's logs are then read in place. After a
    train step has filled the caches, `jax.device_get` of one scalar took 60-80 us and
    `np.asarray` 15-20 (AMD Zen 5)."""
    return jax.default_backend() == "cpu"


class Trainer:
    def __init__(
        self,
        *,
        forward: Callable,
        penalty: Callable,
        constrain: Callable,
        mask: Any,
        tx: optax.GradientTransformation | None,
        losses: list,
        loss_weights: list[float],
        metrics: list[list],
        output_names: list[str],
        jit: bool = True,
    ):
        self.forward, self.penalty, self.constrain = forward, penalty, constrain
        self.mask, self.tx = mask, tx
        self.losses, self.loss_weights = losses, loss_weights
        self.metrics, self.output_names = metrics, output_names
        self.loss_tracker = Mean(name="loss")
        self.trace_counts: Counter = Counter()  # how often each step was traced (compiled)
        wrap = precision.jit if jit else precision.scoped  # exact float32 by default
        self.train_step = wrap(self._train_step)
        self.train_step_logs = wrap(self._train_step_logs)
        self.train_steps = wrap(self._train_steps)
        self.test_step = wrap(self._test_step)
        self._wrap = wrap
        self._leaf_steps: dict = {}  # (params' treedef, state's treedef) -> predict on leaves
        self.predict_step = self._predict_nested
        once = functools.partial(precision.jit, compiler_options=ONE_OFF) if jit else wrap
        self._result_fn = once(self._result_values)
        self._fresh_metric_state = once(self._fresh_metrics)  # one dispatch, not one per zero
        self._fresh: dict | None = None
        self._init_opt_state = once(self._init_opt)
        self.log_names = self._log_names()
        # lstmkit.distribution: while the model side sets a Placement here, each step's
        # arguments are put on its device mesh first and jit propagates their shardings.
        self.placement: Placement | None = None
        self.mask_key: tuple | None = None  # set by models/training_setup.trainer_for
        self.train_step = self._placed("train", self.train_step)
        self.train_step_logs = self._placed("train", self.train_step_logs)
        self.train_steps = self._placed("train_steps", self.train_steps)
        self.test_step = self._placed("test", self.test_step)
        self.predict_step = self._placed("predict", self.predict_step)

    def _placed(self, kind: str, step: Callable) -> Callable:
        def run(*args: Any) -> Any:
            if self.placement is None:
                return step(*args)
            out = step(*self.placement.place(kind, args, self.mask))
            if kind == "predict":  # this process's own rows (all rows in a single process)
                return self.placement.local_outputs(out[0]), out[1]
            return out

        return run

    def init_opt_state(self, params: Any) -> Any:
        return self._init_opt_state(params)

    def _init_opt(self, params: Any) -> Any:
        # Jitted as one program: run eagerly, Optax's zeros_like compiled a small program per
        # weight shape (8 for Adam on three layers, 0.1-0.3 s of CPU).
        return self.tx.init(partition(params, self.mask)[0])

    # ----- metric states --------------------------------------------------------------------------
    def fresh_metric_state(self) -> dict:
        # Made once and handed out again: its arrays are immutable and no step donates them, and
        # each train_on_batch paid a dispatch for it (60 us after a (32, 80, 128, 128) step).
        if self._fresh is None:
            self._fresh = self._fresh_metric_state()
        return self._fresh

    def _fresh_metrics(self) -> dict:
        return {
            "loss": self.loss_tracker.init(),
            "outputs": [[m.init() for m, _ in ms] for ms in self.metrics],
            "output_losses": [Mean().init() for _ in self.losses],
        }

    def _log_names(self) -> list[str]:
        """Keras's log names, in Keras's order."""
        multi = len(self.output_names) > 1
        names = ["loss"] + ([f"{n}_loss" for n in self.output_names] if multi else [])
        for name, ms in zip(self.output_names, self.metrics):
            names += [f"{name}_{m.name}" if multi else m.name for m, _ in ms]
        return names

    def _result_values(self, mstate: dict) -> list[jax.Array]:
        values = [self.loss_tracker.result(mstate["loss"])]
        if len(self.output_names) > 1:
            values += [Mean().result(st) for st in mstate["output_losses"]]
        for ms, sts in zip(self.metrics, mstate["outputs"]):
            values += [m.result(st) for (m, _), st in zip(ms, sts)]
        return values

    def results(self, mstate: dict) -> dict[str, jax.Array]:
        """The logs as device scalars (a list through jit: jax would sort a dict's keys)."""
        return dict(zip(self.log_names, self._result_fn(mstate)))

    def float_results(self, mstate: dict) -> dict[str, float]:
        return self.float_logs(self._result_fn(mstate))

    def float_logs(self, values: list) -> dict[str, float]:
        """The logs from their values (`_result_values`' list), fetched in one transfer."""
        if _host_is_device():  # no transfer to overlap: jax.device_get's setup is the cost
            return {k: float(np.asarray(v)) for k, v in zip(self.log_names, values)}
        return {k: float(v) for k, v in zip(self.log_names, jax.device_get(values))}

    # ----- the pure steps -----------------------------------------------------------------------
    def _losses(self, ys: list, masks: list, targets: list, sw: Any) -> tuple[jax.Array, list]:
        per_output = [
            loss(t, y, sample_weight=sw, mask=m)
            for loss, t, y, m in zip(self.losses, targets, ys, masks)
        ]
        total = sum(w * v for w, v in zip(self.loss_weights, per_output))
        return total, per_output

    def _update_metrics(self, mstate, ys, masks, targets, sw, loss, per_output, batch):
        return {
            "loss": self.loss_tracker.update(mstate["loss"], loss, batch),
            "output_losses": [
                Mean().update(s, v, batch) for s, v in zip(mstate["output_losses"], per_output)
            ],
            "outputs": [
                [
                    m.update(s, t, y, sample_weight=sw if weighted else None, mask=mask)
                    for (m, weighted), s in zip(ms, sts)
                ]
                for ms, sts, t, y, mask in zip(self.metrics, mstate["outputs"], targets, ys, masks)
            ],
        }

    def _train_step(self, params, state, opt_state, mstate, key, xs, ys_true, sw):
        """One optimizer step: -> (params, state, opt_state, mstate, key, loss)."""
        self.trace_counts["train"] += 1  # runs only while tracing
        if not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):  # utils.next_key_data()
            key = jax.random.wrap_key_data(key)
        key, step_key = jax.random.split(key)
        train, frozen = partition(params, self.mask)

        def loss_fn(train_part):
            full = combine(train_part, frozen)
            ys, masks, new_state, extra, new_params = self.forward(full, state, xs, True, step_key)
            total, per_output = self._losses(ys, masks, ys_true, sw)
            loss = total + extra + self.penalty(full)
            return loss, (ys, masks, new_state, per_output, new_params)

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(train)
        ys, masks, new_state, per_output, new_params = aux
        updates, opt_state = self.tx.update(grads, opt_state, train)
        train = optax.apply_updates(train, updates)
        # Keras constrains the trained variables; a frozen one keeps what `call` assigned.
        train = partition(self.constrain(combine(train, frozen)), self.mask)[0]
        params = combine(train, partition(new_params, self.mask)[1])
        batch = jnp.asarray(xs[0].shape[0], jnp.float32)
        mstate = self._update_metrics(mstate, ys, masks, ys_true, sw, loss, per_output, batch)
        if self.placement is not None:  # the results keep the layouts the arguments had
            params = self.placement.constrain("params", params)
            new_state = self.placement.constrain("state", new_state)
            opt_state = self.placement.constrain("opt_state", opt_state, self.mask)
            mstate, key = self.placement.constrain("replicated", (mstate, key))
        return params, new_state, opt_state, mstate, key, loss

    def _train_step_logs(self, *args: Any) -> tuple:
        """train_on_batch's step: `_train_step`'s results and the logs' values after it, in one
        program (as two calls, the logs' dispatch cost 0.1-0.2 ms after a (32, 80, 128, 128)
        LSTM step)."""
        out = self._train_step(*args)
        return (*out, self._result_values(out[3]))

    def _train_steps(self, params, state, opt_state, mstate, key, xs, ys_true, sw):
        """Several steps in one call: xs, ys_true, sw carry a leading axis of steps."""

        def body(carry, batch):
            out = self._train_step(*carry, *batch)
            return out[:5], out[5]

        carry, losses = jax.lax.scan(
            body, (params, state, opt_state, mstate, key), (xs, ys_true, sw)
        )
        return (*carry, losses[-1])

    def _test_step(self, params, state, mstate, xs, ys_true, sw):
        self.trace_counts["test"] += 1
        ys, masks, new_state, extra, _ = self.forward(params, state, xs, False, None)
        total, per_output = self._losses(ys, masks, ys_true, sw)
        loss = total + extra + self.penalty(params)
        batch = jnp.asarray(xs[0].shape[0], jnp.float32)
        mstate = self._update_metrics(mstate, ys, masks, ys_true, sw, loss, per_output, batch)
        if self.placement is not None:
            new_state = self.placement.constrain("state", new_state)
        return new_state, mstate

    def predict_on_leaves(self, params_def: Any, state_def: Any) -> Callable:
        """The predict step over the leaves of params and state of these tree structures:
        `(param leaves, state leaves, xs) -> (ys, new state)`, compiled once per structure.
        `predict_step` runs through it, and models/quick_predict calls it with leaves read from
        the layers directly, without building the nested dicts (a `predict_on_batch` of LSTM(1)
        took 56-60 us, now 48-50): both share one compiled program."""
        step = self._leaf_steps.get((params_def, state_def))
        if step is None:

            def on_leaves(param_leaves, state_leaves, xs):
                params = jax.tree.unflatten(params_def, param_leaves)
                return self._predict_step(params, jax.tree.unflatten(state_def, state_leaves), xs)

            step = self._leaf_steps[(params_def, state_def)] = self._wrap(on_leaves)
        return step

    def _predict_nested(self, params, state, xs):
        param_leaves, params_def = jax.tree.flatten(params)
        state_leaves, state_def = jax.tree.flatten(state)
        return self.predict_on_leaves(params_def, state_def)(param_leaves, state_leaves, xs)

    def _predict_step(self, params, state, xs):
        self.trace_counts["predict"] += 1
        ys, _, new_state, _, _ = self.forward(params, state, xs, False, None)
        if self.placement is not None:
            new_state = self.placement.constrain("state", new_state)
        return ys, new_state
