"""Option checks every command and library job runs before any work: bounds, devices, output paths (no heavy imports).

Each check raises :class:`~ran_edge.errors.RanEdgeError` with the option, the value given and what is
expected, so a bad option exits 1 with one line and nothing is computed or written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Optional

from ran_edge.errors import RanEdgeError

#: upper bounds that keep a typo from exhausting memory (a billion-face batch, a million threads): docs/bounds.md
from ran_edge.bounds import MAX_BATCH, MAX_ITERS, MAX_THREADS  # noqa: E402,F401  (re-exported)

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


def int_range(option: str, value: Optional[int], low: int, high: Optional[int] = None) -> None:
    """``low <= value <= high`` (``None`` passes: the option was not given)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise RanEdgeError(f"{option}: got {value!r}, expected an integer {bound}")


def float_range(option: str, value: Optional[float], low: float, high: Optional[float] = None, *,
                low_open: bool = False) -> None:
    """``low <(=) value <= high`` and finite (``None`` passes)."""
    if value is None:
        return
    ok = value == value and value not in (float("inf"), float("-inf"))
    ok = ok and (value > low if low_open else value >= low) and (high is None or value <= high)
    if not ok:
        lo = f"> {low}" if low_open else f">= {low}"
        raise RanEdgeError(f"{option}: got {value!r}, expected a number {lo}" + (f" and <= {high}" if high is not None else ""))


def device(option: str, text: str) -> None:
    """``cpu``, ``cuda`` or ``cuda:N``."""
    if not _DEVICE.match(str(text).strip()):
        raise RanEdgeError(f"{option}: got {text!r}, expected cpu, cuda or cuda:N")


def batches(option: str, text: str) -> None:
    """A comma list of batch sizes, each 1..MAX_BATCH."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts or not all(p.isdigit() and 1 <= int(p) <= MAX_BATCH for p in parts):
        raise RanEdgeError(f"{option}: got {text!r}, expected a comma list of integers 1..{MAX_BATCH}")


def outputs(files: Iterable[Any], inputs: Iterable[Any] = (), folders: Iterable[Any] = ()) -> None:
    """Output paths that do not destroy an input and can be written (see :func:`ran_edge.outputs.check_outputs`)."""
    from ran_edge.outputs import check_outputs

    check_outputs([f for f in files if f], [i for i in inputs if i], folders=[d for d in folders if d])


def existing_file(option: str, path: Any, expected: str) -> Path:
    """``path`` is a readable file."""
    p = Path(path)
    if not p.is_file():
        what = "is a folder" if p.is_dir() else "not found"
        raise RanEdgeError(f"{option} {path}: {what}; expected {expected}")
    return p


def face_folder(option: str, text: Any) -> None:
    """``synthetic`` (with options) or an existing folder of face images (checked before any work)."""
    if text is None or str(text).strip().split(":")[0] == "synthetic":
        return
    p = Path(str(text)).expanduser()
    if not p.is_dir():
        what = "not found" if not p.exists() else "is not a folder"
        raise RanEdgeError(f"{option} {text}: {what}; expected 'synthetic' or a folder of face images")


def empty_folder(path: Any, flag: str = "--force") -> None:
    """``path`` does not exist or is an empty folder; otherwise refused with a pointer to ``flag``."""
    p = Path(path)
    if p.exists() and (not p.is_dir() or any(p.iterdir())):
        raise RanEdgeError(f"{path} already exists and is not empty; pass {flag} to replace it")
