"""One registry serves get / serialize / deserialize for every concept, as Keras 3 names them."""

import keras
import pytest

import lstmkit
from lstmkit import registry

CASES = [  # (kind, a Keras name, the Keras 3 object it names)
    ("activations", "relu", None),
    ("initializers", "glorot_uniform", keras.initializers.GlorotUniform()),
    ("regularizers", "l2", keras.regularizers.L2()),
    ("constraints", "non_neg", keras.constraints.NonNeg()),
    ("losses", "MeanSquaredError", keras.losses.MeanSquaredError()),
    ("metrics", "MeanAbsoluteError", keras.metrics.MeanAbsoluteError()),
    ("optimizers", "adam", keras.optimizers.Adam()),
    ("schedules", "ExponentialDecay", None),
]


def test_every_concept_is_registered():
    assert registry.kinds() == sorted(kind for kind, _, _ in CASES)


@pytest.mark.parametrize("kind, name, theirs", CASES, ids=[c[0] for c in CASES])
def test_get_and_round_trip_like_keras(kind, name, theirs):
    if kind == "schedules":
        ours = registry.get(kind, {"class_name": name, "config": {"initial_learning_rate": 0.1,
                                   "decay_steps": 2, "decay_rate": 0.5}})  # fmt: skip
        theirs = keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    else:
        ours = registry.get(kind, name)
    assert ours is not None
    config = registry.serialize(kind, ours)
    if theirs is not None:
        keras_config = keras.saving.serialize_keras_object(theirs)
        assert config["class_name"] == keras_config["class_name"]
    back = registry.deserialize(kind, config)
    assert type(back) is type(ours) or back is ours
    assert registry.get(kind, ours) is ours  # an instance (or function) passes through


def test_public_modules_use_the_registry_and_errors_name_the_kind():
    assert lstmkit.losses.get("mse").name == "mse"
    assert isinstance(lstmkit.optimizers.get("Adam"), lstmkit.optimizers.Adam)
    with pytest.raises(ValueError, match="Unknown loss 'nope'. Known losses: .*mse"):
        lstmkit.losses.get("nope")
    with pytest.raises(ValueError, match="Unknown kind 'layers'"):
        registry.get("layers", "Dense")
