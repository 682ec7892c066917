"""Recurrent layers against real Keras 3 over their calling options (issue 2, item 6).

Each case builds the same layer in Keras and in lstmkit (the two share an API, so one builder
serves both), gives Keras random weights, copies them into lstmkit with `set_weights`, calls both
on the same inputs, mask and initial states, and requires every output and state to agree within
1e-5. Stateful cases are called three times, reset, and called again (the result must equal the
first call).

Three tiers keep CI lean:
- `COVERING`: a deterministic pairwise covering set: every pair of values of any two options
  (layer kind x mask pattern, go_backwards x initial_state, ...) occurs in at least one case.
- `test_random_configurations`: hypothesis draws further random configurations.
- `test_exhaustive` (`-m slow`): the full product of the call options for every layer kind.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import zlib

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstmkit.layers as L
from tests.layers.keras_twin import KerasRunner, assert_same, reset_keras_states

FEATURES = 4
UNITS = 3

# Layer kinds: plain layers, a stack of cells, and Bidirectional around each layer type.
KINDS = ["lstm", "gru", "gru_v1", "simple", "stacked", "bidi"]
MERGE_MODES = ["concat", "sum", "mul", "ave", None]
BIDI_INNER = ["lstm", "gru", "simple"]
MASKS = [None, "right", "left", "middle", "mixed"]  # mixed: right, left, middle, fully masked rows
ACTIVATIONS = [("tanh", "sigmoid"), ("tanh", "hard_sigmoid"), ("relu", "hard_sigmoid")]


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str = "lstm"
    merge_mode: str | None = "concat"  # Bidirectional only
    inner: str = "lstm"  # the layer Bidirectional wraps
    return_sequences: bool = False
    return_state: bool = False
    go_backwards: bool = False
    mask: str | None = None
    initial_state: bool = False
    stateful: bool = False
    unroll: bool = False
    use_bias: bool = True
    unit_forget_bias: bool = True
    activations: tuple = ("tanh", "sigmoid")
    batch: int = 4
    time: int = 5

    def normalized(self) -> Case:
        """Fold options that do not apply to this kind to their defaults."""
        c = self
        if c.kind != "bidi":
            c = dataclasses.replace(c, merge_mode="concat", inner="lstm")
        else:  # Keras's Bidirectional makes its own backward copy: the wrapped layer runs forwards
            c = dataclasses.replace(c, go_backwards=False)
        if not c.has_lstm():
            c = dataclasses.replace(c, unit_forget_bias=True)
        if c.core() == "simple":
            c = dataclasses.replace(c, activations=(c.activations[0], "sigmoid"))
        return c

    def core(self) -> str:
        return self.inner if self.kind == "bidi" else self.kind

    def has_lstm(self) -> bool:
        return self.core() in ("lstm", "stacked")

    def __str__(self) -> str:
        fields = dataclasses.asdict(self.normalized())
        default = dataclasses.asdict(Case().normalized())
        return ",".join(f"{k}={v}" for k, v in fields.items() if default[k] != v) or "default"


# ----- building the same layer in Keras and in lstmkit -------------------------------------------
def cell_kwargs(case: Case, core: str) -> dict:
    act, rec_act = case.activations
    kw = {"activation": act, "use_bias": case.use_bias}
    if core != "simple":
        kw["recurrent_activation"] = rec_act
    if core == "lstm":
        kw["unit_forget_bias"] = case.unit_forget_bias
    if core == "gru_v1":
        kw["reset_after"] = False
    return kw


def make_layer(lib, case: Case):
    """`lib` is keras.layers or lstmkit.layers."""
    rnn_kw = {
        "return_sequences": case.return_sequences,
        "return_state": case.return_state,
        "go_backwards": case.go_backwards,
        "stateful": case.stateful,
        "unroll": case.unroll,
    }

    def plain(core):
        if core == "lstm":
            return lib.LSTM(UNITS, **cell_kwargs(case, "lstm"), **rnn_kw)
        if core in ("gru", "gru_v1"):
            return lib.GRU(UNITS, **cell_kwargs(case, core), **rnn_kw)
        if core == "simple":
            return lib.SimpleRNN(UNITS, **cell_kwargs(case, "simple"), **rnn_kw)
        cells = [
            lib.LSTMCell(UNITS, **cell_kwargs(case, "lstm")),
            lib.GRUCell(UNITS - 1, **cell_kwargs(case, "gru")),
        ]
        return lib.RNN(cells, **rnn_kw)

    if case.kind == "bidi":
        return lib.Bidirectional(plain(case.inner), merge_mode=case.merge_mode)
    return plain(case.kind)


def make_mask(pattern: str | None, batch: int, time: int) -> np.ndarray | None:
    """(batch, time) booleans. With time 1 only a fully masked row can be expressed."""
    if pattern is None:
        return None
    mask = np.ones((batch, time), bool)
    for b in range(batch):
        kind = ["right", "left", "middle", "full"][b % 4] if pattern == "mixed" else pattern
        if pattern == "mixed" and b == batch - 1:
            kind = "full"  # every mixed mask has a fully masked row (batch 1: the only row)
        pad = 1 + b % max(1, time - 1)  # rows differ in their amount of padding
        if kind == "full":
            mask[b] = False
        elif time > 1 and kind == "right":
            mask[b, time - pad :] = False
        elif time > 1 and kind == "left":
            mask[b, :pad] = False
        elif time > 2 and kind == "middle":
            mask[b, 1 : 1 + min(pad, time - 2)] = False
    return mask


def state_shapes(case: Case, batch: int) -> list:
    """Nested like the layers' initial_state argument."""
    per_core = {
        "lstm": [(batch, UNITS), (batch, UNITS)],
        "gru": [(batch, UNITS)],
        "gru_v1": [(batch, UNITS)],
        "simple": [(batch, UNITS)],
        "stacked": [[(batch, UNITS), (batch, UNITS)], [(batch, UNITS - 1)]],
    }[case.core()]
    return per_core * 2 if case.kind == "bidi" else per_core


def random_like(rng: np.random.Generator, shapes):
    if isinstance(shapes, list):
        return [random_like(rng, s) for s in shapes]
    return rng.normal(0.0, 0.5, shapes).astype(np.float32)


def keras_unroll(case: Case) -> bool:
    """The `unroll` to give Keras so that its numbers are the reference for lstmkit's.

    In lstmkit `unroll` is a pure speed knob: the same scan runs, unrolled, so the numbers never
    change. Keras's unrolled loop (backend/jax/rnn.py) differs from its scan in two masked corner
    cases: at a masked *first* step it outputs zeros instead of the initial h, and it ignores
    `zero_output_for_mask` (which Bidirectional switches on when returning sequences). Where a
    case can reach either, lstmkit's unroll=True is compared with Keras's scan (unroll=False),
    the behaviour lstmkit keeps in both modes.
    """
    if not case.unroll or case.mask is None:
        return case.unroll
    nonzero_h0 = case.initial_state or case.stateful
    zero_output = case.kind == "bidi" and case.return_sequences
    return not (nonzero_h0 or zero_output)


# ----- running one case --------------------------------------------------------------------------
def check_case(case: Case) -> None:
    case = case.normalized()
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))
    shape = (case.batch, case.time, FEATURES)
    xs = [rng.normal(size=shape).astype(np.float32) for _ in range(3)]
    mask = make_mask(case.mask, case.batch, case.time)
    init = random_like(rng, state_shapes(case, case.batch)) if case.initial_state else None
    call_kw = {"mask": mask, "initial_state": init}

    theirs = make_layer(keras.layers, dataclasses.replace(case, unroll=keras_unroll(case)))
    theirs.build(shape)
    ours = make_layer(L, case)
    ours(xs[0], **call_kw)  # builds on the same input

    # Deterministic initial weights (the biases: zeros, or the unit forget bias) match Keras's.
    for variable, w in zip(theirs.weights, ours.get_weights()):
        assert w.shape == tuple(variable.shape), f"{case}: weight {variable.path} shape"
        if "bias" in variable.path:
            np.testing.assert_array_equal(
                w, np.asarray(variable.value), err_msg=f"{case}: built bias"
            )

    weights = [rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    if case.stateful:
        ours.reset_states()  # the building call above advanced the states

    run_theirs = KerasRunner(theirs)
    first = ours(xs[0], **call_kw)
    assert_same(first, run_theirs(xs[0], **call_kw), f"{case} call 1")
    if case.stateful:
        for i, x in enumerate(xs[1:], start=2):
            assert_same(ours(x, **call_kw), run_theirs(x, **call_kw), f"{case} call {i}")
        ours.reset_states()
        reset_keras_states(theirs)
        again = ours(xs[0], **call_kw)
        assert_same(again, run_theirs(xs[0], **call_kw), f"{case} after reset_states")
        assert_same(again, first, f"{case} after reset_states vs first call")


# ----- tier 1: a pairwise covering set -----------------------------------------------------------
FACTORS = {
    "kind": KINDS,
    "return_sequences": [False, True],
    "return_state": [False, True],
    "go_backwards": [False, True],
    "mask": MASKS,
    "initial_state": [False, True],
    "stateful": [False, True],
    "unroll": [False, True],
    "use_bias": [False, True],
    "unit_forget_bias": [False, True],
    "activations": ACTIVATIONS,
    "batch": [1, 4],
    "time": [1, 5],
}
BIDI_FACTORS = {"merge_mode": MERGE_MODES, "inner": BIDI_INNER}


# Within Bidirectional, the merge mode shapes the outputs and the wrapped layer shapes the states,
# so each is paired with the options that meet it there; the rest is the wrapped layer's own code.
BIDI_PAIRED = [
    ["merge_mode", "return_sequences", "return_state"],
    ["inner", "return_state", "initial_state", "stateful"],
]


def _pairs(case: Case) -> set:
    c = dataclasses.asdict(case)
    names = [n for n in FACTORS if not (n == "unit_forget_bias" and not case.has_lstm())]
    if case.kind == "bidi":
        names.remove("go_backwards")
    pairs = set(itertools.combinations([(n, repr(c[n])) for n in names], 2))
    if case.kind == "bidi":
        for group in BIDI_PAIRED:
            pairs |= set(itertools.combinations([(n, repr(c[n])) for n in group], 2))
    return pairs


def covering_set(seed: int = 0, candidates: int = 200) -> list[Case]:
    """Greedy pairwise covering (AETG): add the random case that covers most new pairs."""
    rnd = random.Random(seed)
    all_factors = {**FACTORS, **BIDI_FACTORS}
    covered: set = set()
    cases: list[Case] = []
    while True:
        pool = [
            Case(**{k: rnd.choice(v) for k, v in all_factors.items()}).normalized()
            for _ in range(candidates)
        ]
        best = max(pool, key=lambda c: len(_pairs(c) - covered))
        if not _pairs(best) - covered:
            return cases
        cases.append(best)
        covered |= _pairs(best)


COVERING = covering_set()


@pytest.mark.parametrize("case", COVERING, ids=str)
def test_covering_set(case):
    check_case(case)


# ----- tier 2: random configurations -------------------------------------------------------------
cases_strategy = st.builds(
    Case,
    **{k: st.sampled_from(v) for k, v in {**FACTORS, **BIDI_FACTORS}.items()},
)


@settings(max_examples=12, deadline=None, database=None)
@given(case=cases_strategy)
def test_random_configurations(case):
    check_case(case)


# ----- tier 3: everything (pytest -m slow) -------------------------------------------------------
def exhaustive_cases() -> list[Case]:
    """Every combination of the call options, for every kind (and Bidirectional merge mode);
    the cell options (bias, activations, batch, time) cycle through their values alongside."""
    cell_options = itertools.cycle(
        itertools.product([True, False], [True, False], ACTIVATIONS, [4, 1], [5, 1])
    )
    kinds = [(k, "concat", "lstm") for k in KINDS if k != "bidi"]
    kinds += [("bidi", m, i) for m, i in zip(MERGE_MODES + ["concat"], BIDI_INNER * 2)]
    out = []
    for (kind, mode, inner), *flags, mask in itertools.product(kinds, *[[False, True]] * 6, MASKS):
        rs, rst, gb, init, stateful, unroll = flags
        if kind == "bidi" and gb:
            continue
        use_bias, ufb, acts, batch, time = next(cell_options)
        out.append(Case(kind, mode, inner, rs, rst, gb, mask, init, stateful, unroll, use_bias,
                        ufb, acts, batch, time))  # fmt: skip
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case", exhaustive_cases(), ids=str)
def test_exhaustive(case):
    check_case(case)
