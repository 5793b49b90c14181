"""JSONL events: one line per frame with its index, timestamp and every face's id, box, label, probs, region weights.

Line format::

    {"frame": 12, "t": 0.8, "faces": [{"id": 1, "box": [x0, y0, x1, y1], "detected": true, "label": "Happiness",
     "score": 0.93, "probs": [...], "region_weights": [...]}]}

``probs`` follow the artifact's class order (written once in the first line as ``"classes"``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Optional, Sequence

from ran_edge.errors import RanEdgeError
from ran_edge.video.pipeline import FaceResult


class EventWriter:
    """Appends one JSON line per frame and flushes it, so an interrupted run leaves whole lines."""

    def __init__(self, path: Path, class_names: Sequence[str] = ()):
        self.path = Path(path)
        self.class_names = tuple(class_names)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: Optional[IO[str]] = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise RanEdgeError(f"--jsonl {self.path}: cannot write it ({exc.strerror}); expected a writable path") from exc
        self.lines = 0

    def write(self, frame_index: int, timestamp: float, results: Sequence[FaceResult]) -> None:
        """Write the line of one frame."""
        if self._fh is None:
            raise RanEdgeError(f"{self.path}: event writer is closed")
        line = {"frame": int(frame_index), "t": round(float(timestamp), 4),
                "faces": [r.to_dict() for r in results]}
        if self.lines == 0 and self.class_names:
            line["classes"] = list(self.class_names)
        self._fh.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._fh.flush()
        self.lines += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path) -> list:
    """All event lines of a JSONL file as dicts (for tests and analysis)."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
