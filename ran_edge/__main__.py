"""The ``ran-edge`` program (also ``python -m ran_edge``)."""

import atexit
import os
import signal
import sys

from ran_edge.cli.main import main

#: exit code of an interrupted command (128 + SIGINT, what shells report for Ctrl-C)
INTERRUPTED = 130


def entry() -> int:
    """:func:`~ran_edge.cli.main.main` on ``sys.argv``. Once the command has ended (its result written or
    refused), a late Ctrl-C no longer turns the exit code into a signal death while the interpreter shuts down.

    An interrupted command (130, its one line already printed) ends the process here. CPython marks a
    KeyboardInterrupt as unhandled when it passes through Python code run from C (``PyRun_String``, which pybind11
    and so torch use), even one we caught; ``python -m`` then ends the process with SIGINT (status -2) instead of
    the code. So the exit functions run and the process exits with 130 now (non-daemon threads are not waited for:
    the user asked to stop)."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if code == INTERRUPTED:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nothing left to say
                pass
        os._exit(INTERRUPTED)
    return code


if __name__ == "__main__":
    sys.exit(entry())
