"""The one error type of the command line: a user mistake, reported as one line, no traceback."""


class CliError(Exception):
    """A problem with what the user gave (a file, a flag, a checkpoint), said in one line."""
