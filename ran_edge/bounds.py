"""The one table of bounds for every count and size option of every command, checked at parse time.

``docs/bounds.md`` is this table rendered by :func:`markdown_table` (``tests/hostile/test_bounds.py`` keeps the
two equal and walks every option of every command with absurd values). ``ran_edge.cli.main`` wraps each bounded
option's argparse ``type`` with :func:`argparse_type`, so an out-of-range value exits 1 with one line before any
import, file or computation; the synthetic ``--data`` options (``synthetic:n_train=N,...``) are bounded from the
same table (:data:`SYNTHETIC`), by the CLI at parse time and by ``ran_edge.data.spec`` for library callers.
Pure Python, no imports beyond the standard library.
"""

from __future__ import annotations

import argparse
import enum
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

#: upper bounds shared by several options
MAX_BATCH = 4096
MAX_THREADS = 256
MAX_ITERS = 1_000_000
MAX_FACES = 100_000  # calibration, held-out, evaluation and analysis faces
MAX_SEED = 2**32 - 1
MAX_INSTANCES = 64


class Kind(str, enum.Enum):
    """What an option's text is: one integer, one number, a comma list of integers, or a ``--data`` spec."""

    INT = "integer"
    FLOAT = "number"
    INT_LIST = "comma list of integers"
    DATA = "data spec"


@dataclass(frozen=True)
class Bound:
    """``low <= value <= high`` (``low_open``: ``low < value``); for lists, each item; for data specs, the synthetic
    options of :data:`SYNTHETIC`. The upper bounds keep a typo from starting a job that runs until killed or
    exhausts memory (a billion faces, a million threads, a thousand server instances)."""

    low: float
    high: float
    kind: Kind = Kind.INT
    low_open: bool = False

    def describe(self) -> str:
        """``1..4096``, ``> 0 and <= 1000``: the range as the one-line errors and the docs table say it."""
        if self.kind is Kind.DATA:
            return "synthetic options as in the table below"
        lo, hi = _num(self.low), _num(self.high)
        if self.low_open:
            return f"> {lo} and <= {hi}"
        return f"{lo}..{hi}"

    def check(self, option: str, value: Any) -> None:
        """Raise ``ValueError`` (one line: option, value, expected) when ``value`` is out of bounds."""
        if self.kind is Kind.DATA:
            check_synthetic_spec(option, str(value))
            return
        items = [value] if self.kind in (Kind.INT, Kind.FLOAT) else _int_items(option, value)
        for v in items:
            if v is None:
                continue
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            ok = ok and (v > self.low if self.low_open else v >= self.low) and v <= self.high
            if not ok:
                what = ("an " if self.kind is Kind.INT else "a ") + self.kind.value + \
                    (" with each item" if self.kind is Kind.INT_LIST else "")
                raise ValueError(f"{option}: got {value!r}, expected {what} {self.describe()}")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


def _int_items(option: str, value: Any) -> list:
    if isinstance(value, (tuple, list)):
        return list(value)
    parts = [p.strip() for p in str(value).split(",")]
    if not all(re.fullmatch(r"-?\d+", p) for p in parts):
        raise ValueError(f"{option}: got {value!r}, expected a comma list of integers")
    return [int(p) for p in parts]


B = Bound
#: option → bound, per command (every row explicit: the table is complete, and docs/bounds.md is rendered from it)
BOUNDS: Mapping[str, Mapping[str, Bound]] = {
    "demo": {"--epochs": B(1, 1000), "--n-train": B(1, 1_000_000), "--seed": B(0, MAX_SEED)},
    "train": {"--epochs": B(1, 100_000), "--lr": B(0, 10, Kind.FLOAT, low_open=True), "--batch-size": B(1, MAX_BATCH),
              "--weight-decay": B(0, 1, Kind.FLOAT), "--rb-margin": B(0, 1, Kind.FLOAT), "--face-size": B(8, 4096),
              "--region-size": B(8, 4096), "--trunk-width": B(4, 1024), "--seed": B(0, MAX_SEED),
              "--workers": B(0, MAX_THREADS), "--val-fraction": B(0, 1, Kind.FLOAT, low_open=True),
              "--data": B(0, 0, Kind.DATA)},
    "eval": {"--batch-size": B(1, MAX_BATCH), "--seed": B(0, MAX_SEED), "--data": B(0, 0, Kind.DATA)},
    "import-checkpoint": {"--face-size": B(8, 4096)},
    "export": {"--opset": B(13, 20), "--batch": B(1, MAX_BATCH), "--fp16-num": B(1, MAX_FACES)},
    "calibrate": {"--num": B(1, MAX_FACES), "--percentile": B(0, 100, Kind.FLOAT, low_open=True),
                  "--holdout-num": B(1, MAX_FACES), "--max-higher-precision": B(0, 10_000),
                  "--batch-size": B(1, MAX_BATCH), "--seed": B(0, MAX_SEED), "--eval": B(0, MAX_FACES),
                  "--data": B(0, 0, Kind.DATA), "--holdout": B(0, 0, Kind.DATA)},
    "build-engine": {"--calib-num": B(1, MAX_FACES), "--batch": B(1, MAX_BATCH, Kind.INT_LIST),
                     "--workspace": B(1, 1_048_576), "--dla-core": B(0, 15), "--device": B(0, 63),
                     "--calib-data": B(0, 0, Kind.DATA)},
    "bench": {"--batch": B(1, MAX_BATCH, Kind.INT_LIST), "--warmup": B(0, 100_000), "--iters": B(1, MAX_ITERS),
              "--seconds": B(0, 86_400, Kind.FLOAT, low_open=True), "--threads": B(1, MAX_THREADS),
              "--max-faces": B(1, 1_000_000), "--device": B(0, 63), "--data": B(0, 0, Kind.DATA)},
    "run": {"--detect-every": B(1, 10_000), "--max-faces": B(0, 10_000), "--max-age": B(0, 1_000_000),
            "--max-frames": B(0, 100_000_000), "--fps": B(0, 1000, Kind.FLOAT, low_open=True)},
    "export-triton": {"--max-batch": B(0, MAX_BATCH), "--instances": B(1, MAX_INSTANCES),
                      "--preferred-batch": B(1, MAX_BATCH, Kind.INT_LIST), "--queue-delay-us": B(0, 10_000_000)},
    "serve": {"--port": B(1, 65_533), "--max-batch": B(1, MAX_BATCH), "--instances": B(1, MAX_INSTANCES),
              "--queue-delay-us": B(0, 10_000_000), "--threads": B(1, MAX_THREADS),
              "--drain-timeout": B(0, 3600, Kind.FLOAT)},
    "qat": {"--epochs": B(1, 1000), "--lr": B(0, 10, Kind.FLOAT, low_open=True), "--num": B(1, 1_000_000),
            "--holdout-num": B(1, MAX_FACES), "--batch-size": B(1, MAX_BATCH), "--calib-num": B(1, MAX_FACES),
            "--seed": B(0, MAX_SEED), "--threads": B(1, MAX_THREADS), "--data": B(0, 0, Kind.DATA),
            "--calib-data": B(0, 0, Kind.DATA)},
}

#: the numeric options of a ``synthetic:...`` data spec
SYNTHETIC: Mapping[str, Bound] = {"n_train": B(1, 1_000_000), "n_val": B(1, 1_000_000), "n_test": B(1, 1_000_000),
                                  "size": B(8, 1024), "seed": B(0, MAX_SEED)}


def check_synthetic_spec(option: str, text: str) -> None:
    """Bounds of the numeric options of a ``synthetic:k=v,...`` spec (other specs pass: checked when opened)."""
    head, colon, rest = text.strip().partition(":")
    if head != "synthetic" or not colon:
        return
    for piece in (p.strip() for p in rest.split(",") if p.strip()):
        key, _, value = piece.partition("=")
        bound = SYNTHETIC.get(key.strip())
        if bound is None:
            continue  # unknown keys are refused by ran_edge.data.spec with the list of known ones
        value = value.strip()
        if not re.fullmatch(r"\d+", value) or not bound.low <= int(value) <= bound.high:
            raise ValueError(f"{option}: data option {key.strip()}={value!r} is invalid; expected an integer "
                             f"{bound.describe()}")


def argparse_type(option: str, bound: Bound, inner: Optional[Callable[[str], Any]]) -> Callable[[str], Any]:
    """An argparse ``type`` that converts with ``inner`` (str when None) and then checks ``bound``."""
    convert = inner or str

    def bounded(text: str) -> Any:
        value = convert(text)
        if isinstance(value, float) and bound.kind is Kind.INT:
            raise argparse.ArgumentTypeError(f"got {text!r}, expected an integer {bound.describe()}")
        try:
            bound.check(option, value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1] + " (docs/bounds.md)") from None
        return value

    bounded.__name__ = getattr(convert, "__name__", "value")
    bounded.bound = bound  # type: ignore[attr-defined]  (read by the walker test)
    bounded.inner = convert  # type: ignore[attr-defined]
    return bounded


def apply(command: str, parser: argparse.ArgumentParser) -> None:
    """Wrap the ``type`` of every option of ``command`` that the table bounds (see :func:`argparse_type`)."""
    table = BOUNDS.get(command, {})
    for action in parser._actions:
        flag = next((o for o in action.option_strings if o in table), None)
        if flag is not None:
            action.type = argparse_type(flag, table[flag], action.type)


def markdown_table() -> str:
    """The bounds as the Markdown table of ``docs/bounds.md``."""
    rows = ["| command | option | kind | bounds |", "|---|---|---|---|"]
    for command, table in BOUNDS.items():
        for option, bound in table.items():
            rows.append(f"| `{command}` | `{option}` | {bound.kind.value} | {bound.describe()} |")
    for key, bound in SYNTHETIC.items():
        rows.append(f"| any `--data`-like option | `synthetic:{key}=N` | {bound.kind.value} | {bound.describe()} |")
    return "\n".join(rows) + "\n"


def bounded_options() -> Dict[Tuple[str, str], Bound]:
    """(command, option) → bound, flattened."""
    return {(c, o): b for c, t in BOUNDS.items() for o, b in t.items()}
