"""Pure JAX math: functions of arrays, no objects with state."""
