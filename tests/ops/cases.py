"""The inputs every `lstmkit.ops` function is compared with `keras.ops` on.

A case is a function name, positional and keyword arguments (numpy arrays are converted by the
test into JAX arrays or `__jax_array__` objects) and an id. Inputs are random (fixed seed) with
several dtypes, broadcasting shapes, Python scalars, ties and signed zeros where they matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_rng = np.random.default_rng(1234)


@dataclass
class Case:
    name: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    tag: str = ""

    @property
    def id(self) -> str:
        return f"{self.name}-{self.tag}" if self.tag else self.name

    @property
    def arrays_in(self) -> bool:
        values = list(self.args) + list(self.kwargs.values())
        return any(
            isinstance(v, np.ndarray)
            or (isinstance(v, list) and v and isinstance(v[0], np.ndarray))
            for v in values
        )


def rand(shape=(3, 4), dtype="float32", low=None, high=None):
    """Random values of `dtype`: normal floats (or uniform in [low, high]), small ints, bools."""
    if dtype == "bool":
        return _rng.random(shape) > 0.5
    if "int" in dtype:
        return _rng.integers(-5 if low is None else low, 6 if high is None else high, shape).astype(
            dtype
        )
    if low is not None:
        return _rng.uniform(low, high, shape).astype(dtype)
    return (2 * _rng.standard_normal(shape)).astype(dtype)


CASES: list[Case] = []


def add(name, *args, tag="", **kwargs):
    CASES.append(Case(name, args, kwargs, tag))


# --- elementwise unary: float32, float16, int32, bool -----------------------------------------
UNARY = [
    "negative", "abs", "absolute", "square", "sqrt", "exp", "expm1", "log", "log1p", "log2",
    "log10", "sign", "floor", "ceil", "trunc", "reciprocal", "sin", "cos", "tan", "sinh", "cosh",
    "tanh", "arcsin", "arccos", "arctan", "cbrt", "isnan", "isinf", "isfinite", "logical_not",
    "round", "nan_to_num", "erf", "erfinv", "rsqrt", "ravel", "copy", "relu", "relu6", "sigmoid",
    "hard_sigmoid", "sparse_sigmoid", "log_sigmoid", "softplus", "softsign", "silu", "swish",
    "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "elu", "selu", "celu", "gelu",
    "squareplus", "sparse_plus", "tanh_shrink", "soft_shrink", "hard_shrink", "size", "ndim",
    "stop_gradient", "unstack", "zeros_like", "ones_like", "empty_like", "array",
]  # fmt: skip
for _name in UNARY:
    for _dtype in ("float32", "float16", "int32", "bool"):
        add(_name, rand((3, 4), _dtype), tag=_dtype)
    if _name != "stop_gradient":  # Keras hands a Python float back unchanged; we give an array
        add(_name, 0.7, tag="scalar")
add("round", rand((5,)) * 100, decimals=-1, tag="neg-decimals")
add("round", rand((5,), "int32", -500, 500), decimals=-2, tag="int-neg-decimals")
add("round", rand((5,)), decimals=2, tag="decimals")
add("nan_to_num", np.array([np.nan, np.inf, -np.inf, 1.0], "f4"), nan=1.0, posinf=9.0, neginf=-9.0)
add("leaky_relu", rand(), negative_slope=0.05, tag="slope")
add("elu", rand(), alpha=0.3, tag="alpha")
add("celu", rand(), alpha=2.0, tag="alpha")
add("gelu", rand(), approximate=False, tag="exact")
add("squareplus", rand(), b=1, tag="b")
add("soft_shrink", rand(), threshold=1.0, tag="t")
add("hard_shrink", rand(), threshold=1.0, tag="t")
add("threshold", rand(), 0.3, -1.0)
add("hard_sigmoid", np.linspace(-4, 4, 33).astype("f4"), tag="grid")
add("unstack", rand((2, 3, 4)), axis=1, tag="axis1")
add("zeros_like", rand(), dtype="int32", tag="dtype")
add("ones_like", rand((2,), "int32"), dtype="float16", tag="dtype")
add("full_like", rand(), 2.5)
add("full_like", rand((3,), "int32"), 2, dtype="bool", tag="dtype")
add("array", [[1, 2], [3, 4]], tag="list")
add("array", rand((3,), "int32"), dtype="float32", tag="dtype")
add("cast", rand(), "int32")
add("cast", rand((4,), "int32"), "float16", tag="i2h")
add("cast", rand((4,), "bool"), "float32", tag="b2f")
add("saturate_cast", rand((6,)) * 1000, "int8")
add("saturate_cast", rand((6,), "int32", -1000, 1000), "uint8", tag="int")
add("convert_to_tensor", rand((3,), "float64"), tag="f64")
add("convert_to_tensor", [1, 2, 3], dtype="float32", tag="list")
add("dtype", rand((2,), "int32"))

# --- elementwise binary: same and mixed dtypes, scalars, broadcasting -------------------------
BINARY = [
    "add", "subtract", "multiply", "divide", "true_divide", "divide_no_nan", "floor_divide",
    "mod", "power", "maximum", "minimum", "logaddexp", "arctan2", "equal", "not_equal",
    "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or", "logical_xor",
    "isclose", "allclose", "matmul", "dot", "outer", "inner", "vdot",
]  # fmt: skip
for _name in dict.fromkeys(BINARY):
    add(_name, rand((3, 4)), rand((3, 4)), tag="f32")
    add(_name, rand((3, 4), "int32", 1, 6), rand((3, 4), "int32", 1, 4), tag="i32")
    add(_name, rand((3, 4), "int32", 1, 6), rand((3, 4)), tag="i32-f32")
    add(_name, rand((3, 4), "float16"), rand((3, 4)), tag="f16-f32")
    add(_name, rand((3, 4), "bool"), rand((3, 4), "bool"), tag="bool")
    if _name not in ("matmul", "dot", "outer", "inner", "vdot"):
        add(_name, rand((2, 3, 4)), rand((4,)), tag="broadcast")
        add(_name, rand((3, 4), "int32", 1, 6), 2, tag="int-scalar")
        add(_name, rand((3, 4), "float16"), 1.5, tag="f16-float-scalar")
        add(_name, rand((3, 4), "int32", 1, 6), 1.5, tag="int-float-scalar")
        add(_name, 2.0, rand((3,)), tag="scalar-first")
add("divide_no_nan", rand((4,)), np.array([0.0, 1.0, 0.0, 2.0], "f4"), tag="zeros")
add("isclose", rand((4,)), rand((4,)), rtol=0.5, atol=0.5, equal_nan=True, tag="tol")
add("matmul", rand((2, 3, 4)), rand((4, 5)), tag="batched")
add("matmul", rand((2, 3), "int8"), rand((3, 2), "int8"), tag="int8")
add("dot", rand((2, 3, 4)), rand((4, 2)), tag="nd")
add("tensordot", rand((2, 3, 4)), rand((3, 4, 5)))
add("tensordot", rand((2, 3, 4)), rand((4, 5)), axes=1, tag="axes1")
add("tensordot", rand((2, 3, 4)), rand((3, 2)), axes=([1, 0], [0, 1]), tag="pairs")
add("einsum", "btd,bsd->bts", rand((2, 3, 4)), rand((2, 5, 4)))
add("einsum", "ij,j->i", rand((3, 4), "int32"), rand((4,), "int32"), tag="int")
add("einsum", "ii", rand((3, 3)), tag="trace")
add("where", rand((3, 4), "bool"), rand((3, 4)), rand((3, 4), "int32"))
add("where", rand((3, 4), "bool"), 1.0, 0.0, tag="scalars")
add("where", rand((3, 4), "bool"), tag="one-arg")
add("where", rand((3, 4), "bool"), rand((3, 4)), tag="one-of-two")
add("clip", rand(), -1.0, 0.5)
add("clip", rand((3, 4), "int32"), -2, 3, tag="int")
add("clip", rand((3, 4), "bool"), 0, 1, tag="bool")

# --- reductions ------------------------------------------------------------------------------
REDUCE = [
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "ptp", "prod", "any", "all",
    "median", "logsumexp",
]  # fmt: skip
for _name in REDUCE:
    for _dtype in ("float32", "float16", "int32", "bool"):
        add(_name, rand((3, 4, 5), _dtype), tag=_dtype)
    add(_name, rand((3, 4, 5)), axis=1, tag="axis1")
    add(_name, rand((3, 4, 5)), axis=-1, keepdims=True, tag="keep")
    add(_name, rand((3, 4, 5)), axis=(0, 2), tag="axes")
    add(_name, rand((3, 4, 5)), keepdims=True, tag="keep-all")
for _name in ("argmax", "argmin"):
    for _dtype in ("float32", "float16", "int32", "bool"):
        add(_name, rand((3, 4, 5), _dtype), tag=_dtype)
    add(_name, rand((3, 4)), axis=0, keepdims=True, tag="keep")
    add(_name, np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], "f4"), axis=-1, tag="ties")
    add(_name, np.array([-0.0, 0.0, -0.0, 0.0], "f4"), tag="signed-zero")
    add(_name, np.array([[0.0, -0.0], [-0.0, 0.0]], "f4"), axis=1, tag="signed-zero-axis")
add("max", rand(), axis=0, initial=5.0, tag="initial")
add("min", rand(), axis=0, initial=-5.0, tag="initial")
add("prod", rand((3, 4), "int32"), axis=0, dtype="float32", tag="dtype")
add("count_nonzero", rand((3, 4), "int32"))
add("count_nonzero", rand((3, 4), "int32"), axis=1, tag="axis")
add("count_nonzero", rand((3, 4, 2), "float32"), axis=(0, 2), tag="axes")
for _name in ("cumsum", "cumprod"):
    add(_name, rand((3, 4)))
    add(_name, rand((3, 4)), axis=1, tag="axis")
    add(_name, rand((3, 4), "int32"), axis=0, tag="int")
    add(_name, rand((3, 4), "int32"), axis=0, dtype="float32", tag="dtype")
    add(_name, rand((3, 4), "bool"), axis=0, tag="bool")
add("average", rand((3, 4)), axis=1)
add("average", rand((3, 4), "int32"), axis=0, weights=rand((3,), low=0.1, high=1), tag="w")
add("average", rand((3, 4), "int32"), tag="int")
add("quantile", rand((3, 8)), 0.3, axis=1)
add("quantile", rand((3, 8)), np.array([0.1, 0.9], "f4"), keepdims=True, tag="keep")
add("percentile", rand((3, 8)), 75.0, axis=0, method="nearest")
add("trace", rand((4, 4)))
add("trace", rand((2, 4, 4)), offset=1, axis1=1, axis2=2, tag="nd")
add("top_k", rand((3, 7)), 3)
add("top_k", rand((3, 7), "int32"), 2, sorted=False, tag="int")
add("in_top_k", np.array([0, 3, 6], "int32"), rand((3, 7)), 2)
add(
    "in_top_k",
    np.array([0, 3], "int32"),
    np.array([[1, 1, 1, 1.0], [0, 0, 0, 1]], "f4"),
    1,
    tag="t",
)

# --- shapes, joining, indexing, sorting -------------------------------------------------------
X = rand((2, 3, 4))
add("reshape", X, (4, -1))
add("reshape", X, 24, tag="flat")
add("transpose", X)
add("transpose", X, (1, 0, 2), tag="axes")
add("expand_dims", X, 1)
add("expand_dims", X, -1, tag="last")
add("expand_dims", X, (0, 2), tag="tuple")
add("squeeze", rand((1, 3, 1)))
add("squeeze", rand((1, 3, 1)), axis=0, tag="axis")
add("squeeze", rand((1, 3, 1)), axis=(0, 2), tag="axes")
add("moveaxis", X, 0, -1)
add("moveaxis", X, (0, 1), (2, 0), tag="multi")
add("swapaxes", X, 0, 2)
add("broadcast_to", rand((3, 1)), (2, 3, 4))
add("stack", [rand((3, 4)), rand((3, 4))])
add("stack", [rand((3, 4)), rand((3, 4), "int32")], axis=-1, tag="mixed")
add("concatenate", [rand((2, 4)), rand((3, 4))])
add("concatenate", [rand((3, 2)), rand((3, 4), "int32")], axis=1, tag="axis")
add("hstack", [rand((3, 2)), rand((3, 4))])
add("vstack", [rand((2, 4)), rand((1, 4))])
add("split", rand((6, 4)), 3)
add("split", rand((4, 6)), [1, 4], axis=1, tag="indices")
add("array_split", rand((7, 2)), 3)
add("repeat", X, 2)
add("repeat", X, 3, axis=1, tag="axis")
add("repeat", rand((3,)), [1, 2, 0], axis=0, tag="per-element")
add("tile", rand((2, 3)), (2, 1, 2))
add("tile", rand((2, 3)), 3, tag="int")
add("flip", X)
add("flip", X, axis=1, tag="axis")
add("flip", X, axis=(0, 2), tag="axes")
add("roll", X, 2)
add("roll", X, -1, axis=2, tag="axis")
add("pad", rand((2, 3)), ((1, 0), (2, 1)))
add("pad", rand((2, 3)), 1, constant_values=7.0, tag="const")
add("pad", rand((2, 3)), ((1, 1), (0, 2)), mode="reflect", tag="reflect")
add("pad", rand((2, 3)), 1, mode="reflect", constant_values=2.0, tag="bad")
add("take", X, np.array([2, 0, 2], "int32"), axis=1)
add("take", X, np.array([[1, 5], [20, 3]], "int32"), tag="flat")
add("take", X, 1, axis=-1, tag="scalar-index")
add("take_along_axis", X, np.argsort(X, axis=-1).astype("int32"), axis=-1)
add("take_along_axis", rand((3, 4)), np.array([[0], [3], [1]], "int32"), axis=1, tag="col")
add("get_item", X, (0, slice(1, 3)))
add("get_item", X, 1, tag="int")
add("slice", X, (0, 1, 1), (2, 2, -1))
add("slice_update", X, (1, 0, 2), rand((1, 2, 2)))
add("tril", rand((4, 4)))
add("tril", rand((4, 4)), k=-1, tag="k")
add("triu", rand((2, 4, 4)), k=1)
add("diag", rand((4,)))
add("diag", rand((4, 4)), k=1, tag="matrix")
add("diagonal", X, offset=1, axis1=1, axis2=2)
add("diff", rand((3, 5)))
add("diff", rand((3, 5)), n=2, axis=0, tag="n2")
add("nonzero", rand((3, 4), "int32"))
add("meshgrid", rand((3,)), rand((4,)))
add("meshgrid", rand((3,)), rand((4,)), indexing="ij", tag="ij")
for _dtype in ("float32", "int32"):
    add("sort", rand((3, 5), _dtype), tag=_dtype)
    add("argsort", rand((3, 5), _dtype), tag=_dtype)
    add("sort", rand((3, 5), _dtype), axis=0, tag=f"{_dtype}-axis")
    add("argsort", rand((3, 5), _dtype), axis=0, tag=f"{_dtype}-axis")
add("argsort", np.array([2, 1, 2, 1, 0], "int32"), tag="ties")
add("argsort", np.float32(3.0), tag="0d")
add("searchsorted", np.sort(rand((6,))), rand((4,)))
add("searchsorted", np.array([1, 2, 2, 3], "int32"), np.array([2, 3], "int32"), side="right")
add("searchsorted", rand((2, 3)), rand((2,)), tag="2d")
add("digitize", rand((5,)), np.array([-1.0, 0.0, 1.0], "f4"))
add("extract_sequences", rand((2, 10)), 4, 2)
add("extract_sequences", rand((10,)), 3, 3, tag="1d")

# --- creation ---------------------------------------------------------------------------------
for _name, _args in [("zeros", ((2, 3),)), ("ones", ((2, 3),)), ("empty", ((2,),))]:
    add(_name, *_args)
    add(_name, *_args, dtype="int32", tag="int")
add("zeros", 3, tag="int-shape")
add("full", (2, 3), 1.5)
add("full", (2, 3), 2, dtype="int32", tag="int")
add("full", (2,), rand((2,)), tag="array-fill")
add("arange", 5)
add("arange", 1, 7, 2, tag="range")
add("arange", 0.5, 3.0, tag="float")
add("arange", 0, 1, 0.25, tag="float-step")
add("arange", 5, dtype="float16", tag="dtype")
add("linspace", 0.0, 1.0, 7)
add("linspace", 0, 10, 5, endpoint=False, retstep=True, tag="retstep")
add("linspace", np.zeros(2, "f4"), np.ones(2, "f4"), 4, axis=1, tag="arrays")
add("eye", 3)
add("eye", 3, 4, k=1, dtype="int32", tag="rect")
add("identity", 3)
add("identity", 2, dtype="bool", tag="bool")
add("tri", 3)
add("tri", 3, 4, k=-1, dtype="int32", tag="rect")

# --- nn: softmax, one_hot, moments, normalizations, losses ------------------------------------
for _axis in (-1, 0, 1, (1, 2), (0, 2), (2, 0)):
    add("softmax", rand((2, 3, 4)), axis=_axis, tag=f"axis{_axis}")
    add("log_softmax", rand((2, 3, 4)), axis=_axis, tag=f"axis{_axis}")
add("softmax", rand((2, 3), "float16"), tag="f16")
add("softmax", np.array([1000.0, 0.0, -1000.0], "f4"), tag="extreme")
add("log_softmax", rand((3, 4), "int32"), tag="int")
add("sparsemax", rand((3, 5)))
add("sparsemax", rand((3, 5)), axis=0, tag="axis0")
add("glu", rand((3, 6)))
add("glu", rand((4, 3)), axis=0, tag="axis0")
add("one_hot", np.array([0, 3, 1, 2], "int32"), 4)
add("one_hot", np.array([[0, 2], [1, -1]], "int32"), 3, axis=0, dtype="int32", tag="axis0")
add("one_hot", np.array([0.0, 2.0], "f4"), 3, tag="float-ids")
add("moments", rand((3, 4, 5)), [0, 1])
add("moments", rand((3, 4, 5)), (2,), keepdims=True, tag="keep")
add("moments", rand((3, 4), "float16"), [0], tag="f16")
add("moments", rand((3, 4)), [0], synchronized=True, tag="sync")
add("normalize", rand((3, 4)))
add("normalize", rand((3, 4)), axis=0, order=1, tag="l1")
add("normalize", rand((3, 4), "int32"), order=3, epsilon=1e-3, tag="l3-int")
add("normalize", np.zeros((2, 3), "f4"), tag="zeros")
add("normalize", rand((3, 4)), order=0, tag="bad-order")
_mean, _var = rand((4,)), rand((4,), low=0.1, high=2.0)
add("batch_normalization", rand((2, 3, 4)), _mean, _var, -1)
add(
    "batch_normalization", rand((2, 4, 3)), _mean, _var, 1, rand((4,)), rand((4,)), 1e-5, tag="full"
)
add("layer_normalization", rand((2, 3, 4)))
add("layer_normalization", rand((2, 3, 4)), rand((4,)), rand((4,)), tag="affine")
add("layer_normalization", rand((2, 3, 4)), rand((3, 4)), rand((3, 4)), axis=(1, 2), tag="axes")
add("layer_normalization", rand((2, 3, 4)), rand((3,)), None, axis=1, epsilon=1e-3, tag="mid")
add("layer_normalization", rand((2, 3, 4)), rand((4,)), rms_scaling=True, tag="rms")
add("layer_normalization", rand((2, 4), "float16"), tag="f16")
add("rms_normalization", rand((2, 3, 4)))
add("rms_normalization", rand((2, 3, 4)), rand((3, 4)), axis=[1, 2], epsilon=1e-3, tag="axes")
_logits = rand((4, 5))
_probs = np.exp(_logits) / np.exp(_logits).sum(-1, keepdims=True)
_ids = np.array([0, 4, 2, 1], "int32")
_onehot = np.eye(5, dtype="f4")[_ids]
add("categorical_crossentropy", _onehot, _probs)
add("categorical_crossentropy", _onehot, _logits, from_logits=True, tag="logits")
add("categorical_crossentropy", _onehot.T.copy(), _probs.T.copy(), axis=0, tag="axis0")
add("categorical_crossentropy", _onehot, _probs[:, :4], tag="bad-shape")
add("sparse_categorical_crossentropy", _ids, _probs)
add("sparse_categorical_crossentropy", _ids[:, None], _logits, from_logits=True, tag="logits")
add("sparse_categorical_crossentropy", _ids[:3], _probs, tag="bad-shape")
_bin = (rand((3, 4), "bool")).astype("f4")
add("binary_crossentropy", _bin, rand((3, 4), low=0.0, high=1.0))
add("binary_crossentropy", _bin, rand((3, 4)), from_logits=True, tag="logits")
add("binary_crossentropy", _bin, np.array([[0.0, 1.0, 0.5, 1e-9]] * 3, "f4"), tag="edges")

# --- math, linalg, core -----------------------------------------------------------------------
_ids = np.array([0, 0, 2, 1, 2], "int32")
for _name in ("segment_sum", "segment_max"):
    add(_name, rand((5, 3)), _ids, 3)
    add(_name, rand((5,), "int32"), np.sort(_ids), num_segments=4, sorted=True, tag="sorted")
    add(_name, rand((5, 3)), _ids, tag="no-num")
add("norm", rand((3, 4)))
add("norm", rand((3, 4)), ord=1, axis=1, tag="l1")
add("norm", rand((3, 4), "int32"), ord="fro", keepdims=True, tag="fro")
add("norm", rand((2, 3, 4)), ord=2, axis=(1, 2), tag="spectral")
_square = rand((3, 3)) + 3 * np.eye(3, dtype="f4")
add("inv", _square)
add("det", _square)
add("solve", _square, rand((3, 2)))
add("scatter", np.array([[0, 1], [2, 0], [0, 1]], "int32"), rand((3,)), (3, 2))
_upd_idx = np.array([[0, 1], [2, 0]], "int32")
add("scatter_update", rand((3, 2)), _upd_idx, rand((2,)))
for _reduction in ("add", "max", "min", "mul", "bogus"):
    add("scatter_update", rand((3, 2)), _upd_idx, rand((2,)), reduction=_reduction, tag=_reduction)
add("cond", True, lambda: 1.0, lambda: 2.0)
add("cond", np.array(False), lambda: np.ones(2, "f4"), lambda: np.zeros(2, "f4"), tag="array")
add("switch", 1, [lambda x: x + 1, lambda x: x * 2], np.arange(3, dtype="f4"))
add("fori_loop", 0, 5, lambda i, v: v + i, np.float32(1.0))
add("while_loop", lambda i, s: i < 5, lambda i, s: (i + 1, s * 2), (0, 1.0))
add("while_loop", lambda i: i < 100, lambda i: i + 3, 0, maximum_iterations=4, tag="max-iter")
add("while_loop", lambda i, s: i < 9, lambda i, s: [i + 1, s + i], [0, 0], 3, tag="list")
add("scan", lambda c, x: (c + x, c * x), np.float32(0.0), np.arange(5, dtype="f4"))
add("scan", lambda c, x: (c + 1, c), 0, length=3, reverse=True, unroll=2, tag="length")
add("scan", lambda c, x: (c, x), 0, np.zeros(2), unroll=0, tag="bad-unroll")
add("associative_scan", lambda a, b: a + b, rand((5, 2)), axis=1)
add("associative_scan", lambda a, b: a * b, rand((5,)), reverse=True, tag="reverse")
add("map", lambda x: x * 2, rand((4, 2)))
add("vectorized_map", lambda x: x.sum(), rand((4, 2)))

# --- attention --------------------------------------------------------------------------------
_q, _k, _v = rand((2, 5, 4, 8)), rand((2, 6, 4, 8)), rand((2, 6, 4, 3))
add("dot_product_attention", _q, _k, _v)
add("dot_product_attention", _q, _k, _v, mask=rand((2, 1, 5, 6), "bool"), tag="mask")
add("dot_product_attention", _q, _k, _v, bias=rand((1, 4, 5, 6)), scale=0.5, tag="bias")
add(
    "dot_product_attention",
    _q,
    rand((2, 5, 4, 8)),
    rand((2, 5, 4, 8)),
    is_causal=True,
    tag="causal",
)
add("dot_product_attention", _q, rand((2, 6, 2, 8)), rand((2, 6, 2, 8)), tag="grouped")
add("dot_product_attention", _q, _k, _v, flash_attention=True, tag="flash")
add("dot_product_attention", _q, _k, _v, attn_logits_soft_cap=5.0, tag="soft-cap")
add("dot_product_attention", _q[0], _k[0], _v[0], tag="3d")
