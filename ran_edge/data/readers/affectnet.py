"""AffectNet reader (manually annotated part; docs/model.md §9).

Files, as distributed (either directly in the dataset folder or under the distributed sub-folders)::

    [Manually_Annotated_file_lists/]training.csv     train (and the val carved from it)
    [Manually_Annotated_file_lists/]validation.csv   the official val set, used as *test* (RAN, docs/model.md §9)
    [Manually_Annotated_Images/]<subDirectory_filePath>

CSV columns: ``subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks,
expression, valence, arousal``. Only ``subDirectory_filePath`` and ``expression`` are required.
Expression ids 0..7 are Neutral, Happy, Sad, Surprise, Fear, Disgust, Anger, Contempt; 8 None,
9 Uncertain and 10 No-Face are excluded; the 7-class variant also excludes 7 Contempt. Labels keep
their AffectNet ids. The images are full pictures: when the four face-box columns are present (and
``crop`` is on) each decoded image is cropped to ``[face_x, face_x+face_width) x [face_y,
face_y+face_height)``, clipped to the image. CSVs are validated eagerly; images are checked only
when decoded (a missing or unreadable one raises :class:`DataError` naming the CSV line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ran_edge.data.classes import AFFECTNET7_CLASSES, AFFECTNET8_CLASSES
from ran_edge.data.dataset import FaceSample, FileDataset
from ran_edge.data.readers.ferplus import csv_rows
from ran_edge.data.splits import Split, as_split, stratified_split
from ran_edge.errors import DataError, RanEdgeError

TRAIN_CSV = "training.csv"
TEST_CSV = "validation.csv"
LIST_DIRS: tuple[str, ...] = ("", "Manually_Annotated_file_lists")
IMAGE_DIRS: tuple[str, ...] = ("Manually_Annotated_Images", "Manually_Annotated/Manually_Annotated_Images", "")
REQUIRED: tuple[str, ...] = ("subDirectory_filePath", "expression")
BOX_COLUMNS: tuple[str, ...] = ("face_x", "face_y", "face_width", "face_height")
MAX_EXPRESSION = 10  # 8 None, 9 Uncertain, 10 No-Face


def find_affectnet_file(root: Path, name: str) -> Path:
    """``root/name`` or ``root/Manually_Annotated_file_lists/name``."""
    cands = [root / d / name if d else root / name for d in LIST_DIRS]
    for cand in cands:
        if cand.is_file():
            return cand
    raise DataError(f"{cands[0]}: file not found (also looked for {cands[1]}); AffectNet needs {TRAIN_CSV} and {TEST_CSV}")


def find_image_dir(root: Path) -> Path:
    """First existing of ``Manually_Annotated_Images/``, ``Manually_Annotated/Manually_Annotated_Images/``, root."""
    for d in IMAGE_DIRS:
        cand = root / d if d else root
        if cand.is_dir():
            return cand
    return root


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}:{line}: {column} {text!r} is not a number") from None
    if not np.isfinite(value):
        raise DataError(f"{path}:{line}: {column} {text!r} is not a finite number")
    return value


def _expression(path: Path, line: int, text: str) -> int:
    value = _number(path, line, "expression", text)
    if value != int(value) or not 0 <= value <= MAX_EXPRESSION:
        raise DataError(f"{path}:{line}: expression {text!r} out of range; expected an integer 0..{MAX_EXPRESSION}")
    return int(value)


def _face_box(path: Path, line: int, row: Mapping[str, str]) -> tuple[int, int, int, int]:
    x, y, w, h = (int(round(_number(path, line, c, row[c]))) for c in BOX_COLUMNS)
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise DataError(f"{path}:{line}: face box x={x} y={y} w={w} h={h} is invalid; expected x,y >= 0 and w,h > 0")
    return x, y, w, h


def read_affectnet_csv(path: Path, image_dir: Path, n_classes: int, crop: bool) -> list[tuple[Path, int, dict[str, Any]]]:
    """Entries ``(image path, label, meta)`` of one AffectNet CSV, excluded classes dropped."""
    if n_classes not in (7, 8):
        raise RanEdgeError(f"AffectNet has 7 or 8 expression classes; got {n_classes}")
    optional = BOX_COLUMNS + ("valence", "arousal")
    entries: list[tuple[Path, int, dict[str, Any]]] = []
    for line, row in csv_rows(path, REQUIRED, optional):
        where = f"{path}:{line}"
        rel = row["subDirectory_filePath"]
        if not rel:
            raise DataError(f"{where}: empty subDirectory_filePath; expected a path like 689/abc.jpg")
        label = _expression(path, line, row["expression"])
        if label >= n_classes:
            continue
        meta: dict[str, Any] = {"where": where, "name": rel}
        if crop and all(c in row for c in BOX_COLUMNS):
            meta["face_box"] = _face_box(path, line, row)
        for key in ("valence", "arousal"):
            if key in row:
                meta[key] = _number(path, line, key, row[key])
        entries.append((image_dir / rel, label, meta))
    return entries


def crop_face(image: np.ndarray, box: Sequence[int], where: str = "") -> np.ndarray:
    """Crop ``box = (x, y, w, h)`` from ``image``, clipped to its bounds; DataError if nothing is left."""
    x, y, w, h = (int(v) for v in box)
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        raise DataError(f"{where}: face box x={x} y={y} w={w} h={h} lies outside the {width}x{height} image")
    return np.ascontiguousarray(image[y0:y1, x0:x1])


class FaceBoxDataset(FileDataset):
    """A :class:`FileDataset` whose entries may carry ``meta["face_box"] = (x, y, w, h)`` to crop."""

    def __getitem__(self, index: int) -> FaceSample:
        sample = super().__getitem__(index)
        box = sample.meta.get("face_box")
        if box is None:
            return sample
        where = f"{sample.meta.get('path', '')} ({sample.meta.get('where', '')})"
        return FaceSample(crop_face(sample.image, box, where), sample.label, sample.meta)


def affectnet_dataset(
    root: Path,
    split: Split | str,
    *,
    n_classes: int = 8,
    crop: bool = True,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> FaceBoxDataset:
    """One split of AffectNet: train/val from ``training.csv`` (stratified carve), test = ``validation.csv``.

    Raises:
        DataError: missing CSV, missing column, bad value (names file and line) or an empty split.
    """
    split = as_split(split)
    root = Path(root)
    classes = AFFECTNET7_CLASSES if n_classes == 7 else AFFECTNET8_CLASSES
    path = find_affectnet_file(root, TEST_CSV if split is Split.TEST else TRAIN_CSV)
    entries = read_affectnet_csv(path, find_image_dir(root), n_classes, crop)
    if split is not Split.TEST and entries:
        tr_idx, va_idx = stratified_split([e[1] for e in entries], val_fraction, seed)
        entries = [entries[i] for i in (tr_idx if split is Split.TRAIN else va_idx)]
    if not entries:
        raise DataError(f"{path}: no usable entries for the {split.value} split ({n_classes}-class)")
    return FaceBoxDataset(entries, classes)
