"""ImageFolder reader: ``root/<split>/<class>/*.jpg|png``.

Layout::

    root/train/<class>/*.jpg|jpeg|png|bmp     required
    root/val/<class>/...                      optional: carved from train (stratified, by seed) if absent
    root/test/<class>/...                     required only when the test split is opened

Class names are the sorted sub-folder names of ``root/train``; ``val/`` and ``test/`` must have
exactly the same sub-folders (a class may be empty there, not in train). A root without ``train/``
is an error that says the expected layout; class folders directly under root are *not* taken as one
split, because that would silently use the same images for training and testing. Images are listed
eagerly (sorted, so the order is stable) and decoded lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ran_edge.data.dataset import FileDataset
from ran_edge.data.images import is_image_file
from ran_edge.data.splits import Split, as_split, stratified_split
from ran_edge.errors import DataError

LAYOUT = "root/train/<class>/*.jpg|png (+ optional root/val/<class>/, root/test/<class>/)"


def _subdirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))


def imagefolder_classes(root: Path) -> tuple[str, ...]:
    """Sorted class sub-folders of ``root/train``; DataError with the expected layout if missing/empty."""
    root = Path(root)
    train = root / Split.TRAIN.value
    if not train.is_dir():
        hint = ""
        if root.is_dir() and any(_images(root / d) for d in _subdirs(root)):
            hint = " (found class folders directly under it: move them into train/ and test/)"
        raise DataError(f"{train}: folder not found{hint}; expected the image-folder layout {LAYOUT}")
    classes = tuple(_subdirs(train))
    if not classes:
        raise DataError(f"{train}: no class sub-folders; expected the image-folder layout {LAYOUT}")
    return classes


def _split_entries(folder: Path, classes: tuple[str, ...], train_like: bool) -> list[tuple[Path, int, dict[str, Any]]]:
    found = tuple(_subdirs(folder))
    if found != classes:
        extra = sorted(set(found) - set(classes))
        missing = sorted(set(classes) - set(found))
        raise DataError(
            f"{folder}: class folders differ from train/ (extra: {extra or 'none'}, missing: {missing or 'none'}); "
            f"every split must have the classes {list(classes)}"
        )
    entries: list[tuple[Path, int, dict[str, Any]]] = []
    for label, name in enumerate(classes):
        images = _images(folder / name)
        if train_like and not images:
            raise DataError(f"{folder / name}: no images (.jpg, .jpeg, .png, .bmp); every train class needs some")
        entries.extend((p, label, {"where": str(p), "name": f"{name}/{p.name}"}) for p in images)
    return entries


def imagefolder_dataset(root: Path, split: Split | str, *, seed: int = 0, val_fraction: float = 0.1) -> FileDataset:
    """One split of an image folder as a lazily decoded :class:`FileDataset`.

    Raises:
        DataError: layout wrong (message shows the expected one), class folders differ between
            splits, a train class without images, or the requested split missing or empty.
    """
    split = as_split(split)
    root = Path(root)
    classes = imagefolder_classes(root)
    folder = root / split.value
    if split is Split.TRAIN or (split is Split.VAL and not folder.is_dir()):
        entries = _split_entries(root / Split.TRAIN.value, classes, train_like=True)
        if not (root / Split.VAL.value).is_dir():
            tr_idx, va_idx = stratified_split([e[1] for e in entries], val_fraction, seed)
            entries = [entries[i] for i in (tr_idx if split is Split.TRAIN else va_idx)]
    elif not folder.is_dir():
        raise DataError(f"{folder}: folder not found; the {split.value} split needs it ({LAYOUT})")
    else:
        entries = _split_entries(folder, classes, train_like=False)
    if not entries:
        raise DataError(f"{folder}: no images for the {split.value} split")
    return FileDataset(entries, classes)
