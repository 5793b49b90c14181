"""Imported official checkpoints decide like the official pipeline on real faces (issues #14, #25).

For each preset, two differently initialised official-format checkpoints (``module.`` keys, full-size ResNet-18;
``tests/model/official_models.py``): a ``trained``-looking one with spread attention, and a deliberately
``sensitive`` one (BatchNorm scales and biases perturbed, attention spread further, class-centred logits). Each is
saved the official way and imported with ``import_official`` (crop convention ``official-uint8`` by default). The
official side cuts the regions with Pillow exactly as the official loader does (``int()`` box, ``crop``, ``resize``
with BICUBIC, ``ToTensor``) and runs the official forward (trunk once per region, softmax-ed attention; independent
of ran-edge's RAN class). ran-edge's side is the exported ONNX graph in ONNX Runtime, fed the full faces prepared
from its sidecar. Measured: max |Δlogit| relative to the logit std, top-1 agreement, final region weights; and the
same for the float ``official`` convention, which the uint8 mode must beat (its residual is Pillow's rounding).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("PIL.Image")

from ran_edge.artifact import InputKind, meta_for_model_config, read_sidecar  # noqa: E402
from ran_edge.crop import CropConvention  # noqa: E402
from ran_edge.data.classes import AFFECTNET8_CLASSES, FERPLUS_CLASSES  # noqa: E402
from ran_edge.export import export_onnx  # noqa: E402
from ran_edge.model.checkpoint import import_official  # noqa: E402
from ran_edge.model_input import model_input  # noqa: E402
from ran_edge.presets import AFFECTNET8, FERPLUS6  # noqa: E402
from tests.model.official_models import (centre_classes, official_features, official_head,  # noqa: E402
                                         official_regions, official_state, spread_attention)
from tests.real_faces import real_faces  # noqa: E402

#: (kind, seed offset, attention spread, centred classes)
MODELS = {"trained": ("trained", 0, 2.0, False), "sensitive": ("sensitive", 100, 8.0, True)}


@pytest.fixture(scope="module", autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    return real_faces(13)


def _official_model(preset, classes, faces, model: str):
    """State dict and the official forward's logits and region weights on ``faces``."""
    kind, offset, spread, centred = MODELS[model]
    k = preset.num_regions
    state = official_state(len(classes), seed=k + offset, kind=kind)
    with torch.no_grad():
        regions = [official_regions(f, preset) for f in faces]
        feats = official_features(state, [torch.stack([r[i] for r in regions]) for i in range(k)])
        spread_attention(state, feats, spread)
        logits, weights = official_head(state, feats)
        if centred:
            centre_classes(state, logits)
            logits, weights = official_head(state, feats)
    return state, logits, weights


@pytest.mark.slow
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("preset,classes", [(FERPLUS6, FERPLUS_CLASSES), (AFFECTNET8, AFFECTNET8_CLASSES)],
                         ids=["ferplus6", "affectnet8"])
def test_onnx_of_imported_checkpoint_decides_like_the_official_pipeline(tmp_path, faces, preset, classes, model):
    state, ref_logits, ref_weights = _official_model(preset, classes, faces, model)
    ckpt = tmp_path / "model_best.pth.tar"
    torch.save({"epoch": 40, "arch": "resnet18", "state_dict": state, "best_prec1": torch.tensor(59.5)}, ckpt)

    imported = import_official(ckpt, preset, classes)
    assert imported.config.preprocess.crop is CropConvention.OFFICIAL_UINT8  # the default of import-checkpoint
    onnx_path = tmp_path / "model.onnx"
    export_onnx(imported, onnx_path, simplify=False, check=False, log=lambda _m: None)
    meta = read_sidecar(onnx_path)
    assert meta.preprocess.crop is CropConvention.OFFICIAL_UINT8  # the convention travels in the sidecar
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    bgr = [f[..., ::-1].copy() for f in faces]  # ran-edge takes BGR frames, as OpenCV gives them
    logits, weights = sess.run(None, {sess.get_inputs()[0].name: model_input(bgr, meta)})

    as_float = import_official(ckpt, preset, classes, crop="official")  # the same weights in float
    float_meta = meta_for_model_config(as_float.config, "onnx", InputKind.FACES, (), ())
    with torch.no_grad():
        float_out = as_float.run(torch.from_numpy(model_input(bgr, float_meta)))
    std = float(ref_logits.std())
    delta = float(np.abs(logits - ref_logits).max())
    agree = int((logits.argmax(1) == ref_logits.argmax(1)).sum())
    dw = float(np.abs(weights - ref_weights).max())
    float_delta = float(np.abs(float_out.logits.numpy() - ref_logits).max())
    float_agree = int((float_out.logits.numpy().argmax(1) == ref_logits.argmax(1)).sum())
    print(f"\n{preset.name} {model}: logit std {std:.3f}; official-uint8 ONNX vs official max |dlogit| {delta:.5f} "
          f"({100 * delta / std:.4f} % of std), top-1 {agree}/{len(faces)}, region weights max diff {dw:.2e}; "
          f"float 'official' crops: {100 * float_delta / std:.3f} % of std, top-1 {float_agree}/{len(faces)}; "
          f"weights spread {weights.min():.3f}..{weights.max():.3f}")
    assert std > 0.3, "degenerate logits: the test would prove nothing"
    assert weights.max() - weights.min() > 0.05, "attention does not spread over the regions"
    assert agree == len(faces)  # every face's decision
    assert delta <= 0.005 * std
    assert dw < 1e-3
    assert float_delta > 10 * delta  # Pillow's uint8 rounding is what the mode closes
