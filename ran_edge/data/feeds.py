"""Model feeds from faces (INT8 calibration, FP16 analysis, accuracy checks) as a tiny protocol: an iterable of feed dicts ``{input_name: float32 array}``.

Any ``Iterable[Mapping[str, np.ndarray]]`` is a :data:`CalibrationReader` (the shape of ONNX Runtime's
``CalibrationDataReader``, without its class). :class:`DatasetReader` turns aligned faces into feeds with
the one preprocessing (:func:`ran_edge.model_input.model_input`: ``prepare_faces`` for a ``faces``
model, the fused region-batch kernel for a ``regions`` model), so the
calibration feed is exactly what the runtime feeds. :func:`open_calibration_data` opens
``synthetic`` (the synthetic *train* split, never test) or a folder of images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ran_edge.artifact import ArtifactMeta, InputKind, sha256_file
from ran_edge.data.images import IMAGE_SUFFIXES, image_files
from ran_edge.errors import DataError, RanEdgeError

CalibrationReader = Iterable[Mapping[str, np.ndarray]]


class ArrayReader:
    """Feeds already in memory (tests, custom pipelines): ``ArrayReader([{"faces": x}, ...])``."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]], description: Mapping[str, Any] | None = None):
        self.feeds = list(feeds)
        self._description = dict(description or {"source": "arrays", "batches": len(self.feeds)})

    def __iter__(self) -> Iterator[Mapping[str, np.ndarray]]:
        return iter(self.feeds)

    def __len__(self) -> int:
        return len(self.feeds)

    def describe(self) -> dict[str, Any]:
        return dict(self._description)


def feed_for_images(images: Sequence[np.ndarray], meta: ArtifactMeta) -> dict[str, np.ndarray]:
    """Aligned face images (``HxWx3`` uint8 BGR) → the model's feed dict, by the runtime's preprocessing
    (:func:`ran_edge.model_input.model_input`), so calibration sees exactly what inference sees."""
    from ran_edge.model_input import model_input

    return {meta.inputs[0].name: model_input(list(images), meta)}


class DatasetReader:
    """The first ``num`` faces of a dataset (``FaceDataset``), in batches, as feeds for ``meta``'s model.

    Raises:
        DataError: the dataset has fewer than ``num`` faces.
    """

    def __init__(self, dataset: Any, meta: ArtifactMeta, num: int, batch_size: int = 16,
                 description: Mapping[str, Any] | None = None):
        if num < 1:
            raise RanEdgeError(f"--num must be >= 1, got {num}")
        if len(dataset) < num:
            raise DataError(f"calibration data has {len(dataset)} faces, fewer than the {num} asked (--num)")
        fixed = meta.inputs[0].shape[0]
        if fixed > 0:  # a fixed-batch graph takes exactly its batch (faces, or N*K regions)
            k = meta.preset.num_regions if meta.input_kind is InputKind.REGIONS else 1
            batch_size = fixed // k
            if num % batch_size:
                raise RanEdgeError(f"--num {num} is not a multiple of the model's fixed batch {batch_size}")
        self.dataset, self.meta, self.num, self.batch_size = dataset, meta, num, batch_size
        self._description = dict(description or {"source": type(dataset).__name__})

    def __len__(self) -> int:
        return -(-self.num // self.batch_size)

    def __iter__(self) -> Iterator[Mapping[str, np.ndarray]]:
        for start in range(0, self.num, self.batch_size):
            idx = range(start, min(start + self.batch_size, self.num))
            yield feed_for_images([self.dataset[i].image for i in idx], self.meta)

    def describe(self) -> dict[str, Any]:
        return {**self._description, "count": self.num}


def open_calibration_data(data: str, num: int, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """Open ``synthetic`` or a folder of face images → ``(FaceDataset, description for the manifest)``.

    The description lists the files used with their sha256 (folder) or the generator seed (synthetic).

    Raises:
        DataError: folder missing, not a folder, no images in it, or fewer than ``num`` images.
    """
    from ran_edge.data.dataset import FileDataset

    if data.strip().split(":")[0] == "synthetic":
        from ran_edge.data.spec import open_dataset

        ds = open_dataset(data, "train", seed=seed)
        return ds, {"source": "synthetic", "spec": data, "split": "train", "seed": seed}
    root = Path(data).expanduser()
    if not root.exists():
        raise DataError(f"calibration data not found: {root}; expected 'synthetic' or a folder of face images")
    if not root.is_dir():
        raise DataError(f"calibration data {root} is not a folder; expected 'synthetic' or a folder of face images")
    try:
        files = image_files(root)
    except OSError as exc:
        raise DataError(f"calibration folder {root} is unreadable ({exc})") from exc
    if not files:
        raise DataError(f"calibration folder {root} has no images ({', '.join(IMAGE_SUFFIXES)})")
    if len(files) < num:
        raise DataError(f"calibration folder {root} has {len(files)} images, fewer than the {num} asked (--num)")
    files = files[:num]
    entries = [(p, 0, {"where": "calibration"}) for p in files]
    listing = [{"path": str(p.relative_to(root)), "sha256": sha256_file(p)} for p in files]
    return FileDataset(entries, ("unlabelled",)), {"source": "folder", "root": str(root.resolve()), "files": listing}
