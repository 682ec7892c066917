"""Shared pieces of the command-line tests: a small text, tiny model sizes, one trained run."""

import os
import random
import shutil

import pytest

from lstmkit.cli import main

# Tiny sizes: a model that compiles and trains in seconds.
TINY = ["--units", "8", "--layers", "1", "--embedding", "4", "--seq-length", "8",
        "--batch-size", "4"]  # fmt: skip


def tiny_text(words: int = 500, seed: int = 1) -> str:
    rng = random.Random(seed)
    vocabulary = "the quick brown fox jumps over a lazy dog and runs far away".split()
    return " ".join(rng.choice(vocabulary) for _ in range(words)) + "\n"


def run_cli(argv, capsys):
    """main(argv) in this process: (exit code, stdout, stderr). argparse's errors exit."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "tiny.txt"
    path.write_text(tiny_text())
    return str(path)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, text_file):
    """A run directory trained 2 epochs on the tiny text (shared: generate and inspect read it)."""
    out = tmp_path_factory.mktemp("run") / "run"
    code = main(["train", text_file, "--out", str(out), *TINY, "--epochs", "2"])
    assert code == 0
    return str(out)


@pytest.fixture
def run_copy(trained, tmp_path):
    """A private copy of the trained run, for tests that train further."""
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    return str(out)


def checkpoint_of(out) -> str:
    return os.path.join(str(out), "model.keras")
