"""Compile the native CPU kernels on first use, cache the library, load it, register its targets.

Why at run time: lstmkit installs with a plain `pip install` (no build step, no per-platform
wheel). The C++ source ships in the package; the first process that needs it compiles it with the
system C++ compiler against the XLA FFI headers that jaxlib ships (`jax.ffi.include_dir()`), into
a per-user cache keyed by the source, jaxlib's version, the flags, the compiler and the machine.
Later processes load the cached library (milliseconds). It needs no BLAS: its products are its
own (packed_gemm.h).

Cache: `$LSTMKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/lstmkit`, else `~/.cache/lstmkit`. The
library is written to a temporary file and renamed into place, so that processes compiling at
the same time never load a half-written file. Compiler: `$LSTMKIT_CXX`, else Python's configured
C++ compiler, else `c++`, `g++`, `clang++` on the PATH. Threads: `$LSTMKIT_NUM_THREADS`, else the
cores the process may run on. Switched off by `LSTMKIT_NATIVE=0` or
`set_enabled(False)`. Any failure (no compiler, compile error, no FFI headers) logs one warning
and leaves the XLA path (kernels/fused.py) in charge.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
import threading
from pathlib import Path

import jax
import jaxlib

log = logging.getLogger("lstmkit")

SOURCE = Path(__file__).with_name("lstm_cpu.cc")
# -ffast-math is avoided: it would let the compiler assume no NaN/inf (Keras's NaN semantics).
FLAGS = ["-O3", "-march=native", "-fPIC", "-shared", "-std=c++20", "-fno-math-errno", "-w"]
TARGETS = ("lstmkit_lstm_fwd", "lstmkit_lstm_bwd", "lstmkit_gru_fwd", "lstmkit_gru_bwd")

_lock = threading.Lock()
_state: dict = {"loaded": None, "tried": False, "error": None}
_ENABLED = [os.environ.get("LSTMKIT_NATIVE", "1").strip().lower() not in ("0", "false", "off")]


def set_enabled(enabled: bool) -> None:
    """Switch the native kernels on or off (off: the XLA fused path runs)."""
    _ENABLED[0] = bool(enabled)


def enabled() -> bool:
    return _ENABLED[0]


def cache_dir() -> Path:
    """Where compiled libraries are kept."""
    if os.environ.get("LSTMKIT_CACHE_DIR"):
        return Path(os.environ["LSTMKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lstmkit"


def compiler() -> list[str] | None:
    """The C++ compiler command, or None when none is found."""
    if os.environ.get("LSTMKIT_CXX"):
        return shlex.split(os.environ["LSTMKIT_CXX"])
    configured = shlex.split(sysconfig.get_config_var("CXX") or "")
    if configured and shutil.which(configured[0]):
        return configured
    for name in ("c++", "g++", "clang++"):
        if shutil.which(name):
            return [name]
    return None


def _cpu_name() -> str:
    try:  # -march=native: a library built on one CPU model may not run on another
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                return line
    except OSError:
        pass
    return platform.processor()


def library_path(cxx: list[str]) -> Path:
    """The cache path for this source, jaxlib, compiler, flags and machine."""
    key = hashlib.sha256()
    sources = [SOURCE, *sorted(SOURCE.parent.glob("*.h"))]
    parts = [f.read_bytes() for f in sources]
    parts += [jaxlib.__version__.encode(), " ".join(cxx + FLAGS).encode()]
    parts += [platform.machine().encode(), _cpu_name().encode()]
    for part in parts:
        key.update(part + b"\0")
    return cache_dir() / f"lstm_cpu_{key.hexdigest()[:20]}.so"


def compile_library(cxx: list[str], target: Path) -> None:
    """Compile SOURCE into `target`, atomically (a temporary file renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so.tmp", dir=target.parent)
    os.close(fd)
    try:
        cmd = [*cxx, *FLAGS, f"-I{jax.ffi.include_dir()}", str(SOURCE), "-o", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-2000:]}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def threads() -> int:
    """Threads the kernels may use (they split work in two at most): `$LSTMKIT_NUM_THREADS`, else
    the cores this process may run on (its affinity mask, e.g. under `taskset` or a container)."""
    if os.environ.get("LSTMKIT_NUM_THREADS"):
        return max(1, int(os.environ["LSTMKIT_NUM_THREADS"]))
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _load() -> ctypes.CDLL:
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (set LSTMKIT_CXX)")
    path = library_path(cxx)
    if not path.exists():
        compile_library(cxx, path)
    lib = ctypes.CDLL(str(path))
    lib.lstmkit_native_init.argtypes = [ctypes.c_int]
    lib.lstmkit_native_init(threads())
    for name in TARGETS:
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(lib, name)), platform="cpu")
    return lib


def library() -> ctypes.CDLL | None:
    """The loaded library (compiled first if needed), or None if it cannot be had: one warning."""
    if _state["tried"]:
        return _state["loaded"]
    with _lock:
        if not _state["tried"]:
            try:
                _state["loaded"] = _load()
            except Exception as exc:  # any failure means: run the XLA path instead
                _state["error"] = str(exc)
                log.warning("lstmkit: native CPU kernels unavailable, using XLA (%s)", exc)
            _state["tried"] = True
    return _state["loaded"]


def last_error() -> str | None:
    """Why the library could not be had (None if it loaded or was not tried)."""
    return _state["error"]


def available() -> bool:
    """Whether the native CPU kernels are switched on and load (compiling them if needed)."""
    return enabled() and library() is not None
