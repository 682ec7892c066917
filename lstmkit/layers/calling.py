"""How a layer is called: symbolically, eagerly, inside another layer's pure call, and how a
Keras-style `call(self, inputs, mask=None, training=None)` runs as a pure function.

`Layer.apply(params, state, inputs, ...)` of a layer that defines `call` the Keras way opens a
`StatelessScope` binding the layer's variables to `params`, runs `call`, and reads back the new
carried state; sub-layers called inside `call` find the scope and run their own pure `apply` on
the scoped values. Shapes of such calls are inferred with `jax.eval_shape`, as Keras's
`compute_output_spec` does.
"""

from __future__ import annotations

import inspect
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit import utils
from lstmkit.kernels import precision
from lstmkit.layers.symbolic import Node, SymbolicTensor, tree_leaves
from lstmkit.layers.tree import to_arrays
from lstmkit.layers.variables import StatelessScope, Variable


class CallArgs(tuple):
    """Several positional inputs of one call (`layer(query, values)`), kept apart from a single
    input that is a tuple, so that `call(*args)` gets them back as separate arguments.
    `keywords` names the last ones when they were given by keyword (`mha(query=q, value=v)`),
    so that a saved graph records the call as Keras does."""

    keywords: tuple[str, ...] = ()

    def __new__(cls, items: Any = (), keywords: tuple[str, ...] = ()) -> CallArgs:
        obj = super().__new__(cls, items)
        obj.keywords = tuple(keywords)
        return obj

    def split(self) -> tuple[list, dict]:
        """(positional inputs, keyword inputs by name)."""
        n = len(self) - len(self.keywords)
        return list(self[:n]), dict(zip(self.keywords, self[n:]))


jax.tree_util.register_pytree_node(
    CallArgs, lambda t: (tuple(t), t.keywords), lambda k, c: CallArgs(c, k)
)


def invoke(layer: Any, inputs: Any, kw: dict[str, Any]) -> Any:
    """`layer.call(inputs, **kw)`, or `layer.call(*inputs, **kw)` for several positional ones."""
    if isinstance(inputs, CallArgs):
        return layer.call(*inputs, **kw)
    return layer.call(inputs, **kw)


# Sizes tried for unknown (None) dimensions when inferring output shapes: the dims that change
# with them are unknown in the output too.
_PROBE_SIZES = (83, 89)


def call_signature(layer: Any) -> tuple[set[str], bool]:
    """Names `layer.call` accepts, and whether it takes **kwargs (cached per class)."""
    cls = type(layer)
    cached = cls.__dict__.get("_call_signature_cache")
    if cached is None:
        params = inspect.signature(layer.call).parameters
        names = {n for n, p in params.items() if p.kind != inspect.Parameter.VAR_KEYWORD}
        var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
        cached = (names, var_kw)
        type.__setattr__(cls, "_call_signature_cache", cached)
    return cached


def call_kwargs(layer: Any, training: Any, mask: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `layer.call`: training/mask only where its signature takes them."""
    names, var_kw = call_signature(layer)
    kw = dict(extra)
    if "training" in names:
        kw["training"] = training
    if "mask" in names and mask is not None:
        kw["mask"] = mask
    unknown = [k for k in kw if k not in names and not var_kw]
    if unknown:
        raise TypeError(
            f"Layer '{layer.name}': call() got unexpected keyword argument(s) {unknown}; its "
            f"signature is call{inspect.signature(layer.call)}."
        )
    return kw


def check_outputs(layer: Any, outputs: Any) -> Any:
    """Variables -> values; anything that is not an array (or a list/tuple/dict of them) is an
    error naming the layer."""

    def check(x: Any) -> Any:
        if isinstance(x, Variable):
            return x.value
        if isinstance(x, (jax.Array, np.ndarray, np.generic)):
            return x
        raise TypeError(
            f"Layer '{layer.name}': call() must return arrays (or a list/tuple/dict of arrays); "
            f"it returned {type(x).__name__}: {x!r:.80}."
        )

    if outputs is None:
        raise TypeError(f"Layer '{layer.name}': call() returned None; did you forget `return`?")
    return jax.tree_util.tree_map(check, outputs, is_leaf=lambda x: isinstance(x, Variable))


def stateless_apply(layer: Any, params: Any, state: Any, inputs: Any, *, training: bool,
                    mask: Any, key: Any, extra: dict[str, Any]) -> tuple[Any, Any]:  # fmt: skip
    """`layer.call` run on `params`/`state`: -> (outputs, new_state). Assigned variables and
    losses flow into the enclosing scope (Model.run or the eager call collects them)."""
    kw = call_kwargs(layer, training, mask, extra)
    with StatelessScope(layer, params, state, training=training, key=key) as scope:
        outputs = check_outputs(layer, invoke(layer, inputs, kw))
    return outputs, scope.state_of(layer)


def call_in_scope(layer: Any, scope: StatelessScope, inputs: Any, kwargs: dict[str, Any]) -> Any:
    """`layer(inputs)` inside another layer's pure call: the scoped parameters, no side effects."""
    training = kwargs.pop("training", None)
    training = scope.training if training is None else bool(training)
    mask = kwargs.pop("mask", None)
    first = not layer.built
    layer.maybe_build(shapes_of(inputs))
    if first and layer.keras_style:
        output_spec(layer, inputs, kwargs)  # builds its sub-layers (Keras: build by run)
    key = scope.next_key() if training else None
    outputs, new_state = layer.apply(
        scope.params_of(layer), scope.state_of(layer), inputs,
        training=training, mask=mask, key=key, **kwargs,
    )  # fmt: skip
    scope.set_state_of(layer, new_state)
    activity = layer.activity_loss(outputs)
    if layer.activity_regularizer is not None:
        scope.losses.append(activity)
    return outputs


def shapes_of(tree: Any) -> Any:
    """The shape structure of inputs: a tuple for one tensor, a list of tuples for several."""
    if hasattr(tree, "shape"):
        return tuple(tree.shape)
    if isinstance(tree, (list, tuple)):
        return [shapes_of(t) for t in tree]
    if tree is None:
        return None
    return tuple(np.shape(tree))


def _spec(tree: Any, size: int) -> Any:
    """SymbolicTensors (or arrays) -> ShapeDtypeStructs, unknown dims set to `size`."""
    if isinstance(tree, CallArgs):
        return CallArgs((_spec(t, size) for t in tree), tree.keywords)
    if isinstance(tree, (list, tuple)):
        return [_spec(t, size) for t in tree]
    if tree is None or not hasattr(tree, "shape"):
        return tree
    shape = tuple(size if d is None else d for d in tree.shape)
    return jax.ShapeDtypeStruct(shape, jnp.dtype(tree.dtype))


def output_spec(layer: Any, inputs: Any, kwargs: dict[str, Any]) -> Any:
    """Output (shape, dtype) structure of `layer` on symbolic `inputs`: `call` traced with
    `jax.eval_shape` (nothing runs, nothing is stored); dims that follow an unknown input dim
    are None."""
    kwargs = {k: v for k, v in kwargs.items() if k not in ("mask", "training")}
    results = []
    for size in _PROBE_SIZES:

        def run(x, kw):
            with StatelessScope():  # assignments and state changes during the trace are dropped
                out, _ = layer.apply(
                    layer.params, layer.state, x, training=False, mask=None, key=None, **kw
                )
            return out

        results.append(jax.eval_shape(run, _spec(inputs, size), _spec(kwargs, size)))
        if not _has_unknown(inputs, kwargs):
            break

    def merge(*specs):
        a = specs[0]
        shape = tuple(d if all(s.shape[i] == d for s in specs) else None
                      for i, d in enumerate(a.shape))  # fmt: skip
        return (shape, str(a.dtype))

    return jax.tree_util.tree_map(merge, *results)


class FloatSpec:
    """A float32 stand-in of a given shape (None: unknown), for inferring output shapes."""

    dtype = "float32"

    def __init__(self, shape: tuple):
        self.shape = tuple(shape)


def is_spec(s: Any) -> bool:
    """An output spec leaf: (shape, dtype name)."""
    return isinstance(s, tuple) and len(s) == 2 and isinstance(s[1], str)


def _has_unknown(*trees: Any) -> bool:
    leaves = jax.tree_util.tree_leaves(trees, is_leaf=lambda x: hasattr(x, "shape"))
    return any(None in tuple(getattr(t, "shape", ())) for t in leaves)


def map_shapes(fn: Any, shapes: Any) -> Any:
    """`fn` over each shape (a tuple) of a nested list of shapes."""
    if isinstance(shapes, tuple) or shapes is None:
        return fn(shapes)
    return [map_shapes(fn, s) for s in shapes]


_PLAIN = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, _PLAIN)


def auto_config(cls: type, args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """The constructor's arguments (defaults filled in) when all are plain JSON values, as
    Keras's auto-config; None when they cannot be recorded."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    config: dict[str, Any] = {}
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    for p in params:
        value = bound.arguments.get(p.name)
        if p.kind == inspect.Parameter.VAR_KEYWORD:
            config.update(value or {})
        elif p.kind == inspect.Parameter.VAR_POSITIONAL:
            if value:
                return None
        else:
            config[p.name] = value
    return config if _plain(config) else None


def call_symbolic(layer: Any, inputs: Any, kwargs: dict[str, Any]) -> Any:
    """`layer(symbolic tensors)`: build, infer the outputs' shapes, record a graph node."""
    shape = shapes_of(inputs)
    layer.maybe_build(shape)
    in_dtype = tree_leaves(inputs)[0].dtype
    own_shape = type(layer).compute_output_shape.__qualname__.split(".")[0] not in (
        "Layer", "Model")  # fmt: skip
    if layer.keras_style and not own_shape:  # infer by tracing call, as Keras
        spec = output_spec(layer, inputs, kwargs)
    else:
        shape_kwargs = {k: shapes_of(v) for k, v in kwargs.items()
                        if k == "initial_state"}  # fmt: skip
        # Options that change the outputs' structure (Attention's return_attention_scores).
        shape_kwargs.update({k: kwargs[k] for k in getattr(layer, "output_shape_kwargs", ())
                             if k in kwargs})  # fmt: skip
        out_shape = layer.compute_output_shape(shape, **shape_kwargs)
        dtype = layer.output_dtype(in_dtype)
        spec = map_shapes(lambda s: (s, dtype), out_shape)
    node = Node(layer, inputs, kwargs)
    layer.__dict__.setdefault("_inbound_nodes", []).append(node)  # layer.input / layer.output
    index = iter(range(1 << 30))
    node.outputs = jax.tree_util.tree_map(
        lambda s: SymbolicTensor(s[0], s[1], node, next(index)), spec, is_leaf=is_spec
    )
    return node.outputs


def call_eager(layer: Any, inputs: Any, kwargs: dict[str, Any]) -> Any:
    """`layer(arrays)`: build if needed, run `apply` jitted, keep the new state and any
    weight assigned in `call`."""
    several = isinstance(inputs, CallArgs)
    # numpy stays numpy: the jitted call below moves it (cheaper than jnp.asarray first).
    inputs = (
        CallArgs(to_arrays(list(inputs), False), inputs.keywords)
        if several
        else to_arrays(inputs, False)
    )
    training = bool(kwargs.pop("training", False) or False)
    mask = kwargs.pop("mask", None)
    mask = None if mask is None else to_arrays(mask, False)
    # Python options (return_attention_scores=True) stay static: part of the compiled function.
    static = tuple(sorted((k, v) for k, v in kwargs.items() if isinstance(v, (bool, str))))
    extra = {k: to_arrays(v) for k, v in kwargs.items()
             if v is not None and not isinstance(v, (bool, str))}  # fmt: skip
    first = not layer.built
    layer.maybe_build(shapes_of(inputs))
    if first and layer.keras_style:
        output_spec(layer, inputs, extra)  # builds sub-layers (Keras: build by run)
    layer.check_values(inputs)
    key = utils.next_key() if training else None
    # Traced per trainable flags too (a frozen BatchNormalization runs in inference mode) and
    # per static keyword (bool/str options such as return_attention_scores).
    cache_key = (training, tuple(jax.tree_util.tree_leaves(layer.trainable_mask())), static)
    fn = layer._jitted.get(cache_key)
    if fn is None:

        def run(p, s, x, m, k, kw):
            with StatelessScope(layer, p, s, training=training, key=k) as scope:
                out, new_state = layer.apply(p, s, x, training=training, mask=m, key=k, **kw,
                                             **dict(static))  # fmt: skip
            layer._jitted[("assigns", cache_key)] = bool(scope.assigned)  # known when traced
            return out, new_state, scope.params_of(layer)

        fn = layer._jitted[cache_key] = precision.jit(run)
    outputs, new_state, new_params = fn(layer.params, layer.state, inputs, mask, key, extra)
    layer.set_state(new_state)
    if layer._jitted.get(("assigns", cache_key)):
        layer.set_params(new_params)  # a weight assigned in call(): write it back
    return outputs
