"""fit / evaluate / predict on generators, PyDatasets and re-iterable datasets: the model side.

The engine's `training.adapters.BatchSource` pulls raw batches; this module hands it the
`prepare` function that turns one into the model's arrays (inputs checked, integer inputs cast,
sparse labels checked, class weights applied) and checks the arguments Keras refuses with such
data (`y`, `sample_weight`, `validation_split`).
"""

from __future__ import annotations

from typing import Any

from lstmkit.models import training_setup as setup
from lstmkit.training.adapters import Batch, BatchSource, is_batch_source, split_batch
from lstmkit.training.trainer import Trainer

__all__ = ["is_batch_source", "source_for_training", "source_for_predict"]


def _refuse(what: str, **given: Any) -> None:
    for name, value in given.items():
        if value is not None and not (isinstance(value, (bool, float, int)) and not value):
            raise ValueError(
                f"{what}: `{name}` is not supported when `x` is a generator, PyDataset or "
                f"dataset: the batches carry their own targets and weights. Got {name}={value!r}."
            )


def _preparer(model: Any, what: str, class_weight: dict | None, with_targets: bool):
    def prepare(raw: Any) -> Batch:
        bx, by, bsw = split_batch(raw, what)
        xs = setup.prepare_x(model, bx)
        if not with_targets:
            return Batch(xs, None, None)
        if by is None:
            raise ValueError(
                f"{what}: a batch holds no targets; each batch must be `(inputs, targets)` or "
                "`(inputs, targets, sample_weights)`."
            )
        if class_weight is not None and bsw is not None:
            raise ValueError(
                f"{what}: you cannot specify `class_weight` and yield sample weights at the "
                "same time."
            )
        ys, _ = setup.prepare_y(model, by)
        return Batch(xs, ys, setup.sample_weights(ys, bsw, class_weight))

    return prepare


def source_for_training(
    model: Any,
    what: str,
    data: Any,
    *,
    steps: int | None,
    shuffle: bool = False,
    class_weight: dict | None = None,
    **refused: Any,
) -> tuple[BatchSource, Trainer]:
    """A source of (x, y, sample_weight) batches and the trainer for their target shapes."""
    setup.require_compiled(model, what)
    _refuse(what, **refused)
    source = BatchSource(
        data, _preparer(model, what, class_weight, True), steps_per_epoch=steps,
        shuffle=shuffle, what=what,
    )  # fmt: skip
    first = source.first()
    return source, setup.trainer_for(model, [a.shape for a in first.y])


def source_for_predict(model: Any, data: Any, steps: int | None) -> BatchSource:
    source = BatchSource(data, _preparer(model, "predict", None, False), steps_per_epoch=steps,
                         what="predict")  # fmt: skip
    source.first()  # builds a subclassed model from its first batch, as arrays do
    return source
