"""FERPlus reader: ``fer2013.csv`` pixels + ``fer2013new.csv`` votes (docs/model.md §9).

Files (in the dataset folder, or its ``fer2013/`` sub-folder)::

    fer2013.csv      emotion,pixels,Usage           48x48 gray pixels, space-separated, one face a row
    fer2013new.csv   Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF

Row *i* of one file describes the same face as row *i* of the other (Microsoft's
``src/generate_training_data.py`` pairs them by index); an empty ``Image name`` marks a face that
FERPlus dropped. Usage ``Training`` -> train, ``PublicTest`` -> val, ``PrivateTest`` -> test.

Label rule: the FERPlus ``majority`` mode of ``microsoft/FERPlus`` ``src/ferplus.py``
(``_process_data`` + ``load_folders``), implemented by :func:`majority_label`:

1. every vote count ``<= 1`` is set to 0 (outlier removal: ``emotion_raw[i] < 1.0 + eps``), over all
   10 columns including unknown and NF;
2. if the largest remaining count is more than half of the remaining total, its column is the label,
   otherwise the face is "unknown";
3. faces whose label is unknown or NF (column 8 or 9) are excluded.

With ``votes=True`` each sample's ``meta["votes"]`` is the raw counts of the 8 emotion columns
normalised to sum 1 (before outlier removal), for soft-label training. Images are served as
3-channel BGR uint8 (gray replicated) from memory, kept as one gray array to save memory.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ran_edge.data.classes import FERPLUS_CLASSES
from ran_edge.data.dataset import FaceSample
from ran_edge.data.splits import Split, as_split
from ran_edge.errors import DataError

FER_FILE = "fer2013.csv"
NEW_FILE = "fer2013new.csv"
FER_COLUMNS: tuple[str, ...] = ("emotion", "pixels", "Usage")
VOTE_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF",
)
NEW_COLUMNS: tuple[str, ...] = ("Usage", "Image name") + VOTE_COLUMNS
USAGE_SPLIT: Mapping[str, Split] = {"Training": Split.TRAIN, "PublicTest": Split.VAL, "PrivateTest": Split.TEST}
SIDE = 48


def majority_label(votes: Sequence[float]) -> int | None:
    """FERPlus majority label of 10 vote counts, or None for unknown / not-a-face (see module doc)."""
    kept = [float(v) if float(v) > 1.0 else 0.0 for v in votes]
    total = sum(kept)
    top = max(kept)
    if total <= 0.0 or not top > 0.5 * total:
        return None
    idx = kept.index(top)
    return idx if idx < len(FERPLUS_CLASSES) else None


class GrayFaceDataset:
    """In-memory 48x48 gray faces, served as ``HxWx3`` uint8 BGR :class:`FaceSample`."""

    def __init__(self, images: np.ndarray, labels: Sequence[int], metas: Sequence[Mapping[str, Any]],
                 class_names: Sequence[str]):
        self.images = np.ascontiguousarray(images, dtype=np.uint8)
        self._labels = np.asarray(labels, dtype=np.int64)
        self.metas = list(metas)
        self.class_names = tuple(class_names)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> FaceSample:
        gray = self.images[index]
        return FaceSample(np.repeat(gray[:, :, None], 3, axis=2), int(self._labels[index]), dict(self.metas[index]))

    @property
    def labels(self) -> np.ndarray:
        return self._labels.copy()


def find_ferplus_file(root: Path, name: str) -> Path:
    """``root/name`` or ``root/fer2013/name``; DataError listing both when neither exists."""
    cands = (root / name, root / "fer2013" / name)
    for cand in cands:
        if cand.is_file():
            return cand
    raise DataError(f"{cands[0]}: file not found (also looked for {cands[1]}); FERPlus needs {FER_FILE} and {NEW_FILE}")


def csv_rows(path: Path, required: Sequence[str], optional: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, {column: stripped value})`` for the data rows of a CSV with a header.

    The header must name every ``required`` column (any order); ``optional`` columns are included
    when the header has them. Line numbers are the file's physical lines (header = line 1).
    """
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise DataError(f"{path}:1: missing column(s) {', '.join(missing)}; expected header {','.join(required)}")
            cols = {c: header.index(c) for c in list(required) + [c for c in optional if c in header]}
            for row in reader:
                if not row:
                    continue
                if len(row) < len(header):
                    raise DataError(f"{path}:{reader.line_num}: {len(row)} fields; expected {len(header)} ({','.join(header)})")
                yield reader.line_num, {c: row[i].strip() for c, i in cols.items()}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:{reader.line_num}: not a valid CSV row ({exc})") from None


def _parse_votes(path: Path, line: int, row: Mapping[str, str]) -> list[float]:
    try:
        votes = [float(row[c]) for c in VOTE_COLUMNS]
    except ValueError:
        raise DataError(f"{path}:{line}: vote counts must be numbers; got {[row[c] for c in VOTE_COLUMNS]}") from None
    if any(v < 0 or not np.isfinite(v) for v in votes):
        raise DataError(f"{path}:{line}: vote counts must be >= 0; got {votes}")
    return votes


def _usage(path: Path, line: int, text: str) -> Split:
    if text not in USAGE_SPLIT:
        raise DataError(f"{path}:{line}: Usage {text!r} is unknown; expected one of {', '.join(USAGE_SPLIT)}")
    return USAGE_SPLIT[text]


def _parse_pixels(path: Path, line: int, text: str) -> np.ndarray:
    try:  # text mode of fromstring (sep=" ") is 4x faster than split(); it raises on non-numbers
        values = np.fromstring(text, dtype=np.int32, sep=" ")
    except (ValueError, OverflowError):
        raise DataError(f"{path}:{line}: pixels must be space-separated integers 0..255") from None
    if values.size != SIDE * SIDE:
        raise DataError(f"{path}:{line}: {values.size} pixels; expected {SIDE * SIDE} (48x48 gray)")
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"{path}:{line}: pixel value out of range; expected 0..255")
    return values.astype(np.uint8).reshape(SIDE, SIDE)


def read_ferplus_labels(path: Path) -> list[tuple[int, Split, str, list[float]]]:
    """Rows of ``fer2013new.csv`` as ``(line, split, image_name, 10 vote counts)``."""
    return [
        (line, _usage(path, line, row["Usage"]), row["Image name"], _parse_votes(path, line, row))
        for line, row in csv_rows(path, NEW_COLUMNS)
    ]


def ferplus_dataset(root: Path, split: Split | str, *, votes: bool = False) -> GrayFaceDataset:
    """One split of FERPlus with majority labels 0..7 (:data:`FERPLUS_CLASSES`).

    Args:
        root: folder holding ``fer2013.csv`` and ``fer2013new.csv`` (or a ``fer2013/`` sub-folder).
        split: train (Training), val (PublicTest) or test (PrivateTest).
        votes: add ``meta["votes"]``, the 8 emotion vote counts normalised to sum 1.

    Raises:
        DataError: missing file, missing column, bad value, or the two files not matching row by
            row (names both files and lines).
    """
    split = as_split(split)
    root = Path(root)
    fer_path, new_path = find_ferplus_file(root, FER_FILE), find_ferplus_file(root, NEW_FILE)
    labels_rows = read_ferplus_labels(new_path)
    images: list[np.ndarray] = []
    labels: list[int] = []
    metas: list[dict[str, Any]] = []
    n_fer = 0
    for n_fer, (line, row) in enumerate(csv_rows(fer_path, FER_COLUMNS), start=1):
        if n_fer > len(labels_rows):
            raise DataError(
                f"{fer_path}:{line}: extra row; {new_path} has only {len(labels_rows)} data rows "
                "and the two files must list the same faces row by row"
            )
        new_line, new_split, name, counts = labels_rows[n_fer - 1]
        fer_split = _usage(fer_path, line, row["Usage"])
        if fer_split is not new_split:
            raise DataError(
                f"{fer_path}:{line}: Usage {row['Usage']!r} does not match {new_path}:{new_line}; "
                "the two files must list the same faces in the same order"
            )
        label = majority_label(counts) if name else None
        if fer_split is not split or label is None:
            continue
        images.append(_parse_pixels(fer_path, line, row["pixels"]))
        labels.append(label)
        meta: dict[str, Any] = {"where": f"{fer_path}:{line}", "name": name, "labels_where": f"{new_path}:{new_line}"}
        if votes:
            emo = np.asarray(counts[: len(FERPLUS_CLASSES)], dtype=np.float64)
            meta["votes"] = tuple(float(v) for v in emo / emo.sum())
        metas.append(meta)
    if n_fer < len(labels_rows):
        raise DataError(
            f"{new_path}:{labels_rows[n_fer][0]}: row has no counterpart; {fer_path} has only {n_fer} data rows "
            "and the two files must list the same faces row by row"
        )
    if not labels:
        raise DataError(f"{new_path}: no labelled faces for the {split.value} split")
    return GrayFaceDataset(np.stack(images), labels, metas, FERPLUS_CLASSES)
