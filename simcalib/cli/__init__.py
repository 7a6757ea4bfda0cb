"""The ``simcalib`` command line.

Each subcommand lives in its own module ``simcalib.cli._<name>`` that defines
``add_parser(subparsers)``; the parser it returns carries ``func``, called
with the parsed arguments and returning the exit code.

User errors (a missing or malformed file, a bad option value) are reported
on one line on stderr with exit code 2, never as a traceback: the library
raises :class:`ValueError` (bad values and file contents) or
:class:`OSError` (files that cannot be read or written) naming the argument
or file, and :func:`main` maps those, and :class:`CommandError`, to one line.
Any other exception is a bug and keeps its traceback. Ctrl-C gives one line
and exit code 130.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

__all__ = ["main", "CommandError"]

_SUBCOMMANDS = ("evaluate", "predict", "demo", "reproduce")


class CommandError(Exception):
    """A user-facing error: printed on one line, exit code 2."""


#: Exception types that mean "the user gave something wrong": one line, exit 2.
_USER_ERRORS = (CommandError, ValueError, OSError)


def _one_line(exc):
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


def build_parser():
    """Return the top-level :class:`argparse.ArgumentParser`."""
    from simcalib import __version__

    parser = argparse.ArgumentParser(
        prog="simcalib",
        description="Class-similarity label smoothing and calibration tools.",
    )
    parser.add_argument("--version", action="version", version=f"simcalib {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in _SUBCOMMANDS:
        import_module(f"simcalib.cli._{name}").add_parser(subparsers)
    return parser


def main(argv=None):
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 on success, 2 on a user error, 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except _USER_ERRORS as exc:
        print(f"simcalib {args.command}: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt as exc:
        detail = _one_line(exc) if str(exc) else ""
        print(f"simcalib {args.command}: interrupted{'; ' + detail if detail else ''}",
              file=sys.stderr, flush=True)
        return 130
