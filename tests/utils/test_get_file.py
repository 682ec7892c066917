"""`utils.get_file` against Keras 3's: the same cache paths, downloads, hash checks and archive
extraction, with `file://` origins (no network)."""

import hashlib
import io
import os
import tarfile
import zipfile

import keras
import pytest

import lstmkit


@pytest.fixture
def sources(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "nietzsche.txt").write_text("a text corpus\n")
    with tarfile.open(src / "data.tar.gz", "w:gz") as tar:
        for name, text in (("data/a.txt", b"alpha"), ("../evil.txt", b"escape")):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    with zipfile.ZipFile(src / "pack.zip", "w") as z:
        z.writestr("pack/b.txt", "beta")
    return src


def both(tmp_path, *args, **kwargs):
    """get_file of each library in its own cache dir: the paths relative to it, and the dirs."""
    out = []
    for lib in (keras, lstmkit):
        cache = tmp_path / lib.__name__
        path = lib.utils.get_file(*args, cache_dir=str(cache), **kwargs)
        out.append((os.path.relpath(path, cache), cache))
    return out


def listing(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder)
                  for d, _, files in os.walk(folder) for f in files)  # fmt: skip


@pytest.mark.parametrize(
    "fname, source, kwargs",
    [("nietzsche.txt", "nietzsche.txt", {}), (None, "nietzsche.txt", {}),
     ("data.tar.gz", "data.tar.gz", {"extract": True}), ("data", "data.tar.gz", {"untar": True}),
     (None, "pack.zip", {"extract": True, "cache_subdir": "sub"})],
)  # fmt: skip
def test_paths_and_files_match_keras(tmp_path, sources, fname, source, kwargs):
    origin = (sources / source).as_uri()
    (k_rel, k_cache), (l_rel, l_cache) = both(tmp_path, fname, origin, **kwargs)
    assert l_rel == k_rel
    assert listing(l_cache) == listing(k_cache)  # the member outside the folder is skipped
    assert not (tmp_path / "evil.txt").exists()


def test_hashes_cache_and_force_download(tmp_path, sources, capsys):
    origin = (sources / "nietzsche.txt").as_uri()
    sha = hashlib.sha256((sources / "nietzsche.txt").read_bytes()).hexdigest()
    md5 = hashlib.md5((sources / "nietzsche.txt").read_bytes()).hexdigest()
    cache = str(tmp_path / "c")
    path = lstmkit.utils.get_file("t.txt", origin, file_hash=sha, cache_dir=cache)
    assert "Downloading data from" in capsys.readouterr().out
    (sources / "nietzsche.txt").write_text("changed\n")
    assert lstmkit.utils.get_file("t.txt", origin, md5_hash=md5, cache_dir=cache) == path
    assert "Downloading" not in capsys.readouterr().out  # cached and valid: no download
    assert open(path).read() == "a text corpus\n"
    lstmkit.utils.get_file("t.txt", origin, cache_dir=cache, force_download=True)
    assert open(path).read() == "changed\n"
    for lib in (keras, lstmkit):
        with pytest.raises(ValueError, match="file hash does not match"):
            lib.utils.get_file("u.txt", origin, file_hash=sha, cache_dir=cache)
        with pytest.raises(ValueError, match="Paths are no longer accepted"):
            lib.utils.get_file(os.path.join("a", "b.txt"), origin, cache_dir=cache)
        with pytest.raises(ValueError, match="origin"):
            lib.utils.get_file("x.txt", cache_dir=cache)
    with pytest.raises(Exception, match="URL fetch failure"):
        lstmkit.utils.get_file("m.txt", (sources / "missing.txt").as_uri(), cache_dir=cache)
    assert not os.path.exists(os.path.join(cache, "datasets", "m.txt"))
