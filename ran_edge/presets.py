"""Region presets: which face regions RAN looks at, as data (docs/model.md §1).

A preset is a frozen, named list of boxes given as fractions of the aligned face
``(x0, y0, x1, y1)`` with ``0 <= x0 < x1 <= 1``, plus the index of the full face ("the copy", I0).
Users may pass their own presets as JSON::

    {"name": "my5", "full_face_index": 0, "rb_margin": 0.1,
     "boxes": [{"name": "full", "box": [0, 0, 1, 1]}, {"name": "eyes", "box": [0, 0, 1, 0.5]}, ...]}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ran_edge.errors import RanEdgeError
from ran_edge.jsonio import read_json

FULL_FACE_BOX = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class RegionBox:
    """One face region, as fractions of the aligned face."""

    name: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass(frozen=True)
class RegionPreset:
    """A named set of K regions; ``boxes[full_face_index]`` is the uncropped face.

    ``rb_margin`` is the default Region-Biased loss margin α for this preset (docs/model.md §5).
    """

    name: str
    boxes: tuple[RegionBox, ...]
    full_face_index: int
    rb_margin: float

    def __post_init__(self) -> None:
        validate_preset(self)

    @property
    def num_regions(self) -> int:
        return len(self.boxes)

    @property
    def crop_indices(self) -> tuple[int, ...]:
        """Indices of the crops, i.e. every region except the full face."""
        return tuple(i for i in range(len(self.boxes)) if i != self.full_face_index)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "full_face_index": self.full_face_index,
            "rb_margin": self.rb_margin,
            "boxes": [{"name": b.name, "box": list(b.box)} for b in self.boxes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "preset") -> "RegionPreset":
        try:
            boxes = tuple(
                RegionBox(str(b["name"]), *(float(v) for v in b["box"])) for b in data["boxes"]
            )
            k = len(boxes)
            margin = data.get("rb_margin")
            return cls(
                name=str(data.get("name", "custom")),
                boxes=boxes,
                full_face_index=int(data["full_face_index"]),
                rb_margin=float(margin) if margin is not None else default_rb_margin(k),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RanEdgeError(
                f"{source}: invalid region preset ({type(exc).__name__}: {exc}); expected "
                '{"name", "full_face_index", "boxes": [{"name", "box": [x0, y0, x1, y1]}, ...]}'
            ) from exc


def default_rb_margin(num_regions: int) -> float:
    """RB-loss margin used by the official code: 0.1 for K=6 (FERPlus), 0.03 for K=8 (AffectNet).

    docs/model.md §5: the margins are tuned for the softmax-ed attention scale, whose weights sit
    near 1/K; other region counts get the margin of the nearer side (0.1 for K<=6, 0.03 for K>=7).
    """
    return 0.1 if num_regions <= 6 else 0.03


def validate_preset(preset: RegionPreset) -> None:
    """Raise :class:`RanEdgeError` if boxes are outside [0,1], empty, or the full face is wrong."""
    where = f"region preset '{preset.name}'"
    if len(preset.boxes) < 2:
        raise RanEdgeError(f"{where}: needs at least 2 regions (the full face and one crop), got {len(preset.boxes)}")
    if not 0 <= preset.full_face_index < len(preset.boxes):
        raise RanEdgeError(
            f"{where}: full_face_index {preset.full_face_index} is out of range 0..{len(preset.boxes) - 1}"
        )
    full = [i for i, b in enumerate(preset.boxes) if _is_full(b.box)]
    if full != [preset.full_face_index]:
        raise RanEdgeError(
            f"{where}: exactly one region must be the full face [0, 0, 1, 1] at full_face_index "
            f"{preset.full_face_index}; full-face regions found at {full}"
        )
    for i, b in enumerate(preset.boxes):
        vals = b.box
        if not all(math.isfinite(v) for v in vals):
            raise RanEdgeError(f"{where}: region {i} '{b.name}' has a non-finite coordinate {vals}")
        if not all(0.0 <= v <= 1.0 for v in vals):
            raise RanEdgeError(f"{where}: region {i} '{b.name}' box {vals} is outside [0, 1]")
        if not (b.x1 > b.x0 and b.y1 > b.y0):
            raise RanEdgeError(f"{where}: region {i} '{b.name}' box {vals} has no positive size (need x1 > x0, y1 > y0)")
    if not (math.isfinite(preset.rb_margin) and 0 <= preset.rb_margin < 1):
        raise RanEdgeError(f"{where}: rb_margin {preset.rb_margin} must be in [0, 1)")


def _is_full(box: tuple[float, float, float, float]) -> bool:
    return all(abs(a - b) < 1e-9 for a, b in zip(box, FULL_FACE_BOX))


# docs/model.md §1: FERPlus, 5 crops + the full face at index 5 (the official model's "original").
# Boxes from the reimplementation's crop script (file order re-arranged so the full face is last).
FERPLUS6 = RegionPreset(
    name="ferplus6",
    boxes=(
        RegionBox("top_left", 0.0, 0.0, 0.75, 0.75),
        RegionBox("top_right", 0.25, 0.0, 1.0, 0.75),
        RegionBox("centre_down", 0.125, 0.25, 0.875, 1.0),
        RegionBox("centre_0.9", 0.05, 0.05, 0.95, 0.95),
        RegionBox("centre_0.85", 0.075, 0.075, 0.925, 0.925),
        RegionBox("full_face", *FULL_FACE_BOX),
    ),
    full_face_index=5,
    rb_margin=0.1,  # docs/model.md §5: FERPlus (K=6) alpha = 0.1
)

# docs/model.md §1: AffectNet on-the-fly crops, 7 crops + the original at index 7.
AFFECTNET8 = RegionPreset(
    name="affectnet8",
    boxes=(
        RegionBox("centre_down", 0.125, 0.25, 0.875, 1.0),
        RegionBox("top_left", 0.0, 0.0, 0.75, 0.75),
        RegionBox("top_right", 0.25, 0.0, 1.0, 0.75),
        RegionBox("centre_0.9", 0.05, 0.05, 0.95, 0.95),
        RegionBox("centre_0.8", 0.1, 0.1, 0.9, 0.9),
        RegionBox("centre_0.75", 0.125, 0.125, 0.875, 0.875),
        RegionBox("centre_top", 0.125, 0.0, 0.875, 0.75),
        RegionBox("full_face", *FULL_FACE_BOX),
    ),
    full_face_index=7,
    rb_margin=0.03,  # docs/model.md §5: AffectNet natural sampling (K=8) alpha = 0.03
)

PRESETS: dict[str, RegionPreset] = {p.name: p for p in (FERPLUS6, AFFECTNET8)}


def get_preset(name_or_path: str | RegionPreset) -> RegionPreset:
    """Return a built-in preset by name, or load a user preset from a JSON file path."""
    if isinstance(name_or_path, RegionPreset):
        return name_or_path
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]
    path = Path(name_or_path)
    if path.suffix.lower() == ".json" or path.exists():
        if not path.is_file():
            raise RanEdgeError(f"region preset file not found: {path}")
        return RegionPreset.from_dict(read_json(path, "not a readable JSON region preset"), source=str(path))
    raise RanEdgeError(
        f"unknown region preset '{name_or_path}'; expected one of {sorted(PRESETS)} or a .json file"
    )
