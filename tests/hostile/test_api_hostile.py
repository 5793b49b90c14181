"""The runtime and kernel APIs under hostile artifacts and arrays: one RanEdgeError, never a TypeError,
IndexError or MemoryError (issue #15 findings 5, 7, 8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _unrelated_onnx(path: Path) -> Path:
    """A valid ONNX with one input 'faces' and an output 'y' (not a RAN)."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("faces", TensorProto.FLOAT, [None, 3, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3, 32, 32])
    graph = helper.make_graph([helper.make_node("Identity", ["faces"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _sidecar(src: Path, dst: Path, **edit) -> None:
    from ran_edge.artifact import sha256_file

    d = json.loads(Path(str(src) + ".json").read_text())
    d["extra"]["onnx_sha256"] = sha256_file(dst)  # a consistent hash: only the content is wrong
    d.update(edit)
    Path(str(dst) + ".json").write_text(json.dumps(d))


def test_load_refuses_a_file_its_sidecar_does_not_describe(work, tmp_path):
    from ran_edge.runtime import load

    shutil.copy(work["regions"], tmp_path / "other.onnx")
    shutil.copy(str(work["onnx"]) + ".json", tmp_path / "other.onnx.json")
    with pytest.raises(RanEdgeError, match="sha256"):
        load(tmp_path / "other.onnx")


def test_load_refuses_an_unrelated_onnx(work, tmp_path):
    from ran_edge.runtime import load

    p = _unrelated_onnx(tmp_path / "id.onnx")
    _sidecar(work["onnx"], p)
    with pytest.raises(RanEdgeError, match="differ from the sidecar's"):  # the graph checked against its sidecar
        load(p)


def test_a_two_class_sidecar_is_one_error_not_an_index_error(work, tmp_path):
    from ran_edge.runtime import load
    from tests.runtime.artifacts import faces

    p = tmp_path / "m.onnx"
    shutil.copy(work["onnx"], p)
    _sidecar(work["onnx"], p, class_names=["a", "b"])
    d = json.loads(Path(str(p) + ".json").read_text())
    for o in d["outputs"]:
        if o["name"] == "logits":
            o["shape"] = [-1, -1]  # a sidecar that does not say: the run itself must catch it
    Path(str(p) + ".json").write_text(json.dumps(d))
    with load(p) as clf, pytest.raises(RanEdgeError, match="expected \\[2, 2\\]"):
        clf.predict(faces(2))


@pytest.mark.parametrize("threads", [0, -1, 10**6, 2.5, True])
def test_thread_counts_are_bounded(work, threads):
    from ran_edge.runtime import load

    with pytest.raises(RanEdgeError, match="threads"):
        load(work["onnx"], threads=threads)


BAD_FACES = {
    "None": None, "string": "face.jpg", "int": 3, "empty list": [], "2-D": [np.zeros((8, 8), np.uint8)],
    "float NaN": [np.full((8, 8, 3), np.nan, np.float32)], "zero size": [np.zeros((0, 0, 3), np.uint8)],
    "4 channels": [np.zeros((8, 8, 4), np.uint8)], "object array": np.array([object()]),
}


@pytest.mark.parametrize("name", sorted(BAD_FACES))
def test_predict_bad_arrays_is_one_error(arts, name):
    from ran_edge.runtime import load

    with load(arts["onnx"]) as clf, pytest.raises(RanEdgeError):
        clf.predict(BAD_FACES[name])


BAD_REGION_CALLS = {
    "size 10**6": dict(size=10**6), "size 16.7": dict(size=16.7), "size 0": dict(size=0), "size True": dict(size=True),
    "string boxes": dict(boxes=[["a", "b", "c", "d"]]), "a million faces": dict(boxes=np.tile([[0, 0, 8, 8]], (10**6, 1))),
    "NaN box": dict(boxes=[[np.nan, 0, 8, 8]]), "3 coords": dict(boxes=[[0, 0, 8]]),
}


@pytest.mark.parametrize("name", sorted(BAD_REGION_CALLS))
def test_region_batch_bad_arguments_are_one_error(name):
    from ran_edge.kernels import region_batch

    kw = {"boxes": [[0, 0, 32, 32]], "size": 16, **BAD_REGION_CALLS[name]}
    with pytest.raises(RanEdgeError):
        region_batch(np.zeros((48, 64, 3), np.uint8), kw.pop("boxes"), **kw)


def test_mixed_frame_sizes_keep_every_frame(tmp_path):
    """An image folder whose frames differ in size: the video has every frame (finding 8)."""
    cv2 = pytest.importorskip("cv2")
    from ran_edge.video.frame_loop import VideoSink

    sink = VideoSink(tmp_path / "v.avi", 10.0)
    for shape in [(48, 64), (60, 80), (48, 64), (30, 40)]:
        sink.write(np.full((*shape, 3), 128, np.uint8))
    sink.close()
    cap = cv2.VideoCapture(str(tmp_path / "v.avi"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 4 and sink.resized == 2


def test_run_on_a_mixed_size_folder_video_and_jsonl_agree(work, tmp_path, capsys):
    cv2 = pytest.importorskip("cv2")
    from tests.hostile.helpers import run_cli

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, shape in enumerate([(48, 64), (60, 80), (48, 64)]):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((*shape, 3), 100 + 40 * i, np.uint8))
    code, err = run_cli(["run", str(folder), "--model", str(work["onnx"]), "--out", str(tmp_path / "o.avi"),
                         "--jsonl", str(tmp_path / "o.jsonl"), "--no-progress"], capsys)
    assert code == 0, err
    cap, n = cv2.VideoCapture(str(tmp_path / "o.avi")), 0
    while cap.read()[0]:
        n += 1
    assert n == 3 == len((tmp_path / "o.jsonl").read_text().splitlines())
