"""Saving and interop: Keras files, PyTorch weights."""

from lstmkit.saving.keras_format import load_model, load_weights, save_model, save_weights
from lstmkit.saving.torch_format import from_torch, to_torch

__all__ = ["from_torch", "load_model", "load_weights", "save_model", "save_weights", "to_torch"]
