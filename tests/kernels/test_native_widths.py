"""The native kernels compiled for narrower vectors than this CPU's, against the reference.

The library is built with -march=native, so a run checks only the code for its own CPU's vector
width. On a CPU with AVX-512 this test builds it again without AVX-512 (8-float vectors, the code an
AVX2 CPU such as AMD's Zen 3 runs: half-panel register tiles), in a subprocess (the FFI targets'
names are per process), and runs the reference checks there: LSTM and GRU, masks, both ways of
sharing work between threads, panel tails, a K chunk, the matrix-vector loops. The 4-float code
(aarch64's NEON) has no x86 build to check it with: without AVX there is no FMA either, and the
separately rounded products put one gradient element 1.2e-5 from the reference (bound 1.1e-5).
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import textwrap

import jax
import pytest

from lstmkit.kernels import native as nat
from lstmkit.kernels.native import build

pytestmark = pytest.mark.skipif(
    jax.default_backend() != "cpu" or not nat.available() or platform.machine() != "x86_64",
    reason="x86-64 vector widths; the native kernels run on CPU and need a C++ compiler",
)

CHECKS = textwrap.dedent("""
    import sys
    from lstmkit.kernels.native import build
    lib = build.library()
    assert lib is not None, build.last_error()
    assert lib.lstmkit_vector_lanes() == int(sys.argv[1]), lib.lstmkit_vector_lanes()
    from tests.kernels import test_native as lstm, test_native_gru as gru
    for kind in ("lstm", "gru"):
        lstm.check(*lstm.SWEEP[7], kind=kind)  # a random mask, zero output, backwards
        lstm.check("none", False, True, False, True, batch=7, time=4, features=5, units=21,
                   kind=kind)  # a panel and a tail of 5 units
        lib.lstmkit_set_k_chunk(40)
        lstm.check("random", False, True, False, True, batch=26, time=6, features=9, units=40,
                   kind=kind)
        lib.lstmkit_set_k_chunk(0)
    for shape in lstm.SPLITS:  # rows split, units split, a streamed step
        lstm.test_work_split_between_threads_matches_reference(*shape)
    for shape in gru.SPLITS[:2]:  # each with its tolerance (the modules say why)
        gru.test_work_split_between_threads_matches_reference(*shape)
    lstm.test_batch_one_and_time_one(1, 6)  # matrix-vector loops
    gru.test_batch_one_and_time_one(1, 6)
    print("ok")
""")


def run_narrower(flag: str, lanes: int) -> None:
    cxx = build.compiler()
    env = {**os.environ, "LSTMKIT_CXX": shlex.join([*cxx, flag]), "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-c", CHECKS, str(lanes)], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip().endswith("ok")


def own_lanes() -> int:
    return build.library().lstmkit_vector_lanes()


@pytest.mark.skipif(not nat.available() or own_lanes() < 16, reason="this CPU has no AVX-512")
def test_avx2_build_matches_reference():
    run_narrower("-mno-avx512f", 8)
