"""Native CPU kernels (C++ through jax.ffi, compiled on first use): see build.py and lstm.py."""

from lstmkit.kernels.native.build import available, set_enabled
from lstmkit.kernels.native.lstm import native_lstm, try_native_lstm

__all__ = ["available", "native_lstm", "set_enabled", "try_native_lstm"]
