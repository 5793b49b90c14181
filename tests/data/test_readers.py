"""Dataset readers on tiny fixtures written in the real on-disk formats (RAF-DB, FERPlus, AffectNet, ImageFolder)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from ran_edge.data.readers.affectnet import affectnet_dataset  # noqa: E402
from ran_edge.data.classes import (  # noqa: E402
    AFFECTNET7_CLASSES,
    AFFECTNET8_CLASSES,
    FERPLUS_CLASSES,
    RAFDB_CLASSES,
)
from ran_edge.data.dataset import dataset_labels  # noqa: E402
from ran_edge.data.readers.ferplus import ferplus_dataset, majority_label  # noqa: E402
from ran_edge.data.readers.imagefolder import imagefolder_dataset  # noqa: E402
from ran_edge.data.readers.rafdb import rafdb_dataset  # noqa: E402
from ran_edge.data.spec import class_names_for, open_dataset  # noqa: E402
from ran_edge.data.splits import Split  # noqa: E402
from ran_edge.errors import DataError  # noqa: E402


def _solid(color: int, h: int = 12, w: int = 12) -> np.ndarray:
    return np.full((h, w, 3), color, np.uint8)


def _sub(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def _write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


# ----------------------------------------------------------------------------------------------- RAF-DB

# (name, file label 1..7); 3 train faces per class, 2 test faces.
RAF_TRAIN = [(f"train_{i:05d}.jpg", (i - 1) % 7 + 1) for i in range(1, 22)]
RAF_TEST = [("test_0001.jpg", 5), ("test_0002.jpg", 7)]


def _rafdb(tmp_path: Path, lines: list[str] | None = None) -> Path:
    basic = tmp_path / "RAF" / "basic"
    entries = RAF_TRAIN + RAF_TEST
    text = "\n".join(lines if lines is not None else [f"{n} {lab}" for n, lab in entries]) + "\n"
    (basic / "EmoLabel").mkdir(parents=True)
    (basic / "EmoLabel" / "list_patition_label.txt").write_text(text)
    for i, (name, _) in enumerate(entries):
        _write(basic / "Image" / "aligned" / name.replace(".jpg", "_aligned.jpg"), _solid(10 * i))
    return basic


def test_rafdb_labels_splits_and_meta(tmp_path):
    basic = _rafdb(tmp_path)
    list_path = basic / "EmoLabel" / "list_patition_label.txt"
    test = open_dataset(f"rafdb:{basic}", Split.TEST)
    assert test.class_names == RAFDB_CLASSES == class_names_for(f"rafdb:{basic}")
    assert [e[0].name for e in test.entries] == ["test_0001_aligned.jpg", "test_0002_aligned.jpg"]
    assert list(dataset_labels(test)) == [4, 6]  # file labels 5 (Sadness), 7 (Neutral) -> 0-based
    assert RAFDB_CLASSES[test[0].label] == "Sadness"
    assert test[1].meta["where"] == f"{list_path}:23"
    assert test[1].meta["name"] == "test_0002.jpg"

    train = rafdb_dataset(basic, "train", seed=0, val_fraction=0.1)
    val = rafdb_dataset(basic, "val", seed=0, val_fraction=0.1)
    tr_names = {m["name"] for _, _, m in train.entries}
    va_names = {m["name"] for _, _, m in val.entries}
    assert not tr_names & va_names
    assert tr_names | va_names == {n for n, _ in RAF_TRAIN}  # test entries never in train/val
    assert sorted(dataset_labels(val)) == list(range(7))  # stratified: 1 of the 3 faces per class
    assert len(train) == 14
    # Line numbers follow the file; label of train_00009 (file 2) is Fear.
    e9 = next(e for e in train.entries + val.entries if e[2]["name"] == "train_00009.jpg")
    assert e9[1] == 1 and e9[2]["where"] == f"{list_path}:9"
    # Deterministic by seed, and the seed matters.
    again = rafdb_dataset(basic, "val", seed=0, val_fraction=0.1)
    assert [e[0] for e in again.entries] == [e[0] for e in val.entries]
    others = [{m["name"] for *_, m in rafdb_dataset(basic, "val", seed=s).entries} for s in range(1, 6)]
    assert any(o != va_names for o in others)


def test_rafdb_decodes_lazily_and_parent_folder_works(tmp_path):
    basic = _rafdb(tmp_path)
    ds = rafdb_dataset(basic.parent, "test")  # the folder above basic/ is accepted
    sample = ds[0]
    assert sample.image.shape == (12, 12, 3) and sample.image.dtype == np.uint8
    assert abs(int(sample.image.mean()) - 10 * 21) <= 3  # test_0001 is the 22nd image written (color 210)
    assert sample.meta["path"].endswith("Image/aligned/test_0001_aligned.jpg")


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("train_00003.jpg 8", "label 8 out of range"),
        ("train_00003.jpg 0", "label 0 out of range"),
        ("train_00003.jpg x", "not an integer"),
        ("train_00003.jpg", "malformed line"),
        ("picture.jpg 3", "malformed line"),
        ("train_00001.jpg 3", r"listed twice \(first at line 1\)"),
    ],
)
def test_rafdb_bad_list_line_names_file_and_line(tmp_path, bad_line, message):
    lines = [f"{n} {lab}" for n, lab in RAF_TRAIN + RAF_TEST]
    lines[2] = bad_line
    basic = _rafdb(tmp_path, lines)
    with pytest.raises(DataError, match=message) as err:
        rafdb_dataset(basic, "train")
    assert "list_patition_label.txt:3:" in str(err.value)


def test_rafdb_missing_files(tmp_path):
    with pytest.raises(DataError, match="list_patition_label.txt: file not found"):
        rafdb_dataset(tmp_path, "train")
    basic = _rafdb(tmp_path)
    (basic / "Image" / "aligned" / "test_0002_aligned.jpg").unlink()
    (basic / "Image" / "aligned" / "test_0001_aligned.jpg").write_bytes(b"not a jpeg")
    ds = rafdb_dataset(basic, "test")  # image problems surface at decode time, naming image and list line
    with pytest.raises(DataError, match=r"test_0001_aligned\.jpg \(.*list_patition_label\.txt:22\).*unreadable"):
        ds[0]
    with pytest.raises(DataError, match=r"test_0002_aligned\.jpg \(.*list_patition_label\.txt:23\).*missing"):
        ds[1]
    for p in (basic / "Image" / "aligned").iterdir():
        p.unlink()
    (basic / "Image" / "aligned").rmdir()
    with pytest.raises(DataError, match="aligned: folder not found"):
        rafdb_dataset(basic, "test")


# ----------------------------------------------------------------------------------------------- FERPlus

NEW_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
# (usage, image name, 10 vote counts, expected majority label or None)
FER_ROWS = [
    ("Training", "fer0000000.png", "4,0,0,1,3,2,0,0,0,0", None),  # 4 of 9 after dropping single votes
    ("Training", "fer0000001.png", "6,0,1,1,0,0,0,0,2,0", 0),  # 6 of 8 -> neutral
    ("Training", "", "0,0,0,0,0,0,0,0,0,10", None),  # dropped by FERPlus (no image name)
    ("Training", "fer0000003.png", "0,10,0,0,0,0,0,0,0,0", 1),
    ("Training", "fer0000004.png", "0,0,0,0,0,0,0,0,8,2", None),  # majority "unknown" -> excluded
    ("PublicTest", "fer0000005.png", "0,0,6,0,0,0,4,0,0,0", 2),
    ("PublicTest", "fer0000006.png", "5,5,0,0,0,0,0,0,0,0", None),  # tie: not more than half
    ("PrivateTest", "fer0000007.png", "0,0,0,0,0,0,0,9,1,0", 7),
    ("PrivateTest", "fer0000008.png", "3,1,1,1,0,0,0,0,0,0", 0),  # only a majority after dropping 1-votes
    ("PrivateTest", "fer0000009.png", "0,0,0,0,0,0,0,0,0,10", None),  # not a face
]


def _ferplus(tmp_path: Path, rows=FER_ROWS, new_header: str = NEW_HEADER, pixels=None) -> tuple[Path, np.ndarray]:
    root = tmp_path / "ferplus"
    root.mkdir()
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (len(rows), 48, 48), dtype=np.uint8)
    with open(root / "fer2013.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for i, (usage, *_rest) in enumerate(rows):
            px = pixels[i] if pixels is not None and i in pixels else " ".join(str(v) for v in faces[i].ravel())
            w.writerow([i % 7, px, usage])
    lines = [new_header] + [f"{u},{n},{v}" for u, n, v, _ in rows]
    (root / "fer2013new.csv").write_text("\n".join(lines) + "\n")
    return root, faces


def test_majority_rule_matches_ferplus():
    for _, name, votes, expected in FER_ROWS:
        if name:
            assert majority_label([float(v) for v in votes.split(",")]) == expected, votes


@pytest.mark.parametrize("split, indices", [("train", [1, 3]), ("val", [5]), ("test", [7, 8])])
def test_ferplus_splits_labels_and_pixels(tmp_path, split, indices):
    root, faces = _ferplus(tmp_path)
    ds = open_dataset(f"ferplus:{root}", split)
    assert ds.class_names == FERPLUS_CLASSES
    assert list(dataset_labels(ds)) == [FER_ROWS[i][3] for i in indices]
    for k, i in enumerate(indices):
        s = ds[k]
        assert s.image.shape == (48, 48, 3) and s.image.dtype == np.uint8
        assert np.array_equal(s.image[:, :, 0], faces[i]) and np.array_equal(s.image[:, :, 2], faces[i])
        assert s.meta["where"] == f"{root / 'fer2013.csv'}:{i + 2}"
        assert s.meta["labels_where"] == f"{root / 'fer2013new.csv'}:{i + 2}"
        assert s.meta["name"] == FER_ROWS[i][1]
        assert "votes" not in s.meta


def test_ferplus_vote_distributions(tmp_path):
    root, _ = _ferplus(tmp_path)
    ds = open_dataset(f"ferplus:{root},votes=1", "train")
    assert ds[0].meta["votes"] == pytest.approx([0.75, 0, 0.125, 0.125, 0, 0, 0, 0])
    assert ds[1].meta["votes"] == pytest.approx([0, 1, 0, 0, 0, 0, 0, 0])
    # Files may also sit in a fer2013/ sub-folder.
    sub = tmp_path / "other"
    sub.mkdir()
    (root).rename(sub / "fer2013")
    assert len(ferplus_dataset(sub, "test")) == 2


def test_ferplus_bad_inputs(tmp_path):
    root, _ = _ferplus(_sub(tmp_path, "a"))
    (root / "fer2013.csv").unlink()
    with pytest.raises(DataError, match="fer2013.csv: file not found"):
        ferplus_dataset(root, "train")

    root, _ = _ferplus(_sub(tmp_path, "b"),
                       new_header=NEW_HEADER.replace(",NF", ",nf"))
    with pytest.raises(DataError, match=r"fer2013new\.csv:1: missing column\(s\) NF"):
        ferplus_dataset(root, "train")

    bad = list(FER_ROWS)
    bad[3] = ("Training", "fer0000003.png", "0,10,0,0,x,0,0,0,0,0", 1)
    root, _ = _ferplus(_sub(tmp_path, "c"), rows=bad)
    with pytest.raises(DataError, match=r"fer2013new\.csv:5: vote counts must be numbers"):
        ferplus_dataset(root, "train")

    bad = list(FER_ROWS)
    bad[5] = ("Validation", "fer0000005.png", "0,0,6,0,0,0,4,0,0,0", 2)
    root, _ = _ferplus(_sub(tmp_path, "d"), rows=bad)
    with pytest.raises(DataError, match=r"fer2013new\.csv:7: Usage 'Validation' is unknown"):
        ferplus_dataset(root, "val")

    root, _ = _ferplus(_sub(tmp_path, "e"),
                       pixels={3: "1 2 3", 5: " ".join(["256"] * 2304)})
    with pytest.raises(DataError, match=r"fer2013\.csv:5: 3 pixels; expected 2304"):
        ferplus_dataset(root, "train")
    with pytest.raises(DataError, match=r"fer2013\.csv:7: pixel value out of range"):
        ferplus_dataset(root, "val")
    assert len(ferplus_dataset(root, "test")) == 2  # other splits' bad rows are not decoded

    root, _ = _ferplus(_sub(tmp_path, "f"), pixels={1: "1 2 x " + "0 " * 2301})
    with pytest.raises(DataError, match=r"fer2013\.csv:3: pixels must be space-separated integers"):
        ferplus_dataset(root, "train")


def test_ferplus_files_must_match_row_by_row(tmp_path):
    root, _ = _ferplus(tmp_path)
    new = (root / "fer2013new.csv").read_text().splitlines()
    (root / "fer2013new.csv").write_text("\n".join(new[:-1]) + "\n")
    with pytest.raises(DataError, match=r"fer2013\.csv:11: extra row"):
        ferplus_dataset(root, "train")
    (root / "fer2013new.csv").write_text("\n".join(new + [new[-1]]) + "\n")
    with pytest.raises(DataError, match=r"fer2013new\.csv:12: row has no counterpart"):
        ferplus_dataset(root, "train")
    swapped = new[:2] + [new[2].replace("Training", "PublicTest")] + new[3:]
    (root / "fer2013new.csv").write_text("\n".join(swapped) + "\n")
    with pytest.raises(DataError, match=r"fer2013\.csv:3: Usage 'Training' does not match .*fer2013new\.csv:3"):
        ferplus_dataset(root, "train")


# ----------------------------------------------------------------------------------------------- AffectNet

AFF_HEADER = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
LANDMARKS = ";".join(f"{v:.2f}" for v in np.linspace(1, 20, 136))


def _affectnet_row(rel: str, expr: int, box=(4, 6, 20, 16)) -> str:
    x, y, w, h = box
    return f"{rel},{x},{y},{w},{h},{LANDMARKS},{expr},0.25,-0.5"


def _affectnet(tmp_path: Path, train_rows=None, val_rows=None) -> Path:
    root = tmp_path / "AffectNet"
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    if train_rows is None:  # 3 per class 0..7, plus None / Uncertain / No-Face
        train_rows = [_affectnet_row(f"{k}/tr_{k}_{j}.jpg", k) for k in range(8) for j in range(3)]
        train_rows += [_affectnet_row(f"9/tr_x{e}.jpg", e) for e in (8, 9, 10)]
    if val_rows is None:
        val_rows = [_affectnet_row(f"5/va_{k}.jpg", k) for k in range(8)] + [_affectnet_row("5/va_x.jpg", 10)]
    (lists / "training.csv").write_text("\n".join([AFF_HEADER] + train_rows) + "\n")
    (lists / "validation.csv").write_text("\n".join([AFF_HEADER] + val_rows) + "\n")
    images = root / "Manually_Annotated_Images"
    for row in train_rows + val_rows:
        rel = row.split(",")[0]
        img = np.zeros((30, 40, 3), np.uint8)
        img[6:22, 4:24] = 200  # the face box (x=4, y=6, w=20, h=16)
        _write(images / rel, img)
    return root


def test_affectnet_8_and_7_classes_and_splits(tmp_path):
    root = _affectnet(tmp_path)
    csv_path = root / "Manually_Annotated_file_lists" / "validation.csv"
    test = open_dataset(f"affectnet:{root}", "test")
    assert test.class_names == AFFECTNET8_CLASSES == class_names_for(f"affectnet:{root}")
    assert list(dataset_labels(test)) == list(range(8))  # the official val set is the test split
    assert test[3].meta["where"] == f"{csv_path}:5"
    assert test[3].meta["valence"] == 0.25 and test[3].meta["arousal"] == -0.5
    test7 = open_dataset(f"affectnet:{root},classes=7", "test")
    assert test7.class_names == AFFECTNET7_CLASSES == class_names_for(f"affectnet:{root},classes=7")
    assert list(dataset_labels(test7)) == list(range(7))  # Contempt dropped

    train = affectnet_dataset(root, "train", seed=0, val_fraction=0.1)
    val = affectnet_dataset(root, "val", seed=0, val_fraction=0.1)
    names = [m["name"] for *_, m in train.entries + val.entries]
    assert len(names) == len(set(names)) == 24  # ids 8, 9, 10 excluded; train and val disjoint
    assert sorted(dataset_labels(val)) == list(range(8))
    assert not any(n.startswith("5/va_") for n in names)


def test_affectnet_crops_face_box(tmp_path):
    root = _affectnet(tmp_path)
    s = open_dataset(f"affectnet:{root}", "test")[0]
    assert s.image.shape == (16, 20, 3)
    assert abs(float(s.image.mean()) - 200) < 8
    full = open_dataset(f"affectnet:{root},crop=0", "test")[0]
    assert full.image.shape == (30, 40, 3) and "face_box" not in full.meta


def test_affectnet_box_is_clipped_or_rejected(tmp_path):
    rows = [_affectnet_row("1/a.jpg", 1, (30, 20, 50, 50)), _affectnet_row("1/b.jpg", 2, (45, 0, 5, 5))]
    root = _affectnet(tmp_path, val_rows=rows)
    ds = affectnet_dataset(root, "test")
    assert ds[0].image.shape == (10, 10, 3)  # clipped to the 40x30 image
    with pytest.raises(DataError, match=r"b\.jpg \(.*validation\.csv:3\): face box .* outside the 40x30 image"):
        ds[1]


@pytest.mark.parametrize(
    "row, message",
    [
        (_affectnet_row("1/a.jpg", 11), r"validation\.csv:3: expression '11' out of range"),
        (_affectnet_row("1/a.jpg", 1).replace(",1,0.25", ",happy,0.25"), r"validation\.csv:3: expression 'happy'"),
        (_affectnet_row("1/a.jpg", 1, (1, 1, 0, 5)), r"validation\.csv:3: face box .* invalid"),
        (_affectnet_row("1/a.jpg", 1).replace(",0.25,", ",?,"), r"validation\.csv:3: valence '\?' is not a number"),
        ("1/a.jpg,1,2", r"validation\.csv:3: 3 fields; expected 9"),
    ],
)
def test_affectnet_bad_rows(tmp_path, row, message):
    root = _affectnet(tmp_path, val_rows=[_affectnet_row("1/ok.jpg", 1)])
    path = root / "Manually_Annotated_file_lists" / "validation.csv"
    path.write_text("\n".join([AFF_HEADER, _affectnet_row("1/ok.jpg", 1), row]) + "\n")
    with pytest.raises(DataError, match=message):
        affectnet_dataset(root, "test")


def test_affectnet_missing_files_and_columns(tmp_path):
    root = _affectnet(tmp_path)
    lists = root / "Manually_Annotated_file_lists"
    (lists / "validation.csv").write_text(AFF_HEADER.replace("expression", "emotion") + "\n")
    with pytest.raises(DataError, match=r"validation\.csv:1: missing column\(s\) expression"):
        affectnet_dataset(root, "test")
    (lists / "validation.csv").unlink()
    with pytest.raises(DataError, match=r"validation\.csv: file not found"):
        affectnet_dataset(root, "test")
    # Minimal CSV (no box columns) in the root folder: no crop, image missing -> named at decode time.
    (root / "validation.csv").write_text("subDirectory_filePath,expression\n7/gone.jpg,3\n")
    ds = affectnet_dataset(root, "test")
    assert "face_box" not in ds.entries[0][2]
    with pytest.raises(DataError, match=r"gone\.jpg \(.*validation\.csv:2\): image file missing"):
        ds[0]


# ----------------------------------------------------------------------------------------------- ImageFolder


def _imagefolder(tmp_path: Path, splits=("train", "test"), classes=("angry", "happy", "sad"), n=4) -> Path:
    root = tmp_path / "faces"
    for split in splits:
        for c, name in enumerate(classes):
            for j in range(n):
                _write(root / split / name / f"{j:03d}.png", _solid(40 * c + j))
    return root


def test_imagefolder_classes_splits_and_carved_val(tmp_path):
    root = _imagefolder(tmp_path)
    assert class_names_for(str(root)) == ("angry", "happy", "sad")
    plain = open_dataset(str(root), "train")  # a plain directory is an image folder
    assert plain.class_names == ("angry", "happy", "sad") and len(plain) == 9  # 1 of 4 per class carved out
    val = open_dataset(f"imagefolder:{root}", "val", seed=3, val_fraction=0.25)
    train = imagefolder_dataset(root, "train", seed=3, val_fraction=0.25)
    assert len(train) == 9 and len(val) == 3 and sorted(dataset_labels(val)) == [0, 1, 2]
    assert not {str(p) for p, *_ in train.entries} & {str(p) for p, *_ in val.entries}
    test = imagefolder_dataset(root, "test")
    assert len(test) == 12 and list(dataset_labels(test)) == [0] * 4 + [1] * 4 + [2] * 4
    s = test[5]  # happy/001.png, exact colors (PNG)
    assert s.label == 1 and s.meta["name"] == "happy/001.png" and int(s.image[0, 0, 0]) == 41
    assert s.meta["where"] == str(root / "test" / "happy" / "001.png")


def test_imagefolder_uses_val_folder_when_present(tmp_path):
    root = _imagefolder(tmp_path, splits=("train", "val"), n=2)
    assert len(imagefolder_dataset(root, "train")) == 6  # nothing carved
    assert len(imagefolder_dataset(root, "val")) == 6
    with pytest.raises(DataError, match=r"test: folder not found; the test split needs it"):
        imagefolder_dataset(root, "test")


def test_imagefolder_layout_errors(tmp_path):
    flat = tmp_path / "flat"
    _write(flat / "happy" / "a.png", _solid(1))
    with pytest.raises(DataError, match=r"train: folder not found \(found class folders directly under it"):
        imagefolder_dataset(flat, "train")
    root = _imagefolder(tmp_path, n=2)
    (root / "test" / "sad").rename(root / "test" / "sadness")
    with pytest.raises(DataError, match=r"class folders differ from train/ \(extra: \['sadness'\], missing: \['sad'\]\)"):
        imagefolder_dataset(root, "test")
    for p in (root / "train" / "sad").iterdir():
        p.unlink()
    with pytest.raises(DataError, match=r"train/sad: no images"):
        imagefolder_dataset(root, "train")


def test_imagefolder_unreadable_image(tmp_path):
    root = _imagefolder(tmp_path, n=2)
    (root / "test" / "angry" / "000.png").write_bytes(b"\x89PNG broken")
    ds = imagefolder_dataset(root, "test")
    with pytest.raises(DataError, match=r"angry/000\.png.*unreadable or not an image"):
        ds[0]
    assert ds[1].image.shape == (12, 12, 3)
