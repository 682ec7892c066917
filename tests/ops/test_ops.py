"""`lstmkit.ops` against real `keras.ops` (JAX backend): names, signatures, values and dtypes.

Every exported name must exist in `keras.ops` (and in the matching `keras.ops.numpy` / `nn` /
`linalg` submodule) with the same parameters, so the namespace cannot drift. Every op is run on
random inputs of several dtypes, as numpy arrays, JAX arrays and `__jax_array__` objects
(Keras gets the plain arrays), and must give Keras's values (1e-6), dtypes and shapes, or raise
where Keras raises.
"""

import inspect
import os

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lstmkit import ops  # noqa: E402
from tests.ops.cases import CASES  # noqa: E402


class Wrapped:
    """A stand-in for a layer's `Variable`: only `__jax_array__`."""

    def __init__(self, value):
        self.value = jnp.asarray(value)

    def __jax_array__(self):
        return self.value


def _public(module):
    """The functions a submodule exports (its `__all__`, or the ones it defines)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, f in vars(module).items()
            if callable(f) and getattr(f, "__module__", "") == module.__name__ and n[0] != "_"
        ]
    return [n for n in names if not inspect.ismodule(getattr(module, n))]


SUBMODULES = [
    (ops, keras.ops),
    (ops.numpy, keras.ops.numpy),
    (ops.nn, keras.ops.nn),
    (ops.linalg, keras.ops.linalg),
]
EXPORTED = [(mine.__name__, name) for mine, _ in SUBMODULES for name in _public(mine)]


@pytest.mark.parametrize("module, name", EXPORTED)
def test_name_and_signature_match_keras(module, name):
    mine = dict(SUBMODULES)[__import__(module, fromlist=["_"])]
    theirs = getattr(mine, name, None)
    assert theirs is not None, f"{module}.{name} is not in Keras's namespace"
    ours = getattr(__import__(module, fromlist=["_"]), name)
    ours_params = [(p.name, p.kind, p.default) for p in inspect.signature(ours).parameters.values()]
    theirs_params = [
        (p.name, p.kind, p.default) for p in inspect.signature(theirs).parameters.values()
    ]
    assert ours_params == theirs_params


def test_every_public_name_is_exported():
    """Nothing public hides outside `__all__` (and so outside the signature check)."""
    public = {
        n for n in dir(ops) if not n.startswith("_") and not inspect.ismodule(getattr(ops, n))
    }
    assert public <= set(ops.__all__)
    assert {"numpy", "nn", "linalg"} <= set(ops.__all__)


def test_every_exported_op_is_exercised():
    tested = {case.name for case in CASES}
    untested = {n for _, n in EXPORTED} - tested - {"convert_to_numpy", "is_tensor", "shape"}
    assert not untested, f"no value test for {sorted(untested)}"


def _same(ours, theirs, where=""):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, f"{where}[{i}]")
        return
    if isinstance(theirs, (int, float, bool, str)) and not hasattr(theirs, "dtype"):
        assert ours == theirs, where
        return
    a, b = np.asarray(ours), np.asarray(theirs)
    assert a.dtype == b.dtype, f"{where} dtype {a.dtype} != Keras's {b.dtype}"
    assert a.shape == b.shape, f"{where} shape {a.shape} != Keras's {b.shape}"
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        np.testing.assert_allclose(
            a.astype(np.float64), b.astype(np.float64), rtol=1e-6, atol=1e-6, err_msg=where
        )


def _convert(value, how):
    """Array arguments as numpy (as built), as JAX arrays, or wrapped in `__jax_array__`."""
    if isinstance(value, np.ndarray):
        return {"numpy": value, "jax": jnp.asarray(value), "wrapped": Wrapped(value)}[how]
    if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
        return [_convert(v, how) for v in value]
    return value


def _variants():
    """Every case with numpy inputs; the first case of each op also as JAX and wrapped inputs."""
    seen, out = set(), []
    for case in CASES:
        # float16 and bool variants mostly repeat the float32/int32 code paths (each new dtype
        # costs an XLA compile per op); they run with `-m slow`
        sweep = ("f16", "float16", "bool")
        slow = [pytest.mark.slow] if any(t in case.tag for t in sweep) else []
        out.append(pytest.param(case, "numpy", id=f"{case.id}-numpy", marks=slow))
        if case.arrays_in and case.name not in seen:
            seen.add(case.name)
            out += [pytest.param(case, how, id=f"{case.id}-{how}") for how in ("jax", "wrapped")]
    return out


@pytest.mark.parametrize("case, how", _variants())
def test_values_match_keras(case, how):
    keras_how = "jax" if how == "wrapped" else how
    theirs_fn = getattr(keras.ops, case.name)
    ours_fn = getattr(ops, case.name)
    try:
        theirs = theirs_fn(
            *[_convert(a, keras_how) for a in case.args],
            **{k: _convert(v, keras_how) for k, v in case.kwargs.items()},
        )
    except Exception:  # Keras refuses: so must we
        with pytest.raises(Exception):  # noqa: B017
            ours_fn(
                *[_convert(a, how) for a in case.args],
                **{k: _convert(v, how) for k, v in case.kwargs.items()},
            )
        return
    ours = ours_fn(
        *[_convert(a, how) for a in case.args],
        **{k: _convert(v, how) for k, v in case.kwargs.items()},
    )
    _same(ours, theirs, case.id)


def test_submodule_functions_are_the_top_level_ones():
    for module in (ops.numpy, ops.nn, ops.linalg):
        for name in _public(module):
            assert getattr(ops, name) is getattr(module, name), name


def test_ops_trace_under_jit_and_grad_like_keras():
    """A custom attention score written with ops: values and gradients match Keras's."""
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(2, 5, 4)).astype("f4"), rng.normal(size=(2, 5, 4)).astype("f4")

    def attend(o, q, k):
        scores = o.einsum("btd,bsd->bts", q, k) / o.sqrt(o.cast(o.shape(q)[-1], "float32"))
        weights = o.softmax(scores, axis=-1)
        return o.sum(o.matmul(weights, k) * o.expand_dims(o.mean(q, axis=1), 1))

    for fn in (
        lambda o: jax.jit(lambda q, k: attend(o, q, k)),
        lambda o: jax.grad(lambda q, k: attend(o, q, k)),
    ):
        _same(fn(ops)(q, k), fn(keras.ops)(q, k))


def test_convert_helpers():
    x = np.arange(6, dtype="float64").reshape(2, 3)
    _same(ops.convert_to_tensor(x), keras.ops.convert_to_tensor(x))
    _same(
        ops.convert_to_tensor([1, 2], dtype="float16"),
        keras.ops.convert_to_tensor([1, 2], "float16"),
    )
    _same(ops.convert_to_tensor(Wrapped(x)), keras.ops.convert_to_tensor(jnp.asarray(x)))
    _same(ops.convert_to_numpy(jnp.ones(3)), keras.ops.convert_to_numpy(jnp.ones(3)))
    _same(ops.convert_to_numpy([1.5, 2.0]), keras.ops.convert_to_numpy([1.5, 2.0]))
    assert isinstance(ops.convert_to_numpy(Wrapped(x)), np.ndarray)
    for value in (x, jnp.ones(2), 3.0, Wrapped(x)):
        assert ops.is_tensor(value) == keras.ops.is_tensor(
            value.value if isinstance(value, Wrapped) else value
        ) or isinstance(value, Wrapped)
    assert ops.shape(jnp.ones((2, 3))) == keras.ops.shape(jnp.ones((2, 3))) == (2, 3)
    assert ops.shape(Wrapped(x)) == (2, 3)
    with pytest.raises(ValueError, match="ragged"):
        ops.convert_to_tensor(x, ragged=True)


def test_lenient_where_keras_is_strict():
    """Negative axes in a softmax tuple and list axes work (Keras's JAX backend rejects them)."""
    x = np.random.default_rng(2).normal(size=(2, 3, 4)).astype("f4")
    _same(ops.softmax(x, axis=(-1, 0)), keras.ops.softmax(x, axis=(2, 0)))
    _same(ops.log_softmax(x, axis=(-2, -1)), keras.ops.log_softmax(x, axis=(1, 2)))
    _same(ops.norm(x, axis=[1, 2]), keras.ops.norm(x, axis=(1, 2)))
    _same(ops.mean(x, axis=[0, 2]), keras.ops.mean(x, axis=(0, 2)))


def test_unsupported_arguments_say_so():
    with pytest.raises(ValueError, match="sparse=True"):
        ops.one_hot(np.array([0, 1]), 2, sparse=True)
    with pytest.raises(ValueError, match="sparse=True"):
        ops.convert_to_tensor(np.ones(2), sparse=True)
    with pytest.raises(ValueError, match="x1.*x2"):
        ops.where(np.array([True]), 1.0)
