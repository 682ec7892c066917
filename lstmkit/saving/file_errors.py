"""lstmkit's one error for files it cannot read safely, and the bounded read of a zip member
that every reader of a `.keras` archive uses (models, lone preprocessing layers, checkpoints)."""

from __future__ import annotations

import zipfile


class KerasFileError(ValueError):
    """A `.keras` or `.weights.h5` file that cannot be read safely, or does not fit."""


def read_member(zf: zipfile.ZipFile, path: str, name: str, limit: int) -> bytes:
    """A member's bytes, refused if it declares more than `limit` (zipfile never inflates past
    the declared size, so memory stays bounded by it) or fails the archive's CRC-32."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise KerasFileError(f"{path}: the archive has no '{name}'; it is incomplete or not "
                             "a Keras 3 model file.") from None  # fmt: skip
    if info.file_size > limit:
        raise KerasFileError(f"{path}: '{name}' declares {info.file_size} bytes, more than "
                             f"it can hold ({limit}); refused.")  # fmt: skip
    try:
        return zf.read(name)
    except Exception as e:  # zipfile raises many kinds on damage (CRC, method, zlib, EOF...)
        raise KerasFileError(f"{path}: '{name}' is truncated or corrupt ({e}).") from e
