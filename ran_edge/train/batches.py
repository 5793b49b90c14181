"""Turn a FaceDataset into model-ready tensors through the one shared preprocessing."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from ran_edge.data.dataset import FaceDataset
from ran_edge.preprocess import PreprocessSpec, prepare_faces

#: Datasets whose preprocessed tensors fit in this many bytes are materialised once in memory.
MATERIALISE_LIMIT_BYTES = 2 * 1024**3


class PreparedFaces(Dataset):
    """``(faces [3,S,S] float32, label)`` items; preprocessing by :func:`prepare_faces`."""

    def __init__(self, ds: FaceDataset, spec: PreprocessSpec):
        self.ds = ds
        self.spec = spec
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None
        size = len(ds) * 3 * spec.face_size**2 * 4
        if size <= MATERIALISE_LIMIT_BYTES:
            self._cache = materialise(ds, spec)

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self._cache is not None:
            return self._cache[0][i], int(self._cache[1][i])
        sample = self.ds[i]
        return torch.from_numpy(prepare_faces([sample.image], self.spec)[0]), int(sample.label)


def materialise(ds: FaceDataset, spec: PreprocessSpec, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Preprocess a whole dataset into ``(faces [N,3,S,S], labels [N])``."""
    faces = np.empty((len(ds), 3, spec.face_size, spec.face_size), np.float32)
    labels = np.empty(len(ds), np.int64)
    for start in range(0, len(ds), chunk):
        items = [ds[i] for i in range(start, min(start + chunk, len(ds)))]
        faces[start:start + len(items)] = prepare_faces([s.image for s in items], spec)
        labels[start:start + len(items)] = [s.label for s in items]
    return torch.from_numpy(faces), torch.from_numpy(labels)


def iter_batches(prepared: PreparedFaces, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Sequential batches (evaluation order)."""
    for start in range(0, len(prepared), batch_size):
        idx = range(start, min(start + batch_size, len(prepared)))
        if prepared._cache is not None:
            yield prepared._cache[0][start:idx.stop], prepared._cache[1][start:idx.stop]
        else:
            items = [prepared[i] for i in idx]
            yield torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])
