"""``ran-edge`` entry point: a registry of subcommands, one module each.

Each subcommand module defines ``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int`` and
imports heavy packages only inside ``run``, so ``ran-edge --help`` works on a bare install. Exit codes
and one-line errors: :mod:`ran_edge.cli.failures`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import Sequence

from ran_edge import __version__, bounds
from ran_edge.cli.common import DefaultsHelpFormatter
from ran_edge.cli.failures import EXPECTED, InterruptWatch, OneLineParser, one_line, quiet_finalizers

#: subcommand name → module under ran_edge.cli
COMMANDS: dict[str, str] = {
    "demo": "demo", "train": "train", "eval": "evaluate", "import-checkpoint": "import_checkpoint", "export": "export",
    "inspect": "inspect", "calibrate": "calibrate", "build-engine": "build_engine", "bench": "bench", "run": "run",
    "export-triton": "export_triton", "serve": "serve", "qat": "qat", "cache": "cache",
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (subcommands whose module is missing are listed as unavailable)."""
    parser = OneLineParser(prog="ran-edge", description="RAN facial-expression recognition: train, export, quantize, "
                                                        "build TensorRT engines, bench, run.",
                          formatter_class=DefaultsHelpFormatter)
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
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, formatter_class=DefaultsHelpFormatter)
        p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
        module.add_arguments(p)
        bounds.apply(name, p)  # the one table of bounds (docs/bounds.md), checked at parse time
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 user error, 130 interrupted)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # while the parser or a command module is imported
        quiet_finalizers()
        print("ran-edge: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    with InterruptWatch() as ctrl_c:
        try:
            return int(args._run(args) or 0)
        except EXPECTED as exc:
            if args.verbose:
                traceback.print_exc()
            if not ctrl_c.seen:
                print(f"ran-edge {args.command}: error: {one_line(exc)}", file=sys.stderr)
                return 1
        except KeyboardInterrupt:
            pass
    if not args.verbose:
        quiet_finalizers()
    print(f"ran-edge {args.command}: interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
