"""Accuracy suites: THE definition of the synthetic test suites (clean, occlusion, pose, pose30, pose45),
used by the demo, the INT8 evaluation and the bench; for a real dataset, its test split plus the official
challenge lists (:mod:`ran_edge.data.challenge`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ran_edge.data.challenge import ChallengeSource, find_official_list, parse_challenge_list, sample_key, sample_metas
from ran_edge.data.dataset import FaceDataset, FaceSample, InMemoryDataset, dataset_labels
from ran_edge.errors import RanEdgeError


class SubsetDataset:
    """``indices`` of ``base``, optionally with replacement labels (the challenge list's)."""

    def __init__(self, base: FaceDataset, indices: Sequence[int], labels: Sequence[int] | None = None):
        self.base = base
        self.indices = [int(i) for i in indices]
        self._labels = None if labels is None else [int(v) for v in labels]
        self.class_names = tuple(base.class_names)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> FaceSample:
        s = self.base[self.indices[index]]
        return s if self._labels is None else FaceSample(s.image, self._labels[index], s.meta)

    @property
    def labels(self) -> np.ndarray:
        if self._labels is not None:
            return np.asarray(self._labels, np.int64)
        return dataset_labels(self.base)[self.indices]


@dataclass
class Suite:
    """One accuracy suite: its faces and where they came from (source, drops, matches)."""

    name: str
    dataset: FaceDataset | None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return 0 if self.dataset is None else len(self.dataset)


def _cap(ds: FaceDataset, max_faces: int | None) -> FaceDataset:
    if max_faces is None or len(ds) <= max_faces:
        return ds
    return SubsetDataset(ds, range(max_faces))


#: The suites of the challenge evaluation (docs/model.md §9), in report order: the demo's and the bench's.
CHALLENGE_SUITES: tuple[str, ...] = ("clean", "occlusion", "pose30", "pose45")

#: The synthetic test suites, by name: (generator suite of ``--data synthetic``, pose threshold in degrees or None).
#: ``pose30``/``pose45`` are the faces of the pose suite with max(|yaw|, |pitch|) above 30/45 degrees (the
#: Pose-30/45 challenge split); ``pose`` is the whole pose suite.
SYNTHETIC_SUITES: dict[str, tuple[str, float | None]] = {
    "clean": ("clean", None),
    "occlusion": ("occlusion", None),
    "pose": ("pose", None),
    "pose30": ("pose", 30.0),
    "pose45": ("pose", 45.0),
}


def pose_subset(ds: FaceDataset, min_angle: float) -> InMemoryDataset:
    """Samples whose max(|yaw|, |pitch|) exceeds ``min_angle`` degrees (the Pose-30/45 challenge split)."""
    keep = [ds[i] for i in range(len(ds))
            if max(abs(float(ds[i].meta.get("yaw", 0.0))), abs(float(ds[i].meta.get("pitch", 0.0)))) > min_angle]
    return InMemoryDataset(keep, ds.class_names)


def disjoint_suites(names: Sequence[str]) -> tuple[str, ...]:
    """The suites of ``names`` that hold every face once: of the synthetic pose suites (all poses, > 30°, > 45°) only
    the widest one present is kept, since the others are its subsets; any other suite is kept."""
    kept: list[str] = []
    widest: dict[str, tuple[float, str]] = {}
    for name in names:
        kind, angle = SYNTHETIC_SUITES.get(name, (None, None))
        if kind == "pose":
            low = -1.0 if angle is None else angle
            if "pose" not in widest or low < widest["pose"][0]:
                widest["pose"] = (low, name)
        else:
            kept.append(name)
    return tuple(n for n in names if n in kept or n == widest.get("pose", (0, None))[1])


#: The pose suite with this many times the faces of the others has about as many faces beyond 45° as the others
#: have in all (its larger angle is uniform in [15°, 60°], so a third of it is beyond 45° and two thirds beyond 30°).
POSE_FACTOR = 3


def synthetic_suites_with_sources(data: str, names: Sequence[str], seed: int = 0,
                                  pose_factor: int = 1) -> dict[str, tuple[FaceDataset, str]]:
    """``{name: (faces, where they came from)}`` for the synthetic test suites ``names`` of the ``--data`` spec.

    Each generator suite is opened once (the test split, held-out seeds); see :data:`SYNTHETIC_SUITES`. The pose
    suite has ``pose_factor`` times ``n_test`` faces (:data:`POSE_FACTOR` gives its >45° subset about ``n_test``
    faces, so that a per-suite bar is judged on as many faces there as elsewhere); its first ``n_test`` faces are
    the same whatever the factor.
    """
    from dataclasses import replace

    from ran_edge.data.spec import SYNTHETIC_DEFAULTS, open_dataset, parse_data_spec

    if not isinstance(pose_factor, int) or pose_factor < 1:
        raise RanEdgeError(f"pose_factor: got {pose_factor!r}, expected an integer >= 1")
    spec = parse_data_spec(data)
    n_test = int(spec.options.get("n_test", SYNTHETIC_DEFAULTS["n_test"]))
    pose_spec = replace(spec, options={**spec.options, "n_test": str(n_test * pose_factor)})
    bases: dict[str, FaceDataset] = {}
    out: dict[str, tuple[FaceDataset, str]] = {}
    for name in names:
        if name not in SYNTHETIC_SUITES:
            raise RanEdgeError(f"unknown synthetic suite {name!r}; expected one of {', '.join(SYNTHETIC_SUITES)}")
        kind, angle = SYNTHETIC_SUITES[name]
        if kind not in bases:
            bases[kind] = open_dataset(pose_spec if kind == "pose" else spec, "test", seed=seed, suite=kind)
        base = bases[kind]
        if angle is None:
            out[name] = (base, f"synthetic test split, {name} suite")
        else:
            ds = pose_subset(base, angle)
            out[name] = (ds, f"synthetic pose suite, max(|yaw|,|pitch|) > {angle:.0f} deg ({len(ds)} of {len(base)})")
    return out


def synthetic_suites(data: str, names: Sequence[str], seed: int = 0, pose_factor: int = 1) -> dict[str, FaceDataset]:
    """``{name: faces}`` of the synthetic test suites ``names`` (in that order) of the ``--data`` spec (see
    :func:`synthetic_suites_with_sources`)."""
    return {name: ds for name, (ds, _) in synthetic_suites_with_sources(data, names, seed, pose_factor).items()}


def _synthetic_suites(data: str, names: Sequence[str], seed: int, max_faces: int | None) -> list[Suite]:
    return [Suite(name, _cap(ds, max_faces), {"source": desc, "available": len(ds)})
            for name, (ds, desc) in synthetic_suites_with_sources(data, names, seed).items()]


def match_challenge_list(ds: FaceDataset, list_path: Path, label_path: Path | None, source: ChallengeSource,
                         name: str) -> Suite:
    """The samples of ``ds`` named by an official list, labelled with the list's labels."""
    clist = parse_challenge_list(list_path, source, label_path)
    index = {}
    for i, meta in enumerate(sample_metas(ds)):
        key = sample_key(source, meta)
        if key is not None:
            index.setdefault(key, i)
    picked, labels, missing, mismatched = [], [], [], 0
    local = dataset_labels(ds)
    for e in clist.entries:
        i = index.get(e.key)
        if i is None:
            missing.append(e.key)
            continue
        picked.append(i)
        labels.append(e.label)
        mismatched += int(local[i] != e.label)
    info = {"source": f"official list {list_path.name}", "list": clist.to_dict(), "matched": len(picked),
            "not_found_locally": len(missing), "not_found_examples": missing[:5],
            "label_differs_from_local": mismatched, "available": len(picked)}
    return Suite(name, SubsetDataset(ds, picked, labels), info)


def load_suites(data: str, names: Sequence[str], *, lists_dir: str | Path | None = None, seed: int = 0,
                max_faces: int | None = None, log: Callable[[str], None] = print) -> list[Suite]:
    """Open the accuracy suites ``names`` for the ``--data`` spec.

    Synthetic data has all four suites. A real dataset has ``clean`` (its test split) and, with
    ``lists_dir``, the official occlusion/pose lists matched to it; a suite that cannot be made is
    returned with ``dataset=None`` and the reason in ``info["skipped"]``.
    """
    from ran_edge.data.spec import open_dataset, parse_data_spec

    spec = parse_data_spec(data)
    if spec.kind == "synthetic":
        return _synthetic_suites(data, names, seed, max_faces)
    test = open_dataset(spec, "test", seed=seed)
    out = []
    for name in names:
        if name == "clean":
            out.append(Suite(name, _cap(test, max_faces), {"source": f"{spec.kind} test split", "available": len(test)}))
            continue
        try:
            source = ChallengeSource(spec.kind)
        except ValueError:
            out.append(Suite(name, None, {"skipped": f"no official {name} list for {spec.kind} data"}))
            continue
        if lists_dir is None:
            out.append(Suite(name, None, {"skipped": "pass --lists DIR (the authors' challenge lists) for this suite"}))
            continue
        list_path, label_path = find_official_list(lists_dir, source, name)
        suite = match_challenge_list(test, list_path, label_path, source, name)
        dropped = len(suite.info["list"]["dropped"])
        log(f"[bench] {name}: {suite.info['matched']} faces from {list_path.name} ({dropped} duplicate lines dropped, "
            f"{suite.info['not_found_locally']} not found locally)")
        suite.dataset = _cap(suite.dataset, max_faces) if suite.dataset is not None else None
        out.append(suite)
    if not out:
        raise RanEdgeError("no accuracy suite selected")
    return out
