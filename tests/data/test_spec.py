"""The ``--data SPEC`` parser, split helpers and :func:`open_dataset` dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.data.classes import AFFECTNET7_CLASSES, AFFECTNET8_CLASSES, FERPLUS_CLASSES, RAFDB_CLASSES
from ran_edge.data.spec import DataSpec, class_names_for, open_dataset, parse_data_spec
from ran_edge.data.splits import Split, as_split, stratified_split
from ran_edge.errors import DataError, RanEdgeError


def test_parse_kinds_and_options(tmp_path):
    assert parse_data_spec("synthetic") == DataSpec("synthetic", None, {})
    spec = parse_data_spec("synthetic:n_train=3500,n_val=700,n_test=1400,size=64,seed=0")
    assert spec.kind == "synthetic" and spec.root is None
    assert dict(spec.options) == {"n_train": "3500", "n_val": "700", "n_test": "1400", "size": "64", "seed": "0"}
    assert parse_data_spec(f"rafdb:{tmp_path}") == DataSpec("rafdb", tmp_path, {})
    spec = parse_data_spec(f"ferplus:{tmp_path},votes=1")
    assert (spec.kind, spec.root, dict(spec.options)) == ("ferplus", tmp_path, {"votes": "1"})
    spec = parse_data_spec(f"affectnet:{tmp_path},classes=7,crop=0")
    assert dict(spec.options) == {"classes": "7", "crop": "0"}
    assert parse_data_spec(f"imagefolder:{tmp_path}").kind == "imagefolder"
    assert parse_data_spec(str(tmp_path)) == DataSpec("imagefolder", tmp_path, {})  # plain existing directory
    assert str(parse_data_spec(f"ferplus:{tmp_path},votes=1")) == f"ferplus:{tmp_path},votes=1"
    assert str(parse_data_spec("synthetic:size=32")) == "synthetic:size=32"


def test_parse_path_with_comma(tmp_path):
    odd = tmp_path / "a,b"
    odd.mkdir()
    spec = parse_data_spec(f"affectnet:{odd},classes=7")
    assert spec.root == odd and dict(spec.options) == {"classes": "7"}


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("rafbd:/data", RanEdgeError, r"unknown data kind 'rafbd' \(did you mean 'rafdb'\?\)"),
        ("synthetik", RanEdgeError, r"did you mean 'synthetic'"),
        ("/no/such/dir", DataError, r"data path not found: /no/such/dir"),
        ("rafdb:/no/such/dir", DataError, r"data path not found: /no/such/dir"),
        ("rafdb:", RanEdgeError, r"has no path"),
        ("", RanEdgeError, r"empty data spec"),
        ("synthetic:size=0", RanEdgeError, r"size='0' is invalid; expected an integer 8..1024"),
        ("synthetic:n_train=ten", RanEdgeError, r"n_train='ten' is invalid"),
        ("synthetic:n_trian=5", RanEdgeError, r"unknown data option 'n_trian' for synthetic \(did you mean 'n_train'\?\)"),
        ("synthetic:size", RanEdgeError, r"malformed; expected key=value"),
        ("synthetic:size=8,size=9", RanEdgeError, r"given twice"),
    ],
)
def test_parse_errors(text, error, message):
    with pytest.raises(error, match=message):
        parse_data_spec(text)


def test_parse_option_errors_for_real_kinds(tmp_path):
    with pytest.raises(RanEdgeError, match=r"classes='9' is invalid; expected one of 7, 8"):
        parse_data_spec(f"affectnet:{tmp_path},classes=9")
    with pytest.raises(RanEdgeError, match=r"unknown data option 'vote' for ferplus \(did you mean 'votes'\?\)"):
        parse_data_spec(f"ferplus:{tmp_path},vote=1")
    with pytest.raises(RanEdgeError, match=r"unknown data option 'seed' for rafdb.*known options: none"):
        parse_data_spec(f"rafdb:{tmp_path},seed=1")
    a_file = tmp_path / "x.txt"
    a_file.write_text("")
    with pytest.raises(DataError, match="not a directory"):
        parse_data_spec(f"imagefolder:{a_file}")
    with pytest.raises(DataError, match="not a directory"):
        parse_data_spec(str(a_file))


def test_split_coercion():
    assert as_split("train") is Split.TRAIN and as_split(" VAL ") is Split.VAL and as_split(Split.TEST) is Split.TEST
    assert Split.TEST == "test"
    with pytest.raises(RanEdgeError, match=r"unknown split 'valid' \(did you mean 'val'\?\)"):
        as_split("valid")


def test_stratified_split_is_deterministic_and_stratified():
    labels = np.array([0] * 50 + [1] * 20 + [2] * 2 + [3])
    tr, va = stratified_split(labels, 0.1, seed=0)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(len(labels)))
    assert not set(tr.tolist()) & set(va.tolist())
    counts = np.bincount(labels[va], minlength=4).tolist()
    assert counts == [5, 2, 1, 0]  # round(n * 0.1), at least 1 when n >= 2, a lone sample stays in train
    tr2, va2 = stratified_split(labels, 0.1, seed=0)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    assert any(not np.array_equal(va, stratified_split(labels, 0.1, seed=s)[1]) for s in range(1, 4))
    for bad in (0.0, 1.0, -0.2):
        with pytest.raises(RanEdgeError, match="val_fraction"):
            stratified_split(labels, bad, seed=0)


def test_class_names_for_fixed_kinds(tmp_path):
    assert class_names_for("synthetic") == RAFDB_CLASSES
    assert class_names_for(f"rafdb:{tmp_path}") == RAFDB_CLASSES
    assert class_names_for(f"ferplus:{tmp_path}") == FERPLUS_CLASSES
    assert class_names_for(f"affectnet:{tmp_path}") == AFFECTNET8_CLASSES
    assert class_names_for(DataSpec("affectnet", tmp_path, {"classes": "7"})) == AFFECTNET7_CLASSES
    with pytest.raises(DataError, match="train: folder not found; expected the image-folder layout"):
        class_names_for(str(tmp_path))


def test_open_dataset_argument_errors(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(RanEdgeError, match="suite 'occlusion' is only available for synthetic data"):
        open_dataset(str(tmp_path), "test", suite="occlusion")
    with pytest.raises(RanEdgeError, match="unknown split"):
        open_dataset(str(tmp_path), "dev")
    with pytest.raises(RanEdgeError, match="val_fraction"):
        open_dataset(str(tmp_path), "val", val_fraction=1.5)
    with pytest.raises(RanEdgeError, match="has no path"):
        open_dataset(DataSpec("rafdb", None, {}), "train")


def test_open_dataset_synthetic():
    """Dispatch to ran_edge.data.synthetic.faces.make_split with the sizes from the spec."""
    spec = "synthetic:n_train=6,n_val=3,n_test=4,size=32"
    val = open_dataset(spec, "val")
    assert len(val) == 3 and len(open_dataset(spec, Split.TEST)) == 4 and len(open_dataset(spec, "train")) == 6
    assert tuple(val.class_names) == RAFDB_CLASSES == class_names_for(spec)
    s = val[0]
    assert s.image.shape == (32, 32, 3) and s.image.dtype == np.uint8 and 0 <= s.label < 7
    # Same arguments -> same faces; a seed= option in the spec wins over the seed argument.
    assert np.array_equal(open_dataset(spec, "val")[1].image, val[1].image)
    a = open_dataset(spec + ",seed=5", "val", seed=0)
    b = open_dataset(spec + ",seed=5", "val", seed=1)
    assert all(np.array_equal(a[i].image, b[i].image) for i in range(3))
    with pytest.raises(RanEdgeError, match="unknown synthetic suite 'nope'"):
        open_dataset(spec, "test", suite="nope")
