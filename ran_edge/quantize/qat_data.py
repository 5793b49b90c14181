"""Labelled faces for QAT, preprocessed once into the model's feed (numpy, torch-free).

The feed is made by the runtime's one preprocessing (:func:`ran_edge.data.feeds.feed_for_images`), so QAT
trains on exactly what inference sees; a ``regions`` model's feed has K rows per face (face-major).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ran_edge.artifact import ArtifactMeta, InputKind
from ran_edge.errors import DataError, RanEdgeError


@dataclass(frozen=True)
class QatData:
    """``x``: the model input for ``n`` faces (``n * rows_per_face`` rows); ``labels [n]`` in the model's class order,
    or None when the faces have no labels the model knows."""

    x: np.ndarray
    labels: np.ndarray | None
    input_name: str
    rows_per_face: int
    description: Mapping[str, Any] = field(default_factory=dict)

    @property
    def faces(self) -> int:
        return len(self.x) // self.rows_per_face


def feeds_of(dataset: Any, meta: ArtifactMeta, count: int, description: Mapping[str, Any], chunk: int = 256) -> QatData:
    """The first ``count`` faces of ``dataset`` as one :class:`QatData` for ``meta``'s model."""
    from ran_edge.data.feeds import feed_for_images

    name = meta.inputs[0].name
    parts = [feed_for_images([dataset[i].image for i in range(s, min(s + chunk, count))], meta)[name]
             for s in range(0, count, chunk)]
    x = np.ascontiguousarray(np.concatenate(parts).astype(np.float32, copy=False))
    same_classes = tuple(getattr(dataset, "class_names", ())) == tuple(meta.class_names)
    labels = np.asarray([dataset[i].label for i in range(count)], np.int64) if same_classes else None
    rows = meta.preset.num_regions if meta.input_kind is InputKind.REGIONS else 1
    return QatData(x, labels, name, rows, dict(description))


#: synthetic QAT data mixes these suites of its split, interleaved (face i comes from suite i % 3)
SYNTHETIC_MIX = ("clean", "occlusion", "pose")


def mixed_suites(datasets: list[Any], count: int) -> Any:
    """Up to ``count`` faces interleaved from ``datasets`` (round robin), as one in-memory dataset."""
    from ran_edge.data.dataset import InMemoryDataset

    samples = []
    for i in range(max(len(d) for d in datasets)):
        samples.extend(d[i] for d in datasets if i < len(d))
    return InMemoryDataset(samples[:count], datasets[0].class_names)


def open_qat_data(data: str | Any, holdout: Any, meta: ArtifactMeta, num: int, holdout_num: int,
                  seed: int = 0) -> tuple[QatData, QatData]:
    """``(train, held-out)`` faces for QAT of ``meta``'s model.

    ``data``: a ``--data`` spec (``synthetic`` alone means ``num`` train and ``holdout_num`` val faces at the model's
    face size; synthetic faces mix the clean, occlusion and pose suites, and ``num`` / ``holdout_num`` decide how many
    are generated, whatever ``n_train`` / ``n_val`` say) whose train split trains and whose val split is held out (unless ``holdout`` is given), or a
    ``FaceDataset`` (then ``holdout`` is required). Held-out faces: ``holdout_num``, or all the split has if fewer.

    Raises:
        DataError: fewer than ``num`` training faces, or no held-out faces.
        RanEdgeError: a dataset object without held-out faces; a bad spec.
    """
    if isinstance(data, str):
        from ran_edge.data.spec import open_dataset, parse_data_spec

        spec = data.strip()
        parsed = parse_data_spec(spec)
        synthetic = parsed.kind == "synthetic"
        if synthetic:  # generate only what is used (sample i does not depend on n): a third of each count per suite
            opts = {**dict(parsed.options), "n_train": str(-(-num // 3)), "n_val": str(-(-holdout_num // 3))}
            opts.setdefault("size", str(meta.preprocess.face_size))
            spec = "synthetic:" + ",".join(f"{k}={v}" for k, v in opts.items())
        if synthetic:  # the quality gate judges clean, occlusion and pose faces: QAT sees all three
            train_ds = mixed_suites([open_dataset(spec, "train", seed=seed, suite=s) for s in SYNTHETIC_MIX], num)
        else:
            train_ds = open_dataset(spec, "train", seed=seed)
        desc: dict[str, Any] = {"spec": spec, "split": "train", "seed": seed, **({"suites": list(SYNTHETIC_MIX)} if synthetic else {})}
        held_desc: dict[str, Any] = {"spec": spec, "split": "val", "seed": seed, **({"suites": list(SYNTHETIC_MIX)} if synthetic else {})}
        if holdout is None:
            holdout = (mixed_suites([open_dataset(spec, "val", seed=seed, suite=s) for s in SYNTHETIC_MIX], holdout_num)
                       if synthetic else open_dataset(spec, "val", seed=seed))
        else:
            held_desc = {"source": type(holdout).__name__}
    else:
        train_ds, desc, held_desc = data, {"source": type(data).__name__}, {"source": type(holdout).__name__}
        if holdout is None:
            raise RanEdgeError("QAT on a dataset object needs held-out faces (holdout=...), disjoint from the training faces")
    if len(train_ds) < num:
        raise DataError(f"QAT data has {len(train_ds)} training faces, fewer than the {num} asked (--num)")
    held_n = min(holdout_num, len(holdout))
    if held_n < 1:
        raise DataError("QAT has no held-out faces (the data's val split is empty)")
    return feeds_of(train_ds, meta, num, {**desc, "count": num}), feeds_of(holdout, meta, held_n, {**held_desc, "count": held_n})
