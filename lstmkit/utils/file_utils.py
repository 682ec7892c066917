"""Writing files atomically: to a temporary file beside the target, then `os.replace`.

Shared by the Keras file formats (`lstmkit.saving`) and the ONNX export (`lstmkit.export`), which
sit side by side above models and may not import each other.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any


def _new_file_mode(path: str) -> int:
    """The mode a plain `open(path, "w")` would give (mkstemp's files are private, 0o600)."""
    try:
        return os.stat(path).st_mode & 0o777  # keep an existing file's mode
    except OSError:
        pass
    try:  # the umask without changing it (os.umask would, briefly, for every thread)
        with open("/proc/self/status") as f:
            umask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Write a file through `write(fileobj)` into a temporary file beside `path`, then rename.

    `os.replace` is atomic on POSIX and Windows: readers (and a crash at any point) see either
    the old file or the complete new one, never a partial file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
