"""Small argument helpers shared by subcommands (no heavy imports)."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ran_edge.errors import RanEdgeError


def add_trust_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow checkpoints that need arbitrary unpickling (only for files you trust)")


def parse_class_names(text: str) -> tuple[str, ...]:
    """A class-set name (rafdb, ferplus, affectnet8, affectnet7, synthetic) or a comma list."""
    from ran_edge.data.classes import CLASS_SETS

    if text in CLASS_SETS:
        return CLASS_SETS[text]
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if len(names) < 2:
        raise RanEdgeError(f"--classes: got '{text}', expected one of {sorted(CLASS_SETS)} or a comma-separated list of >= 2 names")
    return names


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write JSON to a temp file and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
