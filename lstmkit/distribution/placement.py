"""Where a model's arrays live under a distribution, and putting them there.

fit/evaluate/predict hand the training engine one `Placement` while a distribution is current;
the engine's steps pass their arguments through `place` before the jitted call, and `jax.jit`
propagates the shardings from there: parameters and optimizer state replicated or split as the
layouts say, metric state and random key replicated, each batch (and each carried stateful-RNN
state) split by rows over the mesh's batch axis. Arrays already where they belong are passed
through untouched, so after the first step nothing moves.

In a multi-process run every process feeds its own rows (`make_array_from_process_local_data`);
replicated values are taken from process 0 (`broadcast_one_to_all`), so processes whose random
initial weights differ still train one model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec

# Where the batch arguments start in each engine step, and their row axis (a
# steps_per_execution call stacks several batches on a leading axis).
_BATCH_ARGS = {"train": (5, 0), "train_steps": (5, 1), "test": (3, 0), "predict": (2, 0)}


def _placed(x: Any, sharding: NamedSharding) -> bool:
    current = getattr(x, "sharding", None)
    if current is None or isinstance(x, jax.core.Tracer):
        return False
    return current == sharding or current.is_equivalent_to(sharding, x.ndim)


def _fits(shape: Sequence[int], sharding: NamedSharding) -> bool:
    spec = tuple(sharding.spec)
    if len(spec) > len(shape):
        return False
    mesh = sharding.mesh.shape
    for dim, axes in zip(shape, spec):
        names = axes if isinstance(axes, tuple) else (axes,)
        size = int(np.prod([mesh[a] for a in names if a is not None]))
        if dim % size:
            return False
    return True


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


class Placement:
    """The shardings of one model's parameters and states under `distribution`.

    `param_shardings` / `state_shardings` are pytrees shaped like the model's params and state,
    holding `NamedSharding`s. `pad_predictions`: predict may pad a batch to a multiple of the
    data-parallel devices with copies of its last row (rows are independent in a stateless
    model; the loop keeps only the real rows).
    """

    def __init__(self, distribution: Any, param_shardings: Any, state_shardings: Any,
                 pad_predictions: bool):  # fmt: skip
        self.distribution = distribution
        self.mesh = distribution.device_mesh.backend_mesh
        self.batch_axis = distribution.batch_dim_name
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.param_shardings, self.state_shardings = param_shardings, state_shardings
        self.pad_predictions = pad_predictions
        self.multi_process = jax.process_count() > 1
        # How many row blocks this process feeds: the batch-axis positions of its devices.
        local = {d.id for d in jax.local_devices()}
        axis = list(self.mesh.axis_names).index(self.batch_axis)
        positions = {idx[axis] for idx, d in np.ndenumerate(self.mesh.devices) if d.id in local}
        self.split = max(len(positions), 1)
        self._opt_cache: dict = {}
        self.moved = 0  # how many arrays of the model side were put on the mesh (not batches)

    # ----- batches ------------------------------------------------------------------------------
    def check_batch_size(self, n: int, batch_size: int, what: str) -> None:
        """A clear error, before any step runs, if some batch of `n` samples in batches of
        `batch_size` cannot be split evenly over the data-parallel devices."""
        d, last = self.split, n % batch_size
        where = (
            f"the {d} devices of {type(self.distribution).__name__}'s mesh axis "
            f"'{self.batch_axis}'" + (" in this process" if self.multi_process else "")
        )
        if batch_size % d:
            raise ValueError(
                f"{what}: batch_size={batch_size} cannot be split evenly over {where}. Use a "
                f"batch_size that is a multiple of {d}: "
                f"{', '.join(str(d * k) for k in range(1, 5))}, ..."
            )
        if last % d:
            raise ValueError(
                f"{what}: the last batch of the {n} samples holds {last} samples (n % "
                f"batch_size), which cannot be split evenly over {where}. Give a number of "
                f"samples whose last batch is a multiple of {d} (e.g. {n - last + last // d * d}"
                f" or {n - last + batch_size} samples with batch_size={batch_size})."
            )

    def _data_sharding(self, ndim: int, axis: int) -> NamedSharding:
        spec = [None] * ndim
        spec[axis] = self.batch_axis
        return NamedSharding(self.mesh, PartitionSpec(*spec))

    def put_batch(self, arrays: Any, axis: int = 0) -> Any:
        """Each array split by rows (its `axis`) over the mesh's batch axis."""
        if arrays is None:
            return None
        out = []
        for a in arrays if isinstance(arrays, (list, tuple)) else [arrays]:
            rows = a.shape[axis]
            if rows % self.split:
                self.check_batch_size(rows, rows, "this batch")
            sharding = self._data_sharding(a.ndim, axis)
            if _placed(a, sharding):
                out.append(a)
            elif self.multi_process:
                out.append(jax.make_array_from_process_local_data(sharding, np.asarray(a)))
            else:
                out.append(jax.device_put(a, sharding))
        return out if isinstance(arrays, (list, tuple)) else out[0]

    def _pad(self, arrays: list) -> list:
        extra = -arrays[0].shape[0] % self.split
        if not extra or not self.pad_predictions:
            return arrays
        return [np.concatenate([np.asarray(a), np.repeat(np.asarray(a)[-1:], extra, 0)])
                for a in arrays]  # fmt: skip

    # ----- model arrays ---------------------------------------------------------------------------
    def _put_leaves(self, leaves: list, targets: list) -> list:
        """Put each leaf to its sharding; values from process 0 when several processes run."""
        todo = [i for i, (x, s) in enumerate(zip(leaves, targets)) if not _placed(x, s)]
        if not todo:
            return leaves
        leaves = list(leaves)
        self.moved += len(todo)
        if not self.multi_process:
            for i, value in zip(todo, jax.device_put([leaves[i] for i in todo],
                                                     [targets[i] for i in todo])):  # fmt: skip
                leaves[i] = value
            return leaves
        for i in todo:
            leaves[i] = self._global(leaves[i], targets[i])
        return leaves

    def _global(self, x: Any, sharding: NamedSharding) -> jax.Array:
        """A global array from this process's value: its own rows for a row-split state,
        else process 0's value (collective: every process calls it at the same point)."""
        spec = tuple(sharding.spec)
        if spec and spec[0] == self.batch_axis:
            return jax.make_array_from_process_local_data(sharding, np.asarray(x))
        if _is_key(x):
            data = self._global(jax.random.key_data(x), sharding)
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        host = np.asarray(multihost_utils.broadcast_one_to_all(np.asarray(x)))
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    def _opt_targets(self, opt_state: Any, mask: Any) -> list:
        """Optimizer state: each sub-tree shaped like the trainable parameters (Adam's moments,
        ...) laid out as they are; counts and other scalars replicated."""
        leaves, treedef = jax.tree.flatten(opt_state)
        targets = self._opt_cache.get(treedef)
        if targets is None:
            train = jax.tree.map(lambda s, m: s if m else None, self.param_shardings, mask)
            train_def = jax.tree.structure(train)

            def mirrors(sub: Any) -> bool:
                return jax.tree.structure(sub) == train_def

            layout = jax.tree.map(
                lambda sub: train if mirrors(sub) else self.replicated, opt_state,
                is_leaf=mirrors,
            )  # fmt: skip
            targets = jax.tree.leaves(layout)
            targets = [t if _fits(np.shape(x), t) else self.replicated
                       for x, t in zip(leaves, targets)]  # fmt: skip
            self._opt_cache[treedef] = targets
        return targets

    def _targets(self, which: str, tree: Any, mask: Any = None) -> list:
        if which == "params":
            return jax.tree.leaves(self.param_shardings)
        if which == "state":
            return jax.tree.leaves(self.state_shardings)
        if which == "opt_state":
            return self._opt_targets(tree, mask)
        return [self.replicated] * len(jax.tree.leaves(tree))

    def put(self, which: str, tree: Any, mask: Any = None) -> Any:
        """`tree` ("params", "state", "opt_state" or anything "replicated") on the mesh."""
        leaves, treedef = jax.tree.flatten(tree)
        targets = self._targets(which, tree, mask)
        return jax.tree.unflatten(treedef, self._put_leaves(leaves, targets))

    def constrain(self, which: str, tree: Any, mask: Any = None) -> Any:
        """Inside the jitted step: keep a result laid out as its argument was (else XLA may
        pick another layout for an output, e.g. split a bias next to a split kernel, and the
        next step would move it back)."""
        leaves, treedef = jax.tree.flatten(tree)
        targets = self._targets(which, tree, mask)
        return jax.tree.unflatten(
            treedef,
            [jax.lax.with_sharding_constraint(x, t) for x, t in zip(leaves, targets)],
        )

    # ----- the engine's steps ---------------------------------------------------------------------
    def place(self, kind: str, args: tuple, mask: Any) -> tuple:
        """A step's arguments on the mesh: (params, state, [opt_state,] [metric state,]
        [key,] batch arrays...)."""
        start, axis = _BATCH_ARGS[kind]
        args = list(args)
        if kind == "predict":
            args[2] = self._pad(args[2])
        batches = [self.put_batch(a, axis) for a in args[start:]]  # first: checks the rows
        args[0] = self.put("params", args[0])
        args[1] = self.put("state", args[1])
        if kind.startswith("train"):
            args[2] = self.put("opt_state", args[2], mask)
            args[3], args[4] = self.put("replicated", args[3]), self.put("replicated", args[4])
        elif kind == "test":
            args[2] = self.put("replicated", args[2])
        return (*args[:start], *batches)

    def local_outputs(self, ys: list) -> list:
        """Predictions as this process's own rows (its share of the global batch)."""
        if not self.multi_process:
            return ys
        return [multihost_utils.global_array_to_host_local_array(y, self.mesh,
                                                                 PartitionSpec(self.batch_axis))
                for y in ys]  # fmt: skip
