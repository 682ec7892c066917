"""keras.utils's registration names (the same objects as keras.saving's), as Keras 3 tutorials
write custom layers: `@keras.utils.register_keras_serializable()`."""

import keras
import numpy as np

import lstmkit

NAMES = ["CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
         "get_registered_object", "register_keras_serializable"]  # fmt: skip


def test_utils_and_saving_share_the_registry_as_in_keras(tmp_path):
    for name in NAMES:
        assert getattr(lstmkit.utils, name) is getattr(lstmkit.saving, name)
        assert getattr(keras.utils, name) is getattr(keras.saving, name)
    classes = {}
    for lib in (keras, lstmkit):

        @lib.utils.register_keras_serializable(package="tutorial")
        class Scale(lib.layers.Layer):
            def call(self, x):
                return 2.0 * x

        classes[lib] = Scale
    k_name = keras.utils.get_registered_name(classes[keras])
    assert lstmkit.utils.get_registered_name(classes[lstmkit]) == k_name == "tutorial>Scale"
    assert lstmkit.utils.get_registered_object(k_name) is classes[lstmkit]
    model = lstmkit.Sequential([lstmkit.Input((3,)), classes[lstmkit]()])
    model.save(tmp_path / "m.keras")
    loaded = lstmkit.models.load_model(tmp_path / "m.keras")  # found by its registered name
    np.testing.assert_allclose(loaded.predict(np.ones((1, 3)), verbose=0), 2.0)
