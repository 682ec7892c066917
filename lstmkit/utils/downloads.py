"""`get_file`: download a data file once into Keras's cache (`~/.keras/datasets`), as Keras 3's
`keras.utils.get_file` (the text-generation tutorials' first line), with its cache paths, hash
check and archive extraction (members that would land outside the target are refused)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from typing import Any


def keras_home() -> str:
    """`$KERAS_HOME`, else `~/.keras` (`/tmp/.keras` when the home folder is read-only)."""
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    return os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")


def _hasher(algorithm: str, file_hash: str | None = None) -> Any:
    if algorithm == "sha256" or (algorithm == "auto" and file_hash and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()  # Keras's legacy default


def hash_file(fpath: str, algorithm: str = "sha256", chunk_size: int = 65535) -> str:
    """The file's sha256 (or md5) hex digest."""
    hasher = _hasher(algorithm)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath: str, file_hash: str, algorithm: str = "auto") -> bool:
    """Whether the file's hash is `file_hash` ("auto": sha256 for 64 hex digits, else md5)."""
    hasher = _hasher(algorithm, file_hash)
    name = "sha256" if hasher.name == "sha256" else "md5"
    return hash_file(fpath, name) == str(file_hash)


def _inside(base: str, name: str) -> bool:
    target = os.path.realpath(os.path.join(base, name))
    return os.path.commonpath([os.path.realpath(base), target]) == os.path.realpath(base)


def _safe_tar_member(path: str, member: tarfile.TarInfo) -> bool:
    if not _inside(path, member.name) or member.isdev():
        return False
    if member.issym() or member.islnk():  # a link must point inside the folder too
        return _inside(path, os.path.join(os.path.dirname(member.name), member.linkname))
    return True


def _extract(archive: Any, path: str) -> None:
    """Extract the members that stay inside `path` (Keras skips the others too)."""
    if isinstance(archive, tarfile.TarFile):
        safe = [m for m in archive.getmembers() if _safe_tar_member(path, m)]
        archive.extractall(path, members=safe, filter="data")
    else:
        archive.extractall(path, members=[n for n in archive.namelist() if _inside(path, n)])


def extract_archive(file_path: str, path: str = ".", archive_format: Any = "auto") -> bool:
    """Extract a tar (.tar, .tar.gz, .tar.bz2) or zip archive into `path`; False if it is none
    of `archive_format` ("auto": tar then zip)."""
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else archive_format
    for kind in [formats] if isinstance(formats, str) else formats:
        if kind not in ("tar", "zip"):
            raise NotImplementedError(kind)
        is_match, open_fn = ((tarfile.is_tarfile, tarfile.open) if kind == "tar"
                             else (zipfile.is_zipfile, zipfile.ZipFile))  # fmt: skip
        if is_match(file_path):
            with open_fn(file_path) as archive:
                try:
                    _extract(archive, path)
                except (tarfile.TarError, RuntimeError, KeyboardInterrupt):
                    if os.path.isfile(path):
                        os.remove(path)
                    elif os.path.exists(path):
                        shutil.rmtree(path)
                    raise
            return True
    return False


def _targets(fname: Any, origin: str, datadir: str, extract: bool) -> tuple[str, str | None]:
    """(where the download goes, where it is extracted), as Keras names them."""
    given = fname is not None and str(fname) != ""
    fname = os.fspath(fname) if given else os.path.basename(urllib.parse.urlsplit(origin).path)
    if not fname:
        raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'."
                         "Please specify the `fname` argument.")  # fmt: skip
    if os.sep in fname:
        raise ValueError(
            "Paths are no longer accepted as the `fname` argument. To specify the file's "
            f"parent directory, use the `cache_dir` argument. Received: fname={fname}"
        )
    if not extract:
        return os.path.join(datadir, fname), None
    if given and "." in fname:
        stem = fname[: fname.find(".")]
        return os.path.join(datadir, fname), os.path.join(datadir, f"{stem}_extracted")
    return os.path.join(datadir, f"{fname}_archive"), os.path.join(datadir, fname)


def get_file(
    fname: Any = None,
    origin: str | None = None,
    untar: bool = False,
    md5_hash: str | None = None,
    file_hash: str | None = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format: Any = "auto",
    cache_dir: Any = None,
    force_download: bool = False,
) -> str:
    """Download `origin` into `cache_dir/cache_subdir` unless a valid copy is there; returns its
    path, or with `extract=True` the folder it was extracted into."""
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(os.fspath(cache_dir) if cache_dir is not None else keras_home())
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    target, extraction_dir = _targets(fname, origin, datadir, extract or untar)
    download = force_download or not os.path.exists(target)
    if (
        not download
        and file_hash is not None
        and not validate_file(target, file_hash, hash_algorithm)
    ):
        print(f"A local file was found, but it seems to be incomplete or outdated because the "
              f"{hash_algorithm} file hash does not match the original value of {file_hash} so "
              "we will re-download the data.")  # fmt: skip
        download = True
    if download:
        print(f"Downloading data from {origin}")
        try:
            urllib.request.urlretrieve(origin, target)
        except urllib.error.HTTPError as e:
            _remove(target)
            raise Exception(f"URL fetch failure on {origin}: {e.code} -- {e.msg}") from None
        except urllib.error.URLError as e:
            _remove(target)
            raise Exception(f"URL fetch failure on {origin}: {e.errno} -- {e.reason}") from None
        except (Exception, KeyboardInterrupt):
            _remove(target)
            raise
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            raise ValueError(
                f"Incomplete or corrupted file detected. The {hash_algorithm} file hash does "
                f"not match the provided value of {file_hash}."
            )
    if extraction_dir is None:
        return target
    if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
        warnings.warn("Could not extract archive.", stacklevel=2)
    return extraction_dir


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)
