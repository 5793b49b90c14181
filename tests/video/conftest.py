"""Fixtures of the video tests: a short labelled video and small model artifacts (made here, nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest



@pytest.fixture(scope="session")
def short_video(tmp_path_factory):
    """60 frames (5 s at 12 fps), 2 faces: expressions change, each face is hidden once by a card
    for 0.4 s, and each cell's face leaves and a new one enters. Returns (video path, GroundTruth)."""
    pytest.importorskip("cv2")
    from ran_edge.data.synthetic.video_gen import VideoScenario, write_test_video

    path = tmp_path_factory.mktemp("video") / "faces.mp4"
    sc = VideoScenario(n_faces=2, width=512, height=288, fps=12.0, seconds=5.0, face_size=112, segment_s=1.25,
                       occluders=("cover",), seed=1)
    return path, write_test_video(path, sc)


def _export(model, out: Path, kind) -> Path:
    from ran_edge.export import export_onnx

    export_onnx(model, out, input_kind=kind, simplify=False, check=False, log=lambda s: None)
    return out


@pytest.fixture(scope="session")
def tiny_artifacts(tmp_path_factory):
    """A random-init narrow RAN (64x64 faces, 32x32 regions) exported twice: faces and regions input."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import torch

    from ran_edge.artifact import InputKind
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    torch.manual_seed(0)
    model = build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(face_size=64, region_size=32), trunk_width=8)
    d = tmp_path_factory.mktemp("tiny")
    return {"faces": _export(model, d / "tiny_faces.onnx", InputKind.FACES),
            "regions": _export(model, d / "tiny_regions.onnx", InputKind.REGIONS)}


@pytest.fixture(scope="session")
def tiny_official_artifacts(tmp_path_factory):
    """The tiny RAN of ``tiny_artifacts`` with the ``official`` crop convention, faces and regions input."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import torch

    from ran_edge.artifact import InputKind
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    torch.manual_seed(0)
    spec = PreprocessSpec(face_size=64, region_size=32, crop="official")
    model = build_ran(RAFDB_CLASSES, "ferplus6", "official", spec, trunk_width=8)
    d = tmp_path_factory.mktemp("tiny_official")
    return {"faces": _export(model, d / "tiny_faces.onnx", InputKind.FACES),
            "regions": _export(model, d / "tiny_regions.onnx", InputKind.REGIONS)}


@pytest.fixture(scope="session")
def demo_artifact(tmp_path_factory, trained_demo_checkpoint):
    """A trained demo-architecture model (trained in this test session) as ONNX (faces input)."""
    pytest.importorskip("onnxruntime")
    from ran_edge.artifact import InputKind
    from ran_edge.model.checkpoint import load_checkpoint

    model, _ = load_checkpoint(trained_demo_checkpoint)
    return _export(model, tmp_path_factory.mktemp("demo") / "demo_faces.onnx", InputKind.FACES)
