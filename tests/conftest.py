"""Test setup shared by every test: real Keras (the oracle) runs on the JAX backend."""

import os

os.environ["KERAS_BACKEND"] = "jax"
