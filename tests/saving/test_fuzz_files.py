"""Damaged and hostile files, fuzzed: a thousand mutations of valid `.keras`, `.weights.h5` and
`lstmkit train` checkpoint files (the file `generate` and an export read). Each load either
succeeds with the original numbers or fails with lstmkit's own error (`KerasFileError`; the
command line's `CliError`) naming the file; never another exception, a hang, or memory taken
because a file declared a large size. A failed `load_weights` leaves the model as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import signal
import struct
import time
import zipfile

import h5py
import numpy as np
import pytest

import lstmkit
from lstmkit.cli import checkpoint
from lstmkit.cli.corpus import Vocabulary
from lstmkit.cli.errors import CliError
from lstmkit.models import load_model
from lstmkit.saving import optimizer_vars
from lstmkit.saving.keras_format import KerasFileError

L = lstmkit.layers
RUNS = {"keras": 400, "weights": 350, "checkpoint": 250}  # a thousand in all
SECONDS_PER_LOAD = 20  # a hang guard; a load takes milliseconds


class Hang(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds):
    def fire(*_):
        raise Hang(f"a load took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def small_model():
    x = lstmkit.Input((5, 3), name="x")
    h = L.LSTM(4, return_sequences=True, name="lstm")(x)
    h = L.GRU(4, name="gru")(h)
    model = lstmkit.Model(x, L.Dense(2, name="dense")(h), name="small")
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Valid files, their bytes, and the numbers they hold."""
    folder = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(0)
    model = small_model()
    model.fit(rng.random((4, 5, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    model.save(folder / "good.keras")
    model.save_weights(folder / "good.weights.h5")

    s = checkpoint.Settings(units=8, layers=1, embedding=4, seq_length=5, batch_size=2)
    vocab = Vocabulary("abcdefg")
    charlm = checkpoint.build_model(len(vocab), s, batch_size=s.batch_size)
    checkpoint.compile_model(charlm, s)
    charlm.set_weights([rng.standard_normal(w.shape).astype("float32")
                        for w in charlm.get_weights()])  # fmt: skip
    meta = checkpoint.new_meta(vocab, s, {"name": "fuzz"})
    states = {"lstm_1": [rng.standard_normal((2, 8)).astype("float32")] * 2}
    ckpt = checkpoint.save_checkpoint(charlm, str(folder), meta, states)
    return {
        "folder": folder,
        "keras": (folder / "good.keras").read_bytes(),
        "weights": (folder / "good.weights.h5").read_bytes(),
        "checkpoint": open(ckpt, "rb").read(),
        "model": [np.asarray(w) for w in model.get_weights()],
        "optimizer": optimizer_vars.to_keras(model),
        "charlm": [np.asarray(w) for w in charlm.get_weights()],
    }


# ----- mutations ----------------------------------------------------------------------------------
def truncate(data, rng):
    return data[: rng.integers(len(data))]


def flip_bits(data, rng):
    out = bytearray(data)
    for _ in range(rng.integers(1, 5)):
        out[rng.integers(len(out))] ^= 1 << rng.integers(8)
    return bytes(out)


def overwrite_span(data, rng):
    out = bytearray(data)
    start, n = rng.integers(len(out)), rng.integers(1, 64)
    out[start : start + n] = rng.bytes(len(out[start : start + n]))
    return bytes(out)


def wrong_sizes(data, rng):
    """A member's declared sizes changed in the central directory and/or its local header:
    small lies, or a size near 4 GiB (what a decompression bomb declares)."""
    out = bytearray(data)
    sizes = [rng.integers(0, 1 << 16), 0xFFFFFFF0, rng.integers(1 << 20, 1 << 31)]
    size = int(sizes[rng.integers(len(sizes))])
    central = [i for i in range(len(out) - 4) if out[i : i + 4] == b"PK\x01\x02"]
    local = [i for i in range(len(out) - 4) if out[i : i + 4] == b"PK\x03\x04"]
    k = rng.integers(len(central))
    fields = [(central[k] + 24, central[k] + 20), (local[k] + 22, local[k] + 18)]
    for file_size_at, compress_size_at in fields[: rng.integers(1, 3)]:
        struct.pack_into("<I", out, file_size_at, size)
        if rng.integers(2):
            struct.pack_into("<I", out, compress_size_at, size)
    return bytes(out)


def rewrite_member(data, rng):
    """The archive rewritten whole (valid CRCs) with one member damaged inside: the damage
    reaches the JSON parser, the model builder, HDF5 or numpy instead of the zip's checks."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    name = sorted(members)[rng.integers(len(members))]
    how = [truncate, flip_bits, overwrite_span, flip_bits, nest_json][rng.integers(5)]
    members[name] = how(members[name], rng) if members[name] else b"x"
    return zip_of(members)


def nest_json(data, rng):
    """A JSON value nested tens of thousands deep in place of the member or inside it."""
    depth = int(rng.integers(1000, 100_000))
    deep = "[" * depth + "]" * depth
    text = data.decode("utf-8", "replace")
    if rng.integers(2) and '"config": {' in text:
        return text.replace('"config": {', f'"config": {{"deep": {deep}, ', 1).encode()
    return deep.encode()


def zip_of(members, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, value in members.items():
            zf.writestr(name, value)
    return buffer.getvalue()


MUTATIONS = [truncate, flip_bits, overwrite_span]
ZIP_MUTATIONS = [*MUTATIONS, wrong_sizes, rewrite_member, rewrite_member]


# ----- loading ------------------------------------------------------------------------------------
def load(kind, path, files, target):
    """Load one file as a user would; return the numbers it gave."""
    if kind == "keras":
        model = load_model(path)
        return [*model.get_weights(), *optimizer_vars.to_keras(model)]
    if kind == "weights":
        target.load_weights(path)
        return target.get_weights()
    model, _, _ = checkpoint.load_for_inference(str(path))
    return model.get_weights()


def expected(kind, files):
    if kind == "keras":
        return files["model"] + files["optimizer"]
    return files["charlm"] if kind == "checkpoint" else files["model"]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, np.asarray(y)) for x, y in zip(a, b))


def test_a_thousand_damaged_files(files, tmp_path):
    rng = np.random.default_rng(2026)
    target = small_model()
    target.set_weights(files["model"])
    suffix = {"keras": "keras", "weights": "weights.h5", "checkpoint": "keras"}
    outcomes, failures, slowest = {}, [], 0.0
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for kind, runs in RUNS.items():
        mutations = MUTATIONS if kind == "weights" else ZIP_MUTATIONS
        for i in range(runs):
            mutate = mutations[rng.integers(len(mutations))]
            path = tmp_path / f"{kind}_{i}.{suffix[kind]}"
            path.write_bytes(mutate(files[kind], rng))
            start = time.perf_counter()
            try:
                with deadline(SECONDS_PER_LOAD):
                    got = load(kind, path, files, target)
                result = "loaded" if same(got, expected(kind, files)) else "WRONG NUMBERS"
            except (KerasFileError, CliError) as e:
                result = "refused" if str(path) in str(e) else f"error without the file: {e}"
            except Exception as e:  # anything else is a defect: report them all at once
                result = f"{type(e).__name__}: {str(e)[:160]}"
            slowest = max(slowest, time.perf_counter() - start)
            if kind == "weights" and not same(target.get_weights(), files["model"]):
                if result == "refused":
                    result = "a failed load changed the model"
                target.set_weights(files["model"])
            outcomes[(kind, result)] = outcomes.get((kind, result), 0) + 1
            if result not in ("loaded", "refused"):
                failures.append(f"{kind} {mutate.__name__} #{i}: {result}")
            path.unlink()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before) / 1024
    print(outcomes, f"slowest load {slowest:.3f} s, peak memory grew {grown_mb:.0f} MB")
    assert not failures, "\n".join(failures[:20])
    assert grown_mb < 1024
    # the mutations reached every outcome: some files survive, most are refused
    for kind in RUNS:
        assert outcomes.get((kind, "refused"), 0) > runs_share(kind, 0.5)
        assert outcomes.get((kind, "loaded"), 0) > 0


def runs_share(kind, share):
    return int(RUNS[kind] * share)


# ----- the hostile cases, one by one --------------------------------------------------------------
def members_of(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def refused(path, match):
    with deadline(SECONDS_PER_LOAD), pytest.raises(KerasFileError, match=match) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_a_decompression_bomb_is_refused_by_its_declared_size(files, tmp_path):
    members = members_of(files["keras"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, value in members.items():
            if name != "model.weights.h5":
                zf.writestr(name, value)
        with zf.open("model.weights.h5", "w") as member:
            for _ in range(256):
                member.write(bytes(1 << 20))  # 256 MiB of zeros, deflated to a few hundred kB
    assert len(buffer.getvalue()) < 1 << 20
    path = tmp_path / "bomb.keras"
    path.write_bytes(buffer.getvalue())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(path, "declares 268435456 bytes")
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 100


def test_a_huge_config_is_refused_before_it_is_read(files, tmp_path):
    members = members_of(files["keras"])
    members["config.json"] = b" " * (40 << 20) + members["config.json"]
    path = tmp_path / "huge.keras"
    path.write_bytes(zip_of(members, zipfile.ZIP_DEFLATED))
    refused(path, "config.json' declares")


@pytest.mark.parametrize("where", ["whole", "inside"])
def test_deeply_nested_config(files, tmp_path, where):
    members = members_of(files["keras"])
    deep = "[" * 200_000 + "]" * 200_000
    config = members["config.json"].decode()
    members["config.json"] = (deep if where == "whole" else
                              config.replace('"config": {', f'"config": {{"x": {deep}, ', 1)
                              ).encode()  # fmt: skip
    path = tmp_path / "deep.keras"
    path.write_bytes(zip_of(members))
    refused(path, "config.json")


def test_a_flipped_bit_in_a_weights_file_written_by_lstmkit_is_detected(files, tmp_path):
    """Keras's `.weights.h5` has no checksum over the numbers; lstmkit's adds one per dataset
    (an attribute Keras ignores), so damage inside a weight's bytes is an error, not a number."""
    path = tmp_path / "w.weights.h5"
    path.write_bytes(files["weights"])
    with h5py.File(path, "r") as f:
        offset = f["layers/lstm/cell/vars/0"].id.get_offset()
    data = bytearray(files["weights"])
    data[offset + 5] ^= 0x10
    path.write_bytes(bytes(data))
    target = small_model()
    with pytest.raises(KerasFileError, match="lstm/cell/vars/0' does not match its checksum"):
        target.load_weights(path)


def test_config_json_that_is_not_an_object(files, tmp_path):
    members = members_of(files["keras"])
    members["config.json"] = json.dumps([1, 2, 3]).encode()
    path = tmp_path / "list.keras"
    path.write_bytes(zip_of(members))
    refused(path, "holds a list")
