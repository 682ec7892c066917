"""The model's side of `optimizer.variables` / `build` / `set_weights`.

An optimizer sits below models and cannot see the model it trains; `compile` hands it an
`OptimizerLink`, through which it builds its state for the model's trainable parameters and lists
its slots as Keras names and orders them. Keras's order lives in `lstmkit.saving` (the .keras
file stores the same list), found through the registry of `models/files.py`.
"""

from __future__ import annotations

import weakref
from typing import Any

from lstmkit.models import training_setup
from lstmkit.models.files import file_function


class OptimizerLink:
    """What `model.optimizer` asks of the model it was compiled with (held weakly)."""

    def __init__(self, model: Any):
        self._model = weakref.ref(model)

    def model(self) -> Any:
        model = self._model()
        if model is None:
            raise RuntimeError("The model this optimizer was compiled with no longer exists.")
        return model

    def weight_shapes(self) -> list[tuple]:
        return [tuple(w.shape) for w in self.model().trainable_weights]

    def build(self) -> None:
        model = self.model()
        training_setup.ensure_opt_state(model, training_setup.trainer_for(model))

    def slot_variables(self) -> list:
        return file_function("optimizer_slot_variables")(self.model())

    def set_weights(self, values: list) -> None:
        file_function("optimizer_set_weights")(self.model(), values)
