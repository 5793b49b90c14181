"""The CLI's failure policy (``docs/architecture.md`` §5).

Exit codes: 0 success; 1 every expected failure — a user error (:class:`RanEdgeError`), a bad option
(argparse's errors too, which would otherwise exit 2 with a usage block), a file-system error
(:class:`OSError`: unwritable folder, a folder where a file is expected, ``/proc`` paths), running out
of memory — printed as one line ``ran-edge COMMAND: error: MESSAGE``; 130 interrupted; 3 ``bench
--compare`` regression. ``--verbose`` shows the traceback; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, NoReturn, Tuple, Type

from ran_edge.errors import RanEdgeError

#: exceptions a command reports as ``ran-edge COMMAND: error: MESSAGE`` with exit 1; any other is a bug
EXPECTED: Tuple[Type[BaseException], ...] = (RanEdgeError, OSError, MemoryError)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 1, like every other user error."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(1, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def one_line(exc: BaseException) -> str:
    """The message of an expected failure, on one line."""
    from ran_edge.outputs import os_error_line

    if isinstance(exc, RanEdgeError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = f"out of memory ({exc or 'MemoryError'}); expected smaller sizes (batch, iterations, threads)"
    else:
        text = os_error_line(exc) if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


def quiet_finalizers() -> None:
    """After Ctrl-C, objects that a library was building when interrupted (e.g. pyparsing's, while matplotlib
    is imported) may fail in ``__del__``; Python prints those as "Exception ignored ... Traceback". They are
    noise after an interrupt, not a failure of the command: keep stderr to the one line."""
    sys.unraisablehook = lambda unraisable: None


class InterruptWatch:
    """While active (main thread, Ctrl-C handled the default way): Ctrl-C still raises KeyboardInterrupt, and is
    remembered. A library interrupted mid-way may turn the interrupt into an error of its own (an extension module
    cut off while it initialised fails its re-import with "type ... is already registered", which looks like "not
    installed"); a command that fails after a Ctrl-C was interrupted, and says so."""

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None

    def __enter__(self) -> "InterruptWatch":
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
