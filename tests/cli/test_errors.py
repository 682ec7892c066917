"""Every mistake a user can make with the command is one line on stderr, a non-zero exit code,
and no traceback."""

import os
import subprocess
import sys

import pytest

import lstmkit
from tests.cli.conftest import TINY, checkpoint_of, run_cli


def _one_line_error(code, err, *phrases):
    assert code not in (0, None), err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


@pytest.mark.parametrize(
    "content, phrase",
    [
        (b"", "is empty"),
        (b"text\x00with\x00NULs" * 50, "binary file"),
        (b"\xff\xfe\x00\x01" + bytes(range(128, 256)) * 20, "binary file"),
        (b"caf\xe9 " * 400, "not UTF-8 text"),
        (b"a short text\n", "too short for one batch"),
    ],
    ids=["empty", "binary", "binary-high-bytes", "latin-1", "too-short"],
)
def test_bad_text_files(tmp_path, capsys, content, phrase):
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    code, _, err = run_cli(["train", path, "--out", tmp_path / "run", *TINY], capsys)
    _one_line_error(code, err, phrase, str(path))
    assert not os.path.exists(tmp_path / "run" / "model.keras")


def test_missing_text_file(tmp_path, capsys):
    code, _, err = run_cli(["train", tmp_path / "nope.txt", "--out", tmp_path / "r"], capsys)
    _one_line_error(code, err, "no such file")


@pytest.fixture(scope="module")
def not_a_char_model(tmp_path_factory):
    """A real .keras file, of another kind of model."""
    folder = tmp_path_factory.mktemp("foreign")
    model = lstmkit.Sequential([lstmkit.Input((3,)), lstmkit.layers.Dense(2)])
    path = folder / "dense.keras"
    model.save(str(path))
    (folder / "notes.keras").write_text("not a zip file")
    return folder


@pytest.mark.parametrize(
    "name, phrase",
    [
        ("dense.keras", "not a character model"),
        ("notes.keras", "not a checkpoint"),
        ("missing.keras", "no such checkpoint"),
        (".", "is a directory"),
    ],
)
@pytest.mark.parametrize("command", ["generate", "inspect"])
def test_checkpoints_that_are_not_character_models(not_a_char_model, capsys, name, phrase, command):
    path = not_a_char_model / name
    extra = ["--text", "abc", "--out", not_a_char_model / "t.png"] if command == "inspect" else []
    code, _, err = run_cli([command, path, *extra], capsys)
    _one_line_error(code, err, phrase)


def test_prompt_and_text_outside_the_vocabulary(trained, tmp_path, capsys):
    code, out, err = run_cli(["generate", checkpoint_of(trained), "--prompt", "Hé?"], capsys)
    _one_line_error(code, err, "--prompt has", "'H'", "'é'", "'?'")
    assert out == ""  # nothing printed before the check
    png = tmp_path / "t.png"
    code, _, err = run_cli(
        ["inspect", checkpoint_of(trained), "--text", "dog!", "--out", png], capsys
    )
    _one_line_error(code, err, "--text has", "'!'")
    assert not png.exists()


@pytest.mark.parametrize(
    "flag, value, phrase",
    [
        ("--length", "0", "must be greater than 0, got 0"),
        ("--length", "-5", "must be greater than 0, got -5"),
        ("--length", "ten", "expected a int"),
        ("--temperature", "0", "must be greater than 0, got 0"),
        ("--temperature", "-0.5", "must be greater than 0, got -0.5"),
    ],
)
def test_length_and_temperature_must_be_positive(trained, capsys, flag, value, phrase):
    code, _, err = run_cli(["generate", checkpoint_of(trained), flag, value], capsys)
    _one_line_error(code, err, flag, phrase)


def test_resume_needs_a_run_directory(text_file, tmp_path, capsys, not_a_char_model):
    code, _, err = run_cli(["train", text_file, "--out", tmp_path / "none", "--resume"], capsys)
    _one_line_error(code, err, "--resume: no such directory")
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["train", text_file, "--out", tmp_path / "empty", "--resume"], capsys)
    _one_line_error(code, err, "holds no model.keras")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "model.keras").write_bytes((not_a_char_model / "dense.keras").read_bytes())
    code, _, err = run_cli(["train", text_file, "--out", foreign, "--resume"], capsys)
    _one_line_error(code, err, "not a character model")


def test_resume_refuses_other_sizes_and_texts(trained, tmp_path, capsys):
    code, _, err = run_cli(["train", "--out", trained, "--resume", "--units", "9"], capsys)
    _one_line_error(code, err, "--units 9 differs from the checkpoint's 8")
    other = tmp_path / "other.txt"
    other.write_text("another text " * 300)
    code, _, err = run_cli(["train", other, "--out", trained, "--resume"], capsys)
    _one_line_error(code, err, "the text differs")
    code, _, err = run_cli(["train", "--out", trained, "--resume", "--epochs", "1"], capsys)
    _one_line_error(code, err, "already trained")


def test_a_new_run_does_not_overwrite_a_checkpoint(trained, text_file, capsys):
    before = open(checkpoint_of(trained), "rb").read()
    code, _, err = run_cli(["train", text_file, "--out", trained, *TINY], capsys)
    _one_line_error(code, err, "already holds a checkpoint", "--resume")
    assert open(checkpoint_of(trained), "rb").read() == before


def test_python_dash_m_runs_the_command(tmp_path):
    """`python -m lstmkit`: the same command, errors included, in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-m", "lstmkit", "generate", str(tmp_path / "x.keras")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    _one_line_error(result.returncode, result.stderr, "lstmkit generate: error: no such checkpoint")
    result = subprocess.run([sys.executable, "-m", "lstmkit", "train", "--help"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0 and "--max-steps" in result.stdout


def test_every_subcommand_has_help(capsys):
    for command in ["train", "generate", "inspect", "demo"]:
        code, out, _ = run_cli([command, "--help"], capsys)
        assert code == 0 and out.startswith(f"usage: lstmkit {command}")
    assert run_cli([], capsys)[0] == 0  # no command: the overview
