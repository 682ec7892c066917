"""The training engine, handed pure functions by the model (it never imports models):
`trainer` (one jitted pure step over the parameter pytree), `loop` (fit / evaluate / predict
loops with callbacks), `data` (arrays to batches, Keras's epoch iteration)."""
