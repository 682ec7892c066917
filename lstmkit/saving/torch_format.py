"""PyTorch interop: `torch.nn.LSTM` / `torch.nn.GRU` weights into lstmkit layers (`from_torch`)
and lstmkit layers out as a torch module (`to_torch`), checking that both compute the same.

The weight mapping itself is in torch_weights.py. lstmkit always takes (batch, time, features).
A torch module with `batch_first=False` takes (time, batch, features): transpose its inputs
(`x.transpose(1, 0, 2)`) for lstmkit, and lstmkit's outputs back, to compare.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from lstmkit.kernels import activations
from lstmkit.layers.cells import GRUCell, LSTMCell
from lstmkit.layers.core import Dropout, Input, InputLayer
from lstmkit.layers.recurrent import GRU, LSTM, RNN
from lstmkit.layers.wrappers import Bidirectional
from lstmkit.models import Sequential
from lstmkit.saving.torch_weights import GATES, TorchStack, import_torch, read_torch, torch_arrays


def _rnn_kind(layer: Any) -> str | None:
    """The torch kind ("lstm", "gru") of a recurrent layer's cell; None if torch has none."""
    cell = getattr(layer, "cell", None)
    if isinstance(cell, LSTMCell):
        return "lstm"
    if isinstance(cell, GRUCell):
        return "gru"
    return None


def from_torch(module_or_state_dict: Any, into: Any = None, *, kind: str | None = None,
               batch_first: bool | None = None, name: str | None = None) -> Any:  # fmt: skip
    """An lstmkit model (or `into`, filled) that computes what a torch LSTM/GRU computes.

    `module_or_state_dict`: a `torch.nn.LSTM` / `torch.nn.GRU` (any num_layers, bidirectional,
    bias, batch_first), or its `state_dict()` (arrays or tensors), then with `kind="lstm"` or
    `"gru"`; sizes, layer count and direction are read from the keys and shapes. `batch_first`
    may be given for a state_dict (for a module it must agree with the module); it changes no
    weight: lstmkit always takes (batch, time, features), so transpose time-major data yourself.

    Without `into`: returns `Sequential([Input(shape=(None, input_size)), LSTM/GRU(hidden,
    return_sequences=True), ...])`, one recurrent layer per torch layer, each wrapped in
    `Bidirectional(..., merge_mode="concat")` when bidirectional, with `Dropout(p)` between them
    when the module has inter-layer dropout p. Its output equals torch's `output`.

    With `into` (an LSTM/GRU/Bidirectional layer, a list of them, or a model whose recurrent
    layers are filled in order): every layer is checked first (kind, direction, activations,
    shapes) and a ValueError names the first that does not fit; nothing changes unless all fit.
    A layer with `use_bias=True` receives zeros from a torch module built with `bias=False`.
    Returns `into`.
    """
    stack = read_torch(module_or_state_dict, kind, batch_first)
    if into is None:
        into = _new_model(stack, name)
    targets = _targets(into, "from_torch")
    if len(targets) != stack.num_layers:
        raise ValueError(
            f"from_torch: the torch {stack.kind.upper()} has {stack.num_layers} layer(s), but "
            f"{len(targets)} recurrent layer(s) were given to fill "
            f"({[t.name for t in targets]})."
        )
    plan = []  # (top-level layer, input dim, [(rnn layer, keras weights)])
    for k, target in enumerate(targets):
        in_dim = stack.input_size if k == 0 else stack.hidden_size * len(stack.suffixes(0))
        plan.append((target, in_dim, _fill_plan(stack, k, target, in_dim)))
    for target, in_dim, pairs in plan:  # every check passed: now change things
        target.maybe_build((None, None, in_dim))
        for rnn, weights in pairs:
            rnn.set_weights(weights)
    return into


def _new_model(stack: TorchStack, name: str | None) -> Any:
    cls = LSTM if stack.kind == "lstm" else GRU
    layers: list[Any] = [Input(shape=(None, stack.input_size))]
    for k in range(stack.num_layers):
        rnn = cls(stack.hidden_size, return_sequences=True, use_bias=stack.bias)
        layers.append(Bidirectional(rnn, merge_mode="concat") if stack.bidirectional else rnn)
        if stack.dropout and k < stack.num_layers - 1:
            layers.append(Dropout(stack.dropout))
    return Sequential(layers, name=name)


def _targets(obj: Any, who: str) -> list[Any]:
    """The recurrent layers of a layer, a list of layers, or a model, in order."""
    if isinstance(obj, (RNN, Bidirectional)):
        return [obj]
    if isinstance(obj, (list, tuple)):
        for layer in obj:
            if not isinstance(layer, (RNN, Bidirectional)):
                raise TypeError(
                    f"{who}: expected recurrent layers (LSTM, GRU, Bidirectional), got "
                    f"{getattr(layer, 'name', type(layer).__name__)!r}."
                )
        return list(obj)
    if hasattr(obj, "layers"):
        return [layer for layer in obj.layers if isinstance(layer, (RNN, Bidirectional))]
    raise TypeError(
        f"{who}: expected an LSTM/GRU/Bidirectional layer, a list of them, or a model; got "
        f"{type(obj).__name__}."
    )


def _check_recurrence(rnn: Any, kind: str, who: str) -> None:
    """Refuse a recurrent layer that does not compute what torch's LSTM/GRU computes."""
    found = _rnn_kind(rnn)
    if found != kind:
        what = found.upper() if found else f"{type(rnn).__name__} ({type(rnn.cell).__name__})"
        raise ValueError(f"{who}: layer '{rnn.name}' is a {what}; torch's is a {kind.upper()}.")
    cell = rnn.cell
    for arg, want in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
        got = getattr(cell, arg)
        if got is not getattr(activations, want):
            raise ValueError(
                f"{who}: layer '{rnn.name}' has {arg}={_act_name(got)!r}; torch's "
                f"{kind.upper()} uses {want!r} and has no other choice."
            )
    if kind == "gru" and not cell.reset_after:
        raise ValueError(
            f"{who}: layer '{rnn.name}' has reset_after=False; torch's GRU applies the reset "
            "gate after the recurrent product (Keras's reset_after=True) and has no other form."
        )


def _act_name(fn: Any) -> str:
    try:
        name = activations.serialize(fn)
    except ValueError:
        return repr(fn)
    return name if isinstance(name, str) else str(name.get("config"))


def _fill_plan(stack: TorchStack, k: int, target: Any, in_dim: int) -> list:
    """Checked (rnn layer, Keras weights) pairs for torch layer k; raises before any change."""
    if isinstance(target, Bidirectional):
        if not stack.bidirectional:
            raise ValueError(
                f"from_torch: layer '{target.name}' is Bidirectional, but the torch module is "
                "not bidirectional."
            )
        rnns = [target.forward_layer, target.backward_layer]
    else:
        if stack.bidirectional:
            raise ValueError(
                f"from_torch: torch layer {k} is bidirectional; layer '{target.name}' must be a "
                "Bidirectional(...) around an LSTM/GRU."
            )
        rnns = [target]
    if not target.built and getattr(target, "stateful", False):
        raise ValueError(
            f"from_torch: stateful layer '{target.name}' is not built; build it with its batch "
            "size first (call it on data, or put it in a model after an Input(batch_shape=...))."
        )
    pairs = []
    for rnn, suffix in zip(rnns, stack.suffixes(k), strict=True):
        _check_recurrence(rnn, stack.kind, "from_torch")
        if rnn.go_backwards != suffix.endswith("_reverse"):
            raise ValueError(
                f"from_torch: layer '{rnn.name}' has go_backwards={rnn.go_backwards}, but torch "
                f"runs '{suffix}' {'backwards' if suffix.endswith('_reverse') else 'forwards'}."
            )
        weights = stack.keras_weights(suffix)
        cell, g, u = rnn.cell, GATES[stack.kind], rnn.cell.units
        if cell.use_bias and not stack.bias:  # torch bias=False: a zero bias computes the same
            weights.append(np.zeros((2, g * u) if stack.kind == "gru" else (g * u,), np.float32))
        if not cell.use_bias and stack.bias:
            raise ValueError(
                f"from_torch: layer '{rnn.name}' has use_bias=False, but the torch module has "
                "biases; build the layer with use_bias=True."
            )
        if rnn.built:
            have = [tuple(w.shape) for w in rnn.get_weights()]
        else:
            have = [(in_dim, g * u), (u, g * u)] + [tuple(w.shape) for w in weights[2:]]
        given = [tuple(w.shape) for w in weights]
        if have != given:
            raise ValueError(
                f"from_torch: layer '{rnn.name}' has weight shapes {have} (kernel, "
                f"recurrent_kernel, bias), but torch '{suffix}' gives {given}."
            )
        pairs.append((rnn, weights))
    return pairs


# ----- lstmkit -> torch ------------------------------------------------------------------------
def to_torch(layer_or_model: Any, batch_first: bool = True) -> Any:
    """A `torch.nn.LSTM` / `torch.nn.GRU` with the weights of lstmkit recurrent layers.

    `layer_or_model`: an LSTM/GRU/Bidirectional layer, a list of them (stacked in order), or a
    model made only of them (plus its Input and, optionally, one `Dropout(p)` of the same rate
    between every two of them, which becomes torch's `dropout=p`). The layers must be built.
    torch's module takes (batch, time, features) when `batch_first=True` (lstmkit's layout),
    else (time, batch, features). The module comes in torch's default (training) mode.

    Refused, with a ValueError saying why: what torch cannot express — activations other than
    tanh/sigmoid, GRU with reset_after=False, merge_mode other than "concat", a plain layer with
    go_backwards=True, stacks mixing LSTM and GRU, bidirectional and not, or different units,
    a non-last layer without return_sequences, and any other kind of layer. Per-layer input and
    recurrent dropout have no torch equivalent and are dropped with a warning (inference only).
    """
    torch = import_torch()
    layers, dropout = _export_sequence(layer_or_model)
    kind, units, bidirectional = _check_stack(layers)
    rnns = [r for layer in layers for r in _directions(layer)]
    use_bias = any(r.cell.use_bias for r in rnns)
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    weights0 = rnns[0].get_weights()
    dtype = torch.float64 if weights0[0].dtype == np.float64 else torch.float32
    module = cls(
        input_size=int(weights0[0].shape[0]), hidden_size=units, num_layers=len(layers),
        bias=use_bias, batch_first=batch_first, dropout=dropout, bidirectional=bidirectional,
        dtype=dtype,
    )  # fmt: skip
    values = torch_arrays([[r.get_weights() for r in _directions(layer)] for layer in layers],
                          kind, units)  # fmt: skip
    params = dict(module.named_parameters())
    with torch.no_grad():
        for key, p in params.items():
            p.copy_(torch.as_tensor(np.array(values[key]), dtype=dtype))
    return module


def _directions(layer: Any) -> list[Any]:
    if isinstance(layer, Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    return [layer]


def _export_sequence(obj: Any) -> tuple[list[Any], float]:
    """The recurrent layers to export, in order, and the dropout rate between them."""
    if isinstance(obj, (RNN, Bidirectional)):
        return [obj], 0.0
    if hasattr(obj, "layers") and not isinstance(obj, (list, tuple)):
        _check_chain(obj)
        seq = [layer for layer in obj.layers if not isinstance(layer, InputLayer)]
    elif isinstance(obj, (list, tuple)):
        seq = list(obj)
    else:
        raise TypeError(
            f"to_torch: expected an LSTM/GRU/Bidirectional layer, a list of them, or a model; "
            f"got {type(obj).__name__}."
        )
    layers, gaps, gap = [], [], []
    for layer in seq:
        if isinstance(layer, (RNN, Bidirectional)):
            if layers:
                gaps.append(gap)
            layers.append(layer)
            gap = []
        elif isinstance(layer, Dropout) and layers and layer.noise_shape is None:
            gap.append(layer.rate)
        else:
            raise ValueError(
                f"to_torch: layer '{getattr(layer, 'name', layer)}' "
                f"({type(layer).__name__}) has no place in a torch.nn.LSTM/GRU, which holds only "
                "the recurrent stack (and one Dropout of the same rate between every two layers)."
                " Pass the recurrent layers themselves: to_torch([layer, ...])."
            )
    if not layers:
        raise ValueError("to_torch: no recurrent layer (LSTM, GRU, Bidirectional) was given.")
    if gap:
        raise ValueError(
            "to_torch: Dropout after the last recurrent layer has no torch.nn.LSTM/GRU equivalent."
        )
    rates = {tuple(g) for g in gaps}
    if not gaps or rates == {()}:
        return layers, 0.0
    if len(rates) != 1 or len(gaps[0]) != 1:
        raise ValueError(
            f"to_torch: torch applies one dropout rate between every two layers; the Dropout "
            f"layers between the recurrent layers have rates {[list(g) for g in gaps]}."
        )
    return layers, float(gaps[0][0])


def _check_chain(model: Any) -> None:
    """A model exports only if it is one input running through one layer after another."""
    nodes = [n for n in getattr(model, "_nodes", []) if not isinstance(n.layer, InputLayer)]
    if not getattr(model, "_graph_ready", True) or (model.layers and not nodes):
        raise ValueError(
            f"to_torch: model '{model.name}' is not built; give it an Input or call it on data."
        )
    chain = len(getattr(model, "inputs", [])) == 1 and len(getattr(model, "outputs", [])) == 1
    chain = chain and len(nodes) == len({id(n.layer) for n in nodes})
    chain = chain and all(len(n.parent_tensors) == 1 for n in nodes)
    if not chain:
        raise ValueError(
            f"to_torch: model '{model.name}' is not a plain stack (one input, one output, each "
            "layer called once on the previous one's output); pass its recurrent layers as a list."
        )


def _check_stack(layers: list[Any]) -> tuple[str, int, bool]:
    """(kind, units, bidirectional) of a stack torch can hold; ValueError naming what it can't."""
    kinds, units, bidir = set(), set(), set()
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        if isinstance(layer, Bidirectional) and layer.merge_mode != "concat":
            raise ValueError(
                f"to_torch: layer '{layer.name}' has merge_mode={layer.merge_mode!r}; torch's "
                "bidirectional output is always the concatenation (merge_mode='concat')."
            )
        if not last and not layer.return_sequences:
            raise ValueError(
                f"to_torch: layer '{layer.name}' is not the last but has return_sequences=False; "
                "in a torch stack every layer feeds its whole sequence to the next."
            )
        for rnn, backwards in zip(_directions(layer), (False, True), strict=False):
            kind = _rnn_kind(rnn)
            if kind is None:
                raise ValueError(
                    f"to_torch: layer '{rnn.name}' runs a {type(rnn.cell).__name__}; torch.nn.LSTM"
                    " and torch.nn.GRU hold only LSTM and GRU layers."
                )
            _check_recurrence(rnn, kind, "to_torch")
            if rnn.go_backwards != backwards:
                raise ValueError(
                    f"to_torch: layer '{rnn.name}' has go_backwards={rnn.go_backwards}; torch runs "
                    "a unidirectional layer (or a forward half) forwards and a reverse half "
                    "backwards."
                )
            kinds.add(kind)
            units.add(rnn.cell.units)
        bidir.add(isinstance(layer, Bidirectional))
    for what, found in (("kinds", kinds), ("units", units), ("directions", bidir)):
        if len(found) > 1:
            names = [layer.name for layer in layers]
            raise ValueError(
                f"to_torch: a torch.nn.LSTM/GRU stack has one kind, one hidden size and one "
                f"direction setting for all its layers; layers {names} differ in {what} "
                f"({sorted(map(str, found))})."
            )
    kind, u, bidirectional = kinds.pop(), units.pop(), bidir.pop()
    for rnn in (r for layer in layers for r in _directions(layer)):
        if not rnn.built:
            raise ValueError(
                f"to_torch: layer '{rnn.name}' is not built (it has no weights yet); call it "
                "on data or put it in a model after an Input."
            )
        if rnn.cell.dropout or rnn.cell.recurrent_dropout:
            warnings.warn(
                f"to_torch: layer '{rnn.name}' has dropout={rnn.cell.dropout}, "
                f"recurrent_dropout={rnn.cell.recurrent_dropout}; torch's {kind.upper()} has "
                "no per-layer input or recurrent dropout, so they are not carried over.",
                UserWarning,
                stacklevel=3,
            )
    width = u * (2 if bidirectional else 1)
    for layer in layers[1:]:
        in_dim = _directions(layer)[0].get_weights()[0].shape[0]
        if in_dim != width:
            raise ValueError(
                f"to_torch: layer '{layer.name}' takes inputs of size {in_dim}, but the layer "
                f"before it gives {width}."
            )
    return kind, u, bidirectional
