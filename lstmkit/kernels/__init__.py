"""Pure JAX math: functions of arrays, no objects with state."""

from lstmkit.kernels.dispatch import run_cpu_computations_inline

# Before any computation starts JAX's CPU backend (dispatch.py says why).
run_cpu_computations_inline()
