"""A model trained on synthetic faces only says so, once, in ``inspect`` and ``run`` (issue 26): training records
the data in the checkpoint, export carries it into every sidecar (ONNX, TorchScript; INT8/FP16 copy it, engines
keep it under ``source_onnx_extra``)."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.artifact import ArtifactMeta, read_sidecar, synthetic_training_note, training_data_of
from ran_edge.cli.main import main

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

NOTE = "trained on synthetic faces only"


def _train(tmp_path, data_spec: str):
    from ran_edge.data.dataset import FaceSample, InMemoryDataset
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec
    from ran_edge.train.loop import TrainConfig, train

    rng = np.random.default_rng(0)
    faces = InMemoryDataset([FaceSample(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), i % 7) for i in range(14)],
                            list(RAFDB_CLASSES))
    torch.manual_seed(0)
    model = build_ran(RAFDB_CLASSES, "ferplus6", preprocess=PreprocessSpec(face_size=32, region_size=16), trunk_width=4)
    cfg = TrainConfig(epochs=1, lr=1e-2, batch_size=7, optimizer="adamw", schedule="cosine", seed=0)
    return train(model, faces, faces, cfg, tmp_path / "train", meta={"data": data_spec}, progress=False,
                 log=lambda _: None).best_path


def _lines_with_note(text: str) -> list:
    return [line for line in text.splitlines() if NOTE in line]


@pytest.fixture(scope="module")
def synthetic_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("synthetic_model")
    pt = _train(d, "synthetic:n_train=14,size=32")
    assert main(["export", str(pt), "--out", str(d / "m.onnx")]) == 0
    return pt, d / "m.onnx"


def test_training_records_the_data_and_export_carries_it(synthetic_model):
    from ran_edge.model.checkpoint import load_checkpoint

    pt, onnx = synthetic_model
    expected = {"spec": "synthetic:n_train=14,size=32", "synthetic_only": True}
    assert load_checkpoint(pt)[1]["meta"]["training_data"] == expected
    meta = read_sidecar(onnx)
    assert meta.extra["training_data"] == expected and training_data_of(meta) == expected
    engine_like = ArtifactMeta.from_dict({**meta.to_dict(), "format": "engine",
                                          "extra": {"source_onnx_extra": dict(meta.extra)}})
    assert training_data_of(engine_like) == expected  # an engine's sidecar keeps its ONNX's extra


def test_inspect_says_it_once(synthetic_model, capsys):
    for artifact in synthetic_model:  # the checkpoint and its ONNX
        assert main(["inspect", str(artifact)]) == 0
        assert len(_lines_with_note(capsys.readouterr().out)) == 1, artifact


def test_run_says_it_once(synthetic_model, tmp_path, capsys):
    cv2 = pytest.importorskip("cv2")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((120, 160, 3), 90 + 40 * i, np.uint8))
    assert main(["run", str(frames), "--model", str(synthetic_model[1]), "--detector", "hog", "--no-progress"]) == 0
    lines = _lines_with_note(capsys.readouterr().out)
    assert len(lines) == 1 and lines[0].startswith("note: m.onnx was trained on synthetic faces only")


def test_real_or_unknown_training_data_says_nothing(tmp_path, capsys):
    pt = _train(tmp_path, "rafdb:/data/raf")
    assert main(["inspect", str(pt)]) == 0
    assert _lines_with_note(capsys.readouterr().out) == []
    assert training_data_of({"data": "imagefolder:/x"}) == {"spec": "imagefolder:/x", "synthetic_only": False}
    assert synthetic_training_note("m.onnx", None) is None and training_data_of({}) is None
