"""The training engine: jitted pure steps over flat parameter lists, and the loops around them.

The model hands over pure functions and never the other way round:
  forward(leaves, state, xs, training, key)
      -> (outputs, output masks, new_state, extra loss, new_params)
  (the extra loss: activity regularizers, added to the training loss)
  penalty(leaves) -> scalar (weight regularizers), constrain(leaves) -> leaves
`leaves` is the model's weights in Keras order; `trainable` flags which of them training changes.
`metrics` holds, per output, (metric, weighted) pairs: as in Keras 3, only `weighted_metrics`
see sample weights; every metric and loss sees the output's mask.
Forward, loss, gradient and optimizer update run as one jitted function per batch shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lstmkit.training.metrics import Mean


class Trainer:
    def __init__(
        self,
        *,
        forward: Callable,
        penalty: Callable,
        constrain: Callable,
        trainable: list[bool],
        optimizer: Any,
        losses: list,
        loss_weights: list[float],
        metrics: list[list],
        output_names: list[str],
    ):
        self.forward, self.penalty, self.constrain = forward, penalty, constrain
        self.trainable = list(trainable)
        self.optimizer = optimizer
        self.tx = optimizer.to_optax() if optimizer is not None else None
        self.losses, self.loss_weights = losses, loss_weights
        self.metrics, self.output_names = metrics, output_names
        self.loss_tracker = Mean(name="loss")
        self.opt_state = None
        self.trace_counts: Counter = Counter()  # how often each step was traced (compiled)
        self._train = jax.jit(self._train_step)
        self._test = jax.jit(self._test_step)
        self._predict = jax.jit(self._predict_step)

    # ----- parameters split into the part training changes and the rest ------------------------
    def split(self, leaves: list) -> tuple[list, list]:
        return (
            [w for w, t in zip(leaves, self.trainable) if t],
            [w for w, t in zip(leaves, self.trainable) if not t],
        )

    def merge(self, train: list, frozen: list) -> list:
        it_t, it_f = iter(train), iter(frozen)
        return [next(it_t) if t else next(it_f) for t in self.trainable]

    def init_optimizer(self, leaves: list) -> None:
        if self.opt_state is None:
            self.opt_state = self.tx.init(self.split(leaves)[0])

    # ----- metric states --------------------------------------------------------------------------
    def fresh_metric_state(self) -> dict:
        return {
            "loss": self.loss_tracker.init(),
            "outputs": [[m.init() for m, _ in ms] for ms in self.metrics],
            "output_losses": [Mean().init() for _ in self.losses],
        }

    def results(self, mstate: dict) -> dict[str, float]:
        logs = {"loss": float(self.loss_tracker.result(mstate["loss"]))}
        multi = len(self.output_names) > 1
        if multi:
            for name, st in zip(self.output_names, mstate["output_losses"]):
                logs[f"{name}_loss"] = float(Mean().result(st))
        for name, ms, sts in zip(self.output_names, self.metrics, mstate["outputs"]):
            for (m, _), st in zip(ms, sts):
                logs[f"{name}_{m.name}" if multi else m.name] = float(m.result(st))
        return logs

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

    def _train_step(self, train, frozen, opt_state, state, mstate, xs, ys_true, sw, key):
        self.trace_counts["train"] += 1  # runs only while tracing

        def loss_fn(train_leaves):
            leaves = self.merge(train_leaves, frozen)
            ys, masks, new_state, extra, _ = self.forward(leaves, state, xs, True, key)
            total, per_output = self._losses(ys, masks, ys_true, sw)
            return total + extra + self.penalty(leaves), (ys, masks, new_state, per_output)

        (loss, (ys, masks, new_state, per_output)), grads = jax.value_and_grad(
            loss_fn, has_aux=True
        )(train)
        updates, opt_state = self.tx.update(grads, opt_state, train)
        train = optax.apply_updates(train, updates)
        leaves = self.constrain(self.merge(train, frozen))
        train = self.split(leaves)[0]
        batch = jnp.asarray(xs[0].shape[0], jnp.float32)
        mstate = self._update_metrics(mstate, ys, masks, ys_true, sw, loss, per_output, batch)
        return train, opt_state, new_state, mstate, loss

    def _test_step(self, leaves, state, mstate, xs, ys_true, sw):
        self.trace_counts["test"] += 1
        ys, masks, new_state, extra, _ = self.forward(leaves, state, xs, False, None)
        total, per_output = self._losses(ys, masks, ys_true, sw)
        loss = total + extra + self.penalty(leaves)
        batch = jnp.asarray(xs[0].shape[0], jnp.float32)
        mstate = self._update_metrics(mstate, ys, masks, ys_true, sw, loss, per_output, batch)
        return new_state, mstate

    def _predict_step(self, leaves, state, xs):
        self.trace_counts["predict"] += 1
        ys, _, new_state, _, _ = self.forward(leaves, state, xs, False, None)
        return ys, new_state

    # ----- one batch -----------------------------------------------------------------------------
    def train_batch(self, leaves, state, mstate, xs, ys, sw, key):
        """One optimizer step; returns (leaves, state, mstate, loss)."""
        self.init_optimizer(leaves)
        self.opt_state = self.optimizer.sync_lr(self.opt_state)
        train, frozen = self.split(leaves)
        train, opt_state, state, mstate, loss = self._train(
            train, frozen, self.opt_state, state, mstate, xs, ys, sw, key
        )
        self.opt_state = opt_state
        return self.merge(train, frozen), state, mstate, loss

    def test_batch(self, leaves, state, mstate, xs, ys, sw):
        return self._test(leaves, state, mstate, xs, ys, sw)

    def predict_batch(self, leaves, state, xs):
        return self._predict(leaves, state, xs)

    def iterations(self) -> int:
        from lstmkit.training.optimizer_base import get_iterations

        return 0 if self.opt_state is None else int(get_iterations(self.opt_state))


def to_device(arrays: list[np.ndarray] | None) -> list | None:
    return None if arrays is None else [jnp.asarray(a) for a in arrays]
