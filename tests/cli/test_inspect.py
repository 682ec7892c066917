"""`lstmkit inspect`: a PNG of every gate and state over the given text."""

from tests.cli.conftest import checkpoint_of, run_cli


def test_inspect_writes_a_png(trained, tmp_path, capsys):
    png = tmp_path / "trace.png"
    code, out, err = run_cli(
        ["inspect", checkpoint_of(trained), "--text", "the lazy dog", "--out", png], capsys
    )
    assert code == 0 and err == ""
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "lstm_1" in out and "12 characters" in out
