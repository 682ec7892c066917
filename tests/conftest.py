"""Test setup shared by every test: real Keras (the oracle) runs on the JAX backend."""

import os

os.environ["KERAS_BACKEND"] = "jax"

# XLA's quicker compilation for the tests (before JAX starts: XLA reads the flags once): LLVM's
# optimizations off and the older CPU emitters. Compiling, not running, takes most of the suite's
# time (a few small programs per test), and these two options took tests/models from 159 s to
# 66 s on two cores (AMD Zen 3). The programs compute the same operations (a reduction may sum
# in another order: the last bits, within every test's tolerance), and every golden value comes
# from Keras run in the same process, from float64 NumPy, PyTorch or ONNX Runtime, never from a
# program compiled here. The native kernels are compiled by g++ as always. The benchmarks
# (bench/) and users run XLA's defaults; LSTMKIT_TEST_XLA_DEFAULTS=1 runs the tests with them.
if os.environ.get("LSTMKIT_TEST_XLA_DEFAULTS") != "1":
    quick = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
    os.environ["XLA_FLAGS"] = f"{quick} {os.environ.get('XLA_FLAGS', '')}".strip()
