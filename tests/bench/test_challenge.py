"""Parsing the official challenge lists (fixture excerpts in the original formats) and matching them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ran_edge.data.challenge import (ChallengeSource, find_official_list, parse_challenge_list, read_label_file,
                                      sample_key)
from ran_edge.data.suites import match_challenge_list
from ran_edge.data.classes import RAFDB_CLASSES
from ran_edge.data.dataset import FaceSample, InMemoryDataset
from ran_edge.errors import DataError, RanEdgeError

LISTS = Path(__file__).parent / "data" / "lists"


def test_rafdb_occlusion_drops_the_known_test_2464_duplicate():
    c = parse_challenge_list(LISTS / "RAF_DB_dir/rafdb_occlusion_list.txt", "rafdb")
    assert c.lines == 6 and len(c.entries) == 5
    assert [e.key for e in c.entries] == ["test_2726", "test_1002", "test_2464", "test_1019", "test_1058"]
    assert [e.label for e in c.entries] == [6, 0, 6, 3, 5]  # second token, already 0-based
    assert [e.occlusion_type for e in c.entries][:3] == [4, 4, 2]
    assert len(c.dropped) == 1
    d = c.dropped[0]
    assert (d.line, d.key, d.reason) == (5, "test_2464", "duplicate of line 3")


def test_rafdb_pose_list_with_label_file_header():
    labels, declared = read_label_file(LISTS / "RAF_DB_dir/val_raf_db_label.txt")
    assert declared == 4 and labels == [0, 4, 2, 6]
    c = parse_challenge_list(LISTS / "RAF_DB_dir/val_raf_db_list.txt", "rafdb", LISTS / "RAF_DB_dir/val_raf_db_label.txt")
    assert [(e.key, e.label) for e in c.entries] == [("test_0004", 0), ("test_0006", 4), ("test_0011", 2), ("test_2389", 6)]
    assert c.declared == 4 and not c.dropped


def test_ferplus_formats_occlusion_pose_and_val_mn():
    occ = parse_challenge_list(LISTS / "FERplus_dir/jianfei_occlusion_list.txt", "ferplus")
    assert [(e.key, e.label, e.occlusion_type) for e in occ.entries] == [
        ("fer0034656", 1, 0), ("fer0033359", 2, 2), ("fer0032220", 7, 3), ("fer0032343", 0, 0)]
    pose = parse_challenge_list(LISTS / "FERplus_dir/pose_30_ferplus_list.txt", "ferplus")
    assert [(e.key, e.label) for e in pose.entries] == [("fer0035557", 3), ("fer0035558", 0), ("fer0034656", 1)]
    mn = parse_challenge_list(LISTS / "val_ferplus_mn.txt", "ferplus")
    assert len(mn.entries) == 2 and [d.key for d in mn.dropped] == ["fer0033615"]


def test_affectnet_hash_folders_and_duplicates():
    occ = parse_challenge_list(LISTS / "AffectNet_dir/occlusion_affectnet_list.txt", "affectnet")
    assert [e.label for e in occ.entries] == [5, 5, 0]
    assert occ.entries[0].key == "ee27371f612584b1474ca92a9578b3a2f5395b75b6424af24d3a9a51"
    pose = parse_challenge_list(LISTS / "AffectNet_dir/pose_30_affectnet_list.txt", "affectnet")
    assert len(pose.entries) == 2 and pose.dropped[0].reason == "duplicate of line 1"


def test_duplicate_with_a_different_label_is_reported(tmp_path):
    p = tmp_path / "l.txt"
    p.write_text("test_0001_aligned 3 1\ntest_0001_aligned 4 1\n")
    c = parse_challenge_list(p, "rafdb")
    assert len(c.entries) == 1 and "different label (3 vs 4)" in c.dropped[0].reason


@pytest.mark.parametrize("text,source,needle", [
    ("test_0001_aligned 3 1\nnot a line\n", "rafdb", "l.txt:2: malformed RAF-DB"),
    ("test_0001_aligned 9 1\n", "rafdb", "label 9 out of range; expected 0..6"),
    ("3/fer00x.jpg\n", "ferplus", "l.txt:1: malformed FERPlus"),
    ("val/5/nothex!/\n", "affectnet", "malformed AffectNet"),
    ("test_0004_aligned.jpg\n", "rafdb", "no label"),
])
def test_malformed_lines_name_file_and_line(tmp_path, text, source, needle):
    p = tmp_path / "l.txt"
    p.write_text(text)
    with pytest.raises(DataError, match=needle.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_challenge_list(p, source)


def test_label_file_must_agree_with_list(tmp_path):
    lst, lab = tmp_path / "l.txt", tmp_path / "lab.txt"
    lst.write_text("0/test_0004_aligned.jpg\n4/test_0006_aligned.jpg\n")
    lab.write_text("2 7\n0\n3\n")
    with pytest.raises(DataError, match="folder label 4 disagrees with label 3"):
        parse_challenge_list(lst, "rafdb", lab)
    lab.write_text("3 7\n0\n4\n")
    with pytest.raises(DataError, match="header declares 3 labels but the file has 2"):
        parse_challenge_list(lst, "rafdb", lab)


def test_find_official_list_and_missing(tmp_path):
    path, label = find_official_list(LISTS, "rafdb", "pose45")
    assert path.name == "val_raf_db_list_45.txt" and label.name == "val_raf_db_label_45.txt"
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "jianfei_occlusion_list.txt").write_text("1_fer0034656.png 8 0\n")
    assert find_official_list(flat, "ferplus", "occlusion")[0] == flat / "jianfei_occlusion_list.txt"
    with pytest.raises(DataError, match="pass the authors' Challenge-condition-FER-dataset folder as --lists"):
        find_official_list(flat, "affectnet", "pose30")
    with pytest.raises(RanEdgeError, match="no official clean list"):
        find_official_list(LISTS, "rafdb", "clean")


def test_sample_keys_from_reader_meta():
    assert sample_key("rafdb", {"name": "test_0004.jpg"}) == "test_0004"
    assert sample_key("ferplus", {"name": "fer0035557.png"}) == "fer0035557"
    h = "92235759fa734bcbdf0673fa1dcb7f9ea2e490ac0c1348eced92f847"
    assert sample_key("affectnet", {"name": f"689/{h}.jpg"}) == h
    assert sample_key("rafdb", {"name": "train_00001.jpg"}) is None


def test_match_list_to_local_dataset_uses_list_labels_and_reports_missing():
    img = np.zeros((8, 8, 3), np.uint8)
    local = [FaceSample(img, 0, {"name": "test_2726.jpg"}), FaceSample(img, 1, {"name": "test_1002.jpg"}),
             FaceSample(img, 3, {"name": "test_1019.jpg"}), FaceSample(img, 2, {"name": "test_9999.jpg"})]
    ds = InMemoryDataset(local, RAFDB_CLASSES)
    path, label = find_official_list(LISTS, ChallengeSource.RAFDB, "occlusion")
    suite = match_challenge_list(ds, path, label, ChallengeSource.RAFDB, "occlusion")
    assert suite.n == 3 and suite.info["matched"] == 3
    assert suite.info["not_found_locally"] == 2  # test_2464 and test_1058 are not in the local copy
    assert suite.dataset.labels.tolist() == [6, 0, 3]  # the list's labels
    assert suite.info["label_differs_from_local"] == 2  # local 0 vs 6, 1 vs 0; 3 agrees
    assert suite.info["list"]["dropped"][0]["key"] == "test_2464"
    assert suite.dataset[0].label == 6


def test_load_suites_on_a_local_rafdb_copy_with_the_official_lists(tmp_path):
    """clean = the test split; occlusion / pose30 = the lists matched by name, duplicates dropped and reported."""
    cv2 = pytest.importorskip("cv2")
    from ran_edge.data.suites import load_suites

    root = tmp_path / "basic"
    (root / "EmoLabel").mkdir(parents=True)
    (root / "Image" / "aligned").mkdir(parents=True)
    names = {"train_00001": 4, "train_00002": 1, "test_2726": 7, "test_1002": 1, "test_2464": 7, "test_0004": 1,
             "test_0006": 5}
    (root / "EmoLabel" / "list_patition_label.txt").write_text("".join(f"{n}.jpg {lab}\n" for n, lab in names.items()))
    for n in names:
        cv2.imwrite(str(root / "Image" / "aligned" / f"{n}_aligned.jpg"), np.full((20, 20, 3), 128, np.uint8))
    logs = []
    suites = {s.name: s for s in load_suites(f"rafdb:{root}", ["clean", "occlusion", "pose30"], lists_dir=LISTS,
                                             log=logs.append)}
    assert suites["clean"].n == 5
    occ = suites["occlusion"]
    assert occ.n == 3 and occ.dataset.labels.tolist() == [6, 0, 6]  # test_2726, test_1002, test_2464 (once)
    assert occ.info["list"]["dropped"] == [{"line": 5, "key": "test_2464", "reason": "duplicate of line 3"}]
    assert occ.info["not_found_locally"] == 2 and occ.info["label_differs_from_local"] == 0
    assert suites["pose30"].n == 2 and suites["pose30"].dataset.labels.tolist() == [0, 4]
    assert occ.dataset[0].image.shape == (20, 20, 3)
    assert any("1 duplicate lines dropped" in line for line in logs)
    no_lists = load_suites(f"rafdb:{root}", ["clean", "pose45"], log=logs.append)
    assert no_lists[1].dataset is None and "--lists" in no_lists[1].info["skipped"]
