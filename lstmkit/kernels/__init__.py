"""Pure JAX math: functions of arrays, no objects with state."""

from lstmkit.kernels.runtime import configure

# Before any computation starts JAX's CPU backend (runtime.py says what and why).
configure()
