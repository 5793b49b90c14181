"""Synthetic expression faces: determinism, balance, suite metadata, image-folder writing."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")

from ran_edge.data.classes import RAFDB_CLASSES  # noqa: E402
from ran_edge.data.dataset import FaceSample, InMemoryDataset  # noqa: E402
from ran_edge.data.synthetic.faces import (  # noqa: E402
    Occlusion,
    SyntheticSuite,
    iter_faces,
    make_split,
    render_face,
    write_imagefolder,
)
from ran_edge.errors import RanEdgeError  # noqa: E402

META_KEYS = {"occlusion", "occluded_box", "yaw", "pitch", "roll", "intensity", "identity"}


def _same(a: list[FaceSample], b: list[FaceSample]) -> bool:
    return all(x.label == y.label and x.image.tobytes() == y.image.tobytes() and x.meta == y.meta for x, y in zip(a, b))


def test_render_face_shape_dtype_and_meta():
    face = render_face(np.random.default_rng(0), 3, 48)
    assert face.image.shape == (48, 48, 3) and face.image.dtype == np.uint8
    assert face.label == 3 and set(face.meta) == META_KEYS
    assert face.meta["occlusion"] == "none" and face.meta["occluded_box"] is None
    assert 0.4 <= face.meta["intensity"] <= 1.0
    assert face.image.std() > 10  # a drawn picture, not a flat fill


def test_same_seed_gives_identical_bytes_and_streams_are_prefixes():
    a = list(iter_faces(10, split="val", seed=5, size=32))
    b = list(iter_faces(10, split="val", seed=5, size=32))
    assert _same(a, b)
    assert _same(list(iter_faces(4, split="val", seed=5, size=32)), a[:4])


def test_splits_seeds_and_suites_use_different_streams():
    base = list(iter_faces(7, split="train", seed=1, size=32))
    for other in (list(iter_faces(7, split="test", seed=1, size=32)),
                  list(iter_faces(7, split="train", seed=2, size=32)),
                  list(iter_faces(7, split="train", suite=SyntheticSuite.POSE, seed=1, size=32))):
        assert not any(x.image.tobytes() == y.image.tobytes() for x, y in zip(base, other))
    ids_train = {f.meta["identity"] for f in iter_faces(30, split="train", seed=1, size=32)}
    ids_test = {f.meta["identity"] for f in iter_faces(30, split="test", seed=1, size=32)}
    assert not ids_train & ids_test


@pytest.mark.parametrize("n", [21, 30, 3])
def test_make_split_is_balanced(n):
    ds = make_split("test", n, size=24)
    assert isinstance(ds, InMemoryDataset) and len(ds) == n and ds.class_names == RAFDB_CLASSES
    counts = Counter(ds.labels.tolist())
    assert sum(counts.values()) == n
    assert all(n // 7 <= counts.get(c, 0) <= n // 7 + 1 for c in range(7))


def test_make_split_accepts_a_str_enum_split():
    from ran_edge.data.splits import Split

    assert _same(make_split(Split.VAL, 7, size=24).samples, make_split("val", 7, size=24).samples)


def test_clean_suite_is_frontal_and_train_mixes_in_mild_variation():
    test = list(iter_faces(28, split="test", size=24))
    assert all(f.meta["occlusion"] == "none" for f in test)
    assert all(max(abs(f.meta[k]) for k in ("yaw", "pitch", "roll")) <= 10 for f in test)
    train = list(iter_faces(140, split="train", size=24))
    varied = [f for f in train if f.meta["occlusion"] != "none" or max(abs(f.meta["yaw"]), abs(f.meta["pitch"])) > 10]
    assert 0.08 <= len(varied) / len(train) <= 0.35
    assert all(max(abs(f.meta["yaw"]), abs(f.meta["pitch"])) <= 25 and abs(f.meta["roll"]) <= 20 for f in train)


def test_occlusion_suite_records_type_and_box():
    faces = list(iter_faces(12, split="test", suite=SyntheticSuite.OCCLUSION, size=32))
    assert Counter(f.meta["occlusion"] for f in faces) == {o.value: 3 for o in Occlusion if o is not Occlusion.NONE}
    for f in faces:
        x0, y0, x1, y1 = f.meta["occluded_box"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert (x1 - x0) * (y1 - y0) > 0.02


@pytest.mark.parametrize("occ", [o for o in Occlusion if o is not Occlusion.NONE])
def test_occluder_changes_the_image_inside_its_box(occ):
    size = 64
    plain = render_face(np.random.default_rng(11), 6, size).image.astype(np.float32)
    covered = render_face(np.random.default_rng(11), 6, size, occlusion=occ)
    diff = np.abs(covered.image.astype(np.float32) - plain).mean(axis=2)
    x0, y0, x1, y1 = (np.array(covered.meta["occluded_box"]) * size).round().astype(int)
    inside = np.zeros_like(diff, bool)
    inside[y0:y1, x0:x1] = True
    grown = np.zeros_like(diff, bool)
    grown[max(y0 - 3, 0):y1 + 3, max(x0 - 3, 0):x1 + 3] = True
    assert diff[inside].mean() > 15
    assert diff[~grown].mean() < diff[inside].mean() / 5


def test_pose_suite_spreads_yaw_and_pitch():
    faces = list(iter_faces(60, split="test", suite=SyntheticSuite.POSE, size=24))
    pose = np.array([max(abs(f.meta["yaw"]), abs(f.meta["pitch"])) for f in faces])
    assert pose.min() >= 15 and pose.max() <= 60
    assert (pose > 30).mean() > 0.4 and (pose > 45).mean() > 0.15
    assert all(abs(f.meta["roll"]) <= 20 and f.meta["occlusion"] == "none" for f in faces)
    assert any(abs(f.meta["yaw"]) > 30 for f in faces) and any(abs(f.meta["pitch"]) > 30 for f in faces)


def test_pose_warps_the_head_not_the_background():
    size = 64
    front = render_face(np.random.default_rng(4), 3, size).image.astype(np.float32)
    turned = render_face(np.random.default_rng(4), 3, size, yaw=45.0).image.astype(np.float32)
    diff = np.abs(turned - front).mean(axis=2)
    assert diff[16:48, 16:48].mean() > 4 * diff[:, :4].mean()


def test_expression_classes_differ_on_the_same_face():
    size = 64
    imgs = [render_face(np.random.default_rng(21), c, size).image.astype(np.float32) for c in range(7)]
    again = render_face(np.random.default_rng(21), 0, size).image.astype(np.float32)
    assert np.array_equal(imgs[0], again)
    for i in range(7):
        for j in range(i + 1, 7):
            diff = np.abs(imgs[i] - imgs[j]).mean(axis=2)
            # Same person, background and noise: a visible change in the face parts, none at the border.
            assert (diff > 12).sum() >= 20, (RAFDB_CLASSES[i], RAFDB_CLASSES[j])
            assert diff[:, :6].mean() < 0.5


def test_per_class_mean_images_differ():
    ds = make_split("test", 140, size=32)
    x = np.stack([s.image for s in ds.samples]).astype(np.float32)
    means = np.stack([x[ds.labels == c].mean(axis=0) for c in range(7)])
    spread = np.abs(means - means.mean(axis=0)).mean(axis=(1, 2, 3))
    assert (spread > 1.0).all()


def test_bad_arguments_raise_user_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(RanEdgeError, match="label"):
        render_face(rng, 7)
    with pytest.raises(RanEdgeError, match="size"):
        render_face(rng, 0, 8)
    with pytest.raises(RanEdgeError, match="occlusion"):
        render_face(rng, 0, occlusion="scarf")
    with pytest.raises(RanEdgeError, match="split"):
        make_split("dev", 7)
    with pytest.raises(RanEdgeError, match="suite"):
        iter_faces(1, suite="blur")  # checked when called, before the first face
    with pytest.raises(RanEdgeError, match="n="):
        iter_faces(-1)
    with pytest.raises(RanEdgeError, match="seed="):
        make_split("val", 7, seed=-3)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_write_imagefolder_tree_and_csv(tmp_path):
    import cv2

    splits = {"train": make_split("train", 14, size=24),
              "test": make_split("test", 8, suite=SyntheticSuite.OCCLUSION, size=24)}
    root = write_imagefolder(tmp_path / "faces", splits)
    assert root == tmp_path / "faces"
    rows = _read_csv(root / "labels.csv")
    assert list(rows[0]) == ["split", "path", "label", "class", "occlusion", "yaw", "pitch", "roll"]
    assert len(rows) == 22 and len(list(root.rglob("*.png"))) == 22
    for row in rows:
        ds, i = splits[row["split"]], int(Path(row["path"]).stem)
        face = ds[i]
        assert row["path"] == f"{row['split']}/{RAFDB_CLASSES[face.label]}/{i:05d}.png"
        assert int(row["label"]) == face.label and row["class"] == RAFDB_CLASSES[face.label]
        assert row["occlusion"] == face.meta["occlusion"] and float(row["yaw"]) == pytest.approx(face.meta["yaw"])
        assert np.array_equal(cv2.imread(str(root / row["path"])), face.image)  # PNG is lossless
    assert {r["occlusion"] for r in rows if r["split"] == "test"} == {"sunglasses", "mask", "hand", "block"}


class _Broken:
    class_names = RAFDB_CLASSES

    def __len__(self) -> int:
        return 5

    def __getitem__(self, index: int) -> FaceSample:
        if index == 3:
            raise RuntimeError("disk on fire")
        return render_face(np.random.default_rng(index), index % 7, 24)


def test_write_imagefolder_leaves_nothing_on_error(tmp_path):
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_imagefolder(tmp_path / "faces", {"train": _Broken()})
    assert list(tmp_path.iterdir()) == []


def test_write_imagefolder_replaces_its_own_tree_but_refuses_other_folders(tmp_path):
    root = write_imagefolder(tmp_path / "faces", {"val": make_split("val", 7, size=24)})
    write_imagefolder(root, {"test": make_split("test", 3, size=24)})
    assert {r["split"] for r in _read_csv(root / "labels.csv")} == {"test"} and not (root / "val").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces"]
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(RanEdgeError, match="not an image-folder tree"):
        write_imagefolder(other, {"val": make_split("val", 7, size=24)})
    assert (other / "notes.txt").read_text() == "keep me"


def test_pose_factor_sizes_the_hard_pose_subsets_like_the_other_suites():
    """With POSE_FACTOR the pose suite has 3x the faces, so pose > 45° has about n_test like clean and occlusion;
    the first n_test pose faces are the same as without the factor."""
    from ran_edge.data.suites import POSE_FACTOR, synthetic_suites

    spec = "synthetic:n_test=210,size=32,seed=3"
    one = synthetic_suites(spec, ("clean", "pose", "pose45"), 3)
    three = synthetic_suites(spec, ("clean", "pose", "pose45"), 3, pose_factor=POSE_FACTOR)
    assert len(three["clean"]) == len(one["clean"]) == 210 and len(three["pose"]) == 630
    assert 0.7 * 210 < len(three["pose45"]) < 1.3 * 210 and len(one["pose45"]) < 0.5 * 210
    for i in (0, 57, 209):
        assert np.array_equal(one["pose"][i].image, three["pose"][i].image)
    with pytest.raises(RanEdgeError, match="pose_factor"):
        synthetic_suites(spec, ("pose",), 3, pose_factor=0)
