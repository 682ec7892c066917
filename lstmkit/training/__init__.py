"""Training: the jitted step and fit loop, optimizers, losses, metrics, callbacks, progress bar.

Losses and metrics here are pure JAX: a loss is a function of arrays, a metric is an
`init` / `update` / `result` triple whose state is a pytree carried through `jax.jit`.
"""
