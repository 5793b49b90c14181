"""The dataset protocol every reader returns, and two small implementations."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ran_edge.errors import DataError


@dataclass(frozen=True)
class FaceSample:
    """One aligned face: ``image`` is ``HxWx3`` uint8 BGR, ``label`` a class id.

    ``meta`` carries per-sample facts: source path, occlusion type, pose angles, vote
    distribution (FERPlus), and so on.
    """

    image: np.ndarray
    label: int
    meta: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class FaceDataset(Protocol):
    """Indexable collection of faces with class names."""

    class_names: tuple[str, ...]

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> FaceSample: ...


class InMemoryDataset:
    """Faces already decoded in memory (synthetic data, tests)."""

    def __init__(self, samples: Sequence[FaceSample], class_names: Sequence[str]):
        self.samples = list(samples)
        self.class_names = tuple(class_names)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> FaceSample:
        return self.samples[index]

    @property
    def labels(self) -> np.ndarray:
        return np.asarray([s.label for s in self.samples], dtype=np.int64)


def read_image(path: Path, where: str = "") -> np.ndarray:
    """Decode an image file to ``HxWx3`` uint8 BGR; raise :class:`DataError` naming the file."""
    from ran_edge._lazy import require

    cv2 = require("cv2", "reading image files")

    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
    if img is None:
        ctx = f" ({where})" if where else ""
        reason = "missing" if data is None else "unreadable or not an image"
        raise DataError(f"{path}{ctx}: image file {reason}")
    return img


class FileDataset:
    """Faces read lazily from image files: ``entries`` are ``(path, label, meta)``."""

    def __init__(
        self,
        entries: Sequence[tuple[Path, int, Mapping[str, Any]]],
        class_names: Sequence[str],
        loader: Callable[[Path, str], np.ndarray] = read_image,
    ):
        self.entries = list(entries)
        self.class_names = tuple(class_names)
        self._loader = loader

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> FaceSample:
        path, label, meta = self.entries[index]
        img = self._loader(Path(path), str(meta.get("where", "")))
        return FaceSample(img, int(label), dict(meta, path=str(path)))

    @property
    def labels(self) -> np.ndarray:
        return np.asarray([e[1] for e in self.entries], dtype=np.int64)


def dataset_labels(ds: FaceDataset) -> np.ndarray:
    """Labels of a dataset, without decoding images when the dataset knows them."""
    labels = getattr(ds, "labels", None)
    if labels is not None:
        return np.asarray(labels, dtype=np.int64)
    return np.asarray([ds[i].label for i in range(len(ds))], dtype=np.int64)
