"""Saving and interop: Keras files, PyTorch weights."""

from lstmkit.saving.torch_format import from_torch, to_torch

__all__ = ["from_torch", "to_torch"]
