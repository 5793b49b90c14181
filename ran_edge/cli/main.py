"""``ran-edge`` entry point: a registry of subcommands, one module each.

Each subcommand module defines ``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int`` and
imports heavy packages only inside ``run``, so ``ran-edge --help`` works on a bare install.
Exit codes: 0 success; 1 every expected failure — a user error (:class:`RanEdgeError`), a bad option
(argparse's errors too, which would otherwise exit 2 with a usage block), a file-system error
(:class:`OSError`: unwritable folder, a folder where a file is expected, ``/proc`` paths), running out
of memory — printed as one line ``ran-edge COMMAND: error: MESSAGE``; 130 interrupted; 3 ``bench
--compare`` regression. ``--verbose`` shows the traceback; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import NoReturn, Sequence

from ran_edge import __version__
from ran_edge.errors import RanEdgeError

#: subcommand name → module under ran_edge.cli
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "train": "train",
    "eval": "evaluate",
    "import-checkpoint": "import_checkpoint",
    "export": "export",
    "inspect": "inspect",
    "calibrate": "calibrate",
    "build-engine": "build_engine",
    "bench": "bench",
    "run": "run",
    "export-triton": "export_triton",
    "serve": "serve",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 1, like every other user error."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(1, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (subcommands whose module is missing are listed as unavailable)."""
    parser = _Parser(
        prog="ran-edge",
        description="RAN facial-expression recognition: train, export, quantize, build TensorRT engines, bench, run.",
    )
    parser.add_argument("--version", action="version", version=f"ran-edge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"ran_edge.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ran_edge.cli.{module_name}":
                raise
            continue  # not part of this build
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 user error, 130 interrupted)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # while the parser or a command module is imported
        _quiet_finalizers()
        print("ran-edge: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except (RanEdgeError, OSError, MemoryError) as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"ran-edge {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if not args.verbose:
            _quiet_finalizers()
        print(f"ran-edge {args.command}: interrupted", file=sys.stderr)
        return 130


def _quiet_finalizers() -> None:
    """After Ctrl-C, objects that a library was building when interrupted (e.g. pyparsing's, while matplotlib
    is imported) may fail in ``__del__``; Python prints those as "Exception ignored ... Traceback". They are
    noise after an interrupt, not a failure of the command: keep stderr to the one line."""
    sys.unraisablehook = lambda unraisable: None


def _one_line(exc: BaseException) -> str:
    """The message of an expected failure, on one line."""
    from ran_edge.outputs import os_error_line

    if isinstance(exc, RanEdgeError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = f"out of memory ({exc or 'MemoryError'}); expected smaller sizes (batch, iterations, threads)"
    else:
        text = os_error_line(exc) if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
