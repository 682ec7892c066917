"""Shared by the export tests: random weights, an ONNX Runtime session, the comparison."""

from __future__ import annotations

import jax
import numpy as np
import onnx
import onnxruntime as ort

from lstmkit.export import build_onnx

TOL = 1e-5  # absolute, and relative for the few outputs far above 1 (linear activations)


def randomize(model, seed: int = 0, scale: float = 0.5) -> None:
    """Random normal weights everywhere (biases too: Keras initialises them to zeros)."""
    rng = np.random.default_rng(seed)
    model.set_weights([scale * rng.normal(size=np.shape(w)).astype("float32")
                       for w in model.get_weights()])  # fmt: skip


def session(model, **kwargs) -> ort.InferenceSession:
    """The exported model, checked by onnx.checker, in an ONNX Runtime CPU session."""
    proto = build_onnx(model, **kwargs)
    onnx.checker.check_model(proto, full_check=True)
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def run(sess: ort.InferenceSession, *inputs) -> list[np.ndarray]:
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, inputs)))


def predict(model, *inputs) -> list[np.ndarray]:
    """lstmkit's outputs (its own call), flat: computed once, compared with several sessions."""
    want = model(list(inputs) if len(inputs) > 1 else inputs[0])
    return [np.asarray(w) for w in jax.tree_util.tree_leaves(want)]  # nested states: flat


def assert_matches(sess, model, *inputs, want=None) -> None:
    """ONNX Runtime's outputs equal lstmkit's (its own call on the same inputs) within TOL."""
    want = predict(model, *inputs) if want is None else want
    got = run(sess, *inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=TOL, atol=TOL)
