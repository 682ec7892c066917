"""The `lstmkit` command: train a character-level LSTM language model on a text, generate text
with it, and look inside it.

  lstmkit train [TEXT_FILE] --out DIR      (no TEXT_FILE: Python's standard library source)
  lstmkit generate DIR/model.keras --prompt "def " --length 200
  lstmkit inspect DIR/model.keras --text "def main():" --out trace.png

Each is the public lstmkit API a user can script (Sequential, fit, callbacks, model.save,
lstmkit.inspect). A mistake in what is given (a file, a flag, a checkpoint) is reported in one
line on stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import sys

from lstmkit.cli import demo, generate, trace_text, train
from lstmkit.cli.errors import CliError

__all__ = ["CliError", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


POSITIVE_INT, POSITIVE_FLOAT = _positive(int), _positive(float)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a character-level LSTM language model",
        description=train.__doc__.split("\n\n")[0],
        epilog="example: lstmkit train --out run --max-steps 300   "
        "(then: lstmkit train --out run --resume --max-steps 3000)",
    )
    p.add_argument(
        "text",
        nargs="?",
        metavar="TEXT_FILE",
        help="a UTF-8 text file (default: Python standard library source, ~2 MB)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="directory for model.keras (the checkpoint) and history.csv",
    )
    arg = p.add_argument
    arg("--units", type=POSITIVE_INT, help="units of each LSTM layer (default 128)")
    arg("--layers", type=POSITIVE_INT, help="number of stacked LSTM layers (default 2)")
    arg("--embedding", type=POSITIVE_INT, help="size of each character's embedding (default 64)")
    arg("--seq-length", type=POSITIVE_INT, help="characters per row of a batch (default 100)")
    arg("--batch-size", type=POSITIVE_INT, help="rows (text streams) per batch (default 32)")
    arg("--learning-rate", type=POSITIVE_FLOAT, help="Adam's learning rate (default 0.002)")
    arg("--seed", type=int, help="seed of the initial weights (default 0)")
    arg(
        "--epochs",
        type=POSITIVE_INT,
        help="train until this many epochs in all (default 1, or as many as --max-steps needs)",
    )
    arg(
        "--max-steps",
        type=POSITIVE_INT,
        help="train until this many steps in all (counting those of earlier runs in DIR)",
    )
    arg(
        "--resume",
        action="store_true",
        help="continue DIR's checkpoint: its weights, optimizer state, epoch and step",
    )
    p.set_defaults(run=train.run, command="train")


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write text sampled from a trained model, character by character",
        description=generate.__doc__,
        epilog='example: lstmkit generate run/model.keras --prompt "def " --length 300',
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a model.keras from lstmkit train")
    p.add_argument("--prompt", help="text to start from (default: a new line)")
    p.add_argument(
        "--length", type=POSITIVE_INT, default=200, help="characters to generate (default 200)"
    )
    p.add_argument(
        "--temperature",
        type=POSITIVE_FLOAT,
        default=1.0,
        help="below 1: safer, more repetitive; above 1: wilder (default 1.0)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampling (default 0)")
    p.set_defaults(run=generate.run, command="generate")


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="plot every gate and state of the model's LSTM layers over a text",
        description=trace_text.__doc__,
        epilog='example: lstmkit inspect run/model.keras --text "def main():" --out trace.png',
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a model.keras from lstmkit train")
    p.add_argument("--text", required=True, help="the characters to run through the model")
    p.add_argument("--out", required=True, metavar="PNG", help="where to write the picture")
    p.set_defaults(run=trace_text.run, command="inspect")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="lstmkit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    _add_train(sub)
    _add_generate(sub)
    _add_inspect(sub)
    d = sub.add_parser("demo", help="print the four return_sequences x return_state outputs")
    d.add_argument("--seed", type=int, default=0, help="random seed for the LSTM weights")
    d.set_defaults(run=lambda args: demo.demo(args.seed) or 0, command="demo")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (the console script exits with it)."""
    p = parser()
    args = p.parse_args(argv)
    if not hasattr(args, "run"):
        p.print_help()
        return 0
    command = f"lstmkit {args.command}"
    try:
        return args.run(args)
    except CliError as e:
        print(f"{command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{command}: interrupted; the last checkpoint is intact", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lstmkit generate ... | head`: the reader left
        sys.stderr.close()
        return 0
