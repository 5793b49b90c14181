"""The ``ran-edge`` program (also ``python -m ran_edge``)."""

import signal
import sys

from ran_edge.cli.main import main


def entry() -> int:
    """:func:`~ran_edge.cli.main.main` on ``sys.argv``. Once the command has ended (its result written or
    refused), a late Ctrl-C no longer turns the exit code into a signal death while the interpreter shuts down."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


if __name__ == "__main__":
    sys.exit(entry())
