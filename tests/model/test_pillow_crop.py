"""The ``official-uint8`` in-graph crops (ran_edge/model/pillow_crop.py): Pillow bit for bit on real faces, in torch
and in the exported ONNX graph (as exported and after onnx-simplifier) run by ONNX Runtime; the ops TensorRT 8.6-11
parses; FP16 keeps them FP32."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
Image = pytest.importorskip("PIL.Image")

from ran_edge.crop import PilFilter  # noqa: E402
from ran_edge.errors import RanEdgeError  # noqa: E402
from ran_edge.export.fp16 import integer_crop_nodes  # noqa: E402
from ran_edge.export.simplify import simplify_onnx  # noqa: E402
from ran_edge.export.trt_lint import lint_tensorrt  # noqa: E402
from ran_edge.model.checkpoint import official_preprocess  # noqa: E402
from ran_edge.model.pillow_crop import PillowCrop  # noqa: E402
from ran_edge.preprocess import PreprocessSpec, prepare_faces, region_batch_reference  # noqa: E402
from ran_edge.presets import AFFECTNET8, FERPLUS6  # noqa: E402
from tests.real_faces import real_faces  # noqa: E402

PRESETS = [FERPLUS6, AFFECTNET8]


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    return real_faces(6)


def _pillow_regions(face: np.ndarray, preset, pil_filter: PilFilter) -> np.ndarray:
    """``[K,3,224,224]`` uint8: the official loader's ``int()`` box, ``crop``, ``resize``."""
    out = []
    for b in preset.boxes:
        img = Image.fromarray(face)
        w, h = img.size
        img = img.crop((int(b.x0 * w), int(b.y0 * h), int(b.x1 * w), int(b.y1 * h)))
        out.append(np.asarray(img.resize((224, 224), getattr(Image, pil_filter.name))).transpose(2, 0, 1))
    return np.stack(out)


def _export(module: torch.nn.Module, path, size: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter, as ran_edge.export uses it
        _legacy_export(module, path, size)


def _legacy_export(module: torch.nn.Module, path, size: int) -> None:
    torch.onnx.export(module, (torch.zeros(1, 3, size, size),), str(path), input_names=["faces"], output_names=["regions"],
                      dynamic_axes={"faces": {0: "N"}, "regions": {0: "NK"}}, opset_version=17, dynamo=False)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
@pytest.mark.parametrize("pil_filter", [PilFilter.BICUBIC, PilFilter.NEAREST])
def test_graph_crops_are_pillow_bit_for_bit_in_torch_and_onnx_runtime(tmp_path, faces, preset, pil_filter):
    spec = official_preprocess(224, "official-uint8", pil_filter)
    crop = PillowCrop(preset, spec).eval()
    x = prepare_faces([np.ascontiguousarray(f[..., ::-1]) for f in faces], spec)  # the model input, [0,1] RGB
    with torch.no_grad():
        in_torch = crop(torch.from_numpy(x)).numpy()
    _export(crop, tmp_path / "crop.onnx", 224)
    sess = ort.InferenceSession(str(tmp_path / "crop.onnx"), providers=["CPUExecutionProvider"])
    in_ort = sess.run(None, {"faces": x})[0]
    simplified, report = simplify_onnx(onnx.load(str(tmp_path / "crop.onnx")), log=lambda _m: None)  # as `export`
    assert report.simplified, report.reason
    in_ort_simplified = ort.InferenceSession(simplified.SerializeToString(),
                                             providers=["CPUExecutionProvider"]).run(None, {"faces": x})[0]
    k = preset.num_regions
    for n, face in enumerate(faces):
        ref = _pillow_regions(face, preset, pil_filter).astype(np.float32)
        for got in (in_torch, in_ort, in_ort_simplified):
            u8 = got[n * k:(n + 1) * k] * 255.0
            np.testing.assert_array_equal(np.rint(u8), ref)  # Pillow's uint8 values, bit for bit
            np.testing.assert_allclose(got[n * k:(n + 1) * k], ref / 255.0, rtol=0, atol=6e-8)  # ToTensor's values


def test_mean_std_inputs_recover_the_same_uint8_values(faces):
    """The first step inverts any sidecar normalisation (ImageNet mean/std here) back to the face's uint8 values."""
    plain = official_preprocess(224, "official-uint8")
    imagenet = PreprocessSpec(**{**plain.__dict__, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)})
    bgr = [np.ascontiguousarray(f[..., ::-1]) for f in faces[:2]]
    with torch.no_grad():
        a = PillowCrop(FERPLUS6, plain)(torch.from_numpy(prepare_faces(bgr, plain))).numpy()
        b = PillowCrop(FERPLUS6, imagenet)(torch.from_numpy(prepare_faces(bgr, imagenet))).numpy()
    mean = np.asarray(imagenet.mean, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(imagenet.std, np.float32).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(b, (a - mean) / std, rtol=0, atol=1e-6)


def test_graph_ops_parse_in_tensorrt_and_stay_fp32_under_fp16(tmp_path):
    crop = PillowCrop(AFFECTNET8, official_preprocess(224, "official-uint8")).eval()
    _export(crop, tmp_path / "crop.onnx", 224)
    model = onnx.load(str(tmp_path / "crop.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert ops <= {"MatMul", "Mul", "Add", "Sub", "Div", "Floor", "Clip", "Slice", "Reshape", "Unsqueeze", "Constant",
                   "Shape", "Gather", "Concat"}, ops
    assert {"MatMul", "Floor", "Clip"} <= ops
    assert lint_tensorrt(model, ("8.6", "10.0", "11.1")) == []
    integer = integer_crop_nodes(model)
    floors = [n.name for n in model.graph.node if n.op_type == "Floor"]
    matmuls = [n.name for n in model.graph.node if n.op_type == "MatMul"]
    assert len(floors) == 5 and len(matmuls) == 4 and set(floors) | set(matmuls) <= integer  # input; 2 per pass


def test_too_large_faces_for_exact_float32_sums_are_refused():
    with pytest.raises(RanEdgeError, match="official-uint8 with face size 4096"):
        PillowCrop(FERPLUS6, PreprocessSpec(face_size=4096, region_size=32, crop="official-uint8"))


@pytest.mark.parametrize("pil_filter", [PilFilter.BICUBIC, PilFilter.LANCZOS])
def test_graph_crops_equal_the_numpy_reference_at_other_sizes(pil_filter):
    """64 px faces, 96 px regions (upscaled) and 40 px regions (downscaled, antialiased), ImageNet normalisation."""
    rng = np.random.default_rng(8)
    faces = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    faces[0, :20] = 255  # saturated rows: the overshoot clipping of the first pass
    for region_size in (96, 40):
        spec = PreprocessSpec(face_size=64, region_size=region_size, crop="official-uint8", pil_filter=pil_filter,
                              mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
        with torch.no_grad():
            got = PillowCrop(AFFECTNET8, spec)(torch.from_numpy(prepare_faces(faces, spec))).numpy()
        want = np.concatenate([region_batch_reference(f, np.array([[0.0, 0.0, 64.0, 64.0]]), AFFECTNET8, spec)
                               for f in faces])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
