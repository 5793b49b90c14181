"""RAF-DB basic reader (docs/model.md §9).

Layout of the ``basic`` folder as distributed::

    basic/EmoLabel/list_patition_label.txt    "train_00001.jpg 5" / "test_0001.jpg 7", labels 1..7
    basic/Image/aligned/train_00001_aligned.jpg

File labels 1..7 (Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral) become ids 0..6
(:data:`ran_edge.data.classes.RAFDB_CLASSES`). ``test_*`` entries are the test split; train and val
are a deterministic stratified split of the ``train_*`` entries, so the test split is never used
for validation. The list file is validated eagerly (format, label range, duplicates, that the image
folder exists); each image is decoded lazily and a missing or unreadable one raises
:class:`DataError` naming the image and the list line (``meta["where"]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ran_edge.data.classes import RAFDB_CLASSES
from ran_edge.data.dataset import FileDataset
from ran_edge.data.splits import Split, as_split, stratified_split
from ran_edge.errors import DataError

LIST_FILE = Path("EmoLabel") / "list_patition_label.txt"
IMAGE_DIR = Path("Image") / "aligned"
_NAME = re.compile(r"^(train|test)_\d+\.(jpg|jpeg|png)$", re.IGNORECASE)


@dataclass(frozen=True)
class RafdbEntry:
    """One line of the list file: image name, 0-based label, 1-based line number."""

    name: str
    label: int
    line: int

    @property
    def is_test(self) -> bool:
        return self.name.lower().startswith("test_")

    @property
    def aligned_name(self) -> str:
        """``train_00001.jpg`` -> ``train_00001_aligned.jpg``."""
        stem, dot, ext = self.name.rpartition(".")
        return f"{stem}_aligned.{ext}"


def find_rafdb_root(root: Path) -> Path:
    """The folder holding ``EmoLabel/``: ``root`` itself or ``root/basic``."""
    for cand in (root, root / "basic"):
        if (cand / LIST_FILE).is_file():
            return cand
    raise DataError(
        f"{root / LIST_FILE}: file not found; expected the RAF-DB 'basic' folder with "
        f"{LIST_FILE} and {IMAGE_DIR}/"
    )


def read_rafdb_list(path: Path) -> list[RafdbEntry]:
    """Parse ``list_patition_label.txt``; blank lines are skipped, anything else malformed raises."""
    entries: list[RafdbEntry] = []
    seen: dict[str, int] = {}
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the RAF-DB list file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file; expected lines like 'train_00001.jpg 5'") from None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        where = f"{path}:{lineno}"
        if len(fields) != 2 or not _NAME.match(fields[0]):
            raise DataError(f"{where}: malformed line {raw.strip()!r}; expected '<train|test>_NNNNN.jpg <label 1..7>'")
        name, label_text = fields
        if not re.fullmatch(r"[+-]?\d+", label_text):
            raise DataError(f"{where}: label {label_text!r} is not an integer; expected 1..7")
        label = int(label_text)
        if not 1 <= label <= len(RAFDB_CLASSES):
            raise DataError(f"{where}: label {label} out of range; expected 1..{len(RAFDB_CLASSES)}")
        if name in seen:
            raise DataError(f"{where}: image {name} is listed twice (first at line {seen[name]})")
        seen[name] = lineno
        entries.append(RafdbEntry(name, label - 1, lineno))
    if not entries:
        raise DataError(f"{path}: no entries; expected lines like 'train_00001.jpg 5'")
    return entries


def rafdb_dataset(root: Path, split: Split | str, *, seed: int = 0, val_fraction: float = 0.1) -> FileDataset:
    """One split of RAF-DB basic as a lazily decoded :class:`FileDataset` (labels 0..6).

    Raises:
        DataError: list file missing or malformed (names file and line), image folder missing,
            or the requested split is empty.
    """
    split = as_split(split)
    base = find_rafdb_root(Path(root))
    list_path = base / LIST_FILE
    entries = read_rafdb_list(list_path)
    image_dir = base / IMAGE_DIR
    if not image_dir.is_dir():
        raise DataError(f"{image_dir}: folder not found; expected the aligned RAF-DB images (train_00001_aligned.jpg, ...)")
    if split is Split.TEST:
        chosen = [e for e in entries if e.is_test]
    else:
        train = [e for e in entries if not e.is_test]
        if train:
            tr_idx, va_idx = stratified_split([e.label for e in train], val_fraction, seed)
            chosen = [train[i] for i in (tr_idx if split is Split.TRAIN else va_idx)]
        else:
            chosen = []
    if not chosen:
        raise DataError(f"{list_path}: no entries for the {split.value} split")
    items = [
        (image_dir / e.aligned_name, e.label, {"where": f"{list_path}:{e.line}", "name": e.name})
        for e in chosen
    ]
    return FileDataset(items, RAFDB_CLASSES)
