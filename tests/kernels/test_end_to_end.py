"""Issue #6 end to end: predict_regions(kernel(frame, boxes)) matches predict(aligned faces)."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from ran_edge.kernels import region_batch  # noqa: E402
from ran_edge.runtime import load  # noqa: E402


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    from tests.runtime.artifacts import tiny_model

    from ran_edge.export import export_onnx

    folder = tmp_path_factory.mktemp("e2e")
    model = tiny_model()
    quiet = lambda s: None  # noqa: E731
    faces = export_onnx(model, folder / "faces.onnx", log=quiet).path
    regions = export_onnx(model, folder / "regions.onnx", input_kind="regions", check=False, log=quiet).path
    return faces, regions


def _frame_with_faces(rng: np.random.Generator):
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[10, 20, 74, 84], [150, 40, 214, 104], [250, 150, 314, 214]], np.float64)  # 64 px faces
    return frame, boxes


def test_fused_kernel_path_matches_aligned_faces_path(artifacts):
    faces_onnx, regions_onnx = artifacts
    rng = np.random.default_rng(0)
    frame, boxes = _frame_with_faces(rng)
    with load(faces_onnx) as by_faces, load(regions_onnx) as by_regions:
        spec = by_regions.meta.preprocess
        batch = region_batch(frame, boxes, by_regions.meta.preset, spec=spec)
        assert batch.shape == (3 * 6, 3, spec.region_size, spec.region_size)
        fused = by_regions.predict_regions(batch)
        crops = [frame[int(y0):int(y1), int(x0):int(x1)] for x0, y0, x1, y1 in boxes]
        aligned = by_faces.predict(crops)
    # Two resampling steps (face → S, then S → R) versus one (frame → R) differ slightly at region
    # borders when upsampling; within tolerance the predictions are the same.
    for a, b in zip(fused, aligned):
        assert a.label == b.label
        np.testing.assert_allclose(a.probs, b.probs, atol=2e-2)
        np.testing.assert_allclose(a.region_weights, b.region_weights, atol=2e-2)


def test_regions_artifact_predict_uses_the_kernel_convention(artifacts):
    """predict() on a regions artifact crops with the kernel and equals the faces artifact exactly
    when the face is already S x S (no first resampling step)."""
    faces_onnx, regions_onnx = artifacts
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(4)]
    with load(faces_onnx) as by_faces, load(regions_onnx) as by_regions:
        for a, b in zip(by_regions.predict(crops), by_faces.predict(crops)):
            assert a.label == b.label
            np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)
