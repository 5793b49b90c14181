"""``ran-edge run --model model.pt [--precision fp16]`` on the generated test video: the checkpoint goes
through the build cache (exported once, then reused) and gives the same events as its exported ONNX."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.cli.main import main
from ran_edge.video.events import read_events

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """The tiny RAN of ``tiny_artifacts`` (same seed and build) as a ``.pt`` checkpoint."""
    torch = pytest.importorskip("torch")
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.model.checkpoint import save_checkpoint
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    torch.manual_seed(0)
    model = build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(face_size=64, region_size=32), trunk_width=8)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pt", model.eval())


def _run(video, model, tmp_path, name, *extra):
    jsonl = tmp_path / f"{name}.jsonl"
    rc = main(["run", str(video), "--model", str(model), "--detector", "hog", "--jsonl", str(jsonl), "--no-progress",
               "--max-frames", "24", "--cache-dir", str(tmp_path / "cache"), *extra])
    return rc, read_events(jsonl)


def _faces(events):
    return [[(f["id"], f["box"], f["label"], f["probs"]) for f in e["faces"]] for e in events]


def _same_faces(a, b):
    """The same tracks and labels on every frame; probabilities and boxes equal up to float noise (ONNX Runtime's
    multi-threaded sums differ from run to run under load: one box was seen 0.1 px apart after rounding)."""
    assert [[(f[0], f[2]) for f in fr] for fr in a] == [[(f[0], f[2]) for f in fr] for fr in b]
    np.testing.assert_allclose([p for fr in a for f in fr for p in f[3]], [p for fr in b for f in fr for p in f[3]],
                               atol=2e-4)
    np.testing.assert_allclose([v for fr in a for f in fr for v in f[1]], [v for fr in b for f in fr for v in f[1]],
                               atol=0.5)


def test_run_from_a_checkpoint_matches_its_onnx_and_reuses_the_cache(short_video, tiny_artifacts, tiny_checkpoint,
                                                                     tmp_path, capsys):
    video, _ = short_video
    rc, from_pt = _run(video, tiny_checkpoint, tmp_path, "pt")
    first = capsys.readouterr().out
    assert rc == 0 and len(from_pt) == 24
    assert "load " in first and "onnxruntime-cpu" in first and "built onnx" in first
    rc, from_onnx = _run(video, tiny_artifacts["faces"], tmp_path, "onnx")
    assert rc == 0
    a, b = _faces(from_pt), _faces(from_onnx)
    _same_faces(a, b)
    rc, again = _run(video, tiny_checkpoint, tmp_path, "again")
    assert rc == 0 and "from the cache" in capsys.readouterr().out
    _same_faces(_faces(again), a)


def test_run_from_a_checkpoint_in_fp16(short_video, tiny_checkpoint, tmp_path, capsys):
    video, _ = short_video
    rc, events = _run(video, tiny_checkpoint, tmp_path, "fp16", "--precision", "fp16")
    out = capsys.readouterr().out
    assert rc == 0 and len(events) == 24 and sum(len(e["faces"]) for e in events) > 0
    assert "fp16;" in out and "built onnx+fp16" in out


def test_run_int8_without_calibration_data_is_one_line(short_video, tiny_checkpoint, tmp_path, capsys):
    video, _ = short_video
    rc = main(["run", str(video), "--model", str(tiny_checkpoint), "--precision", "int8", "--detector", "hog",
               "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "calibration data" in err[0] and err[0].startswith("ran-edge run: error:")
