"""Reading JSON files the user points at, with the package's one-line error (no heavy imports)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ran_edge.errors import RanEdgeError


def read_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file; an unreadable or malformed file raises ``RanEdgeError("<path>: <what> (<why>)")``.

    Args:
        path: the file (its existence is the caller's check, with the caller's message).
        what: the error phrase, e.g. ``"unreadable metadata JSON"``.
    """
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RanEdgeError(f"{path}: {what} ({exc})") from exc
