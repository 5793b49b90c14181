"""Imported official checkpoints give the official outputs on real faces (issue #14).

For each preset an official-format checkpoint (``module.`` keys, full-size ResNet-18, spread attention) is saved
the official way and imported with ``import_official`` (crop convention ``official`` by default). The official
side cuts the regions with Pillow exactly as the official loader does (``int()`` box, ``crop``, ``resize`` with
BICUBIC, ``ToTensor``) and runs the official forward (trunk once per region, softmax-ed attention; independent of
ran-edge's RAN class). ran-edge's side is the exported ONNX graph, fed the full faces prepared from its sidecar.
Measured: max |Δlogit| relative to the logit std, top-1 agreement, final region weights; and, separately, the
residual of Pillow's uint8 rounding (ran-edge's torch model on the Pillow crops vs on the full faces).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
Image = pytest.importorskip("PIL.Image")

from ran_edge.artifact import read_sidecar  # noqa: E402
from ran_edge.crop import CropConvention  # noqa: E402
from ran_edge.data.classes import AFFECTNET8_CLASSES, FERPLUS_CLASSES  # noqa: E402
from ran_edge.export import export_onnx  # noqa: E402
from ran_edge.model.checkpoint import import_official  # noqa: E402
from ran_edge.presets import AFFECTNET8, FERPLUS6  # noqa: E402
from ran_edge.model_input import model_input  # noqa: E402
from tests.real_faces import real_faces  # noqa: E402

WIDTH = 64  # the released ResNet-18


def _official_trunk(num_classes: int, seed: int) -> dict:
    """Official-format trunk weights (``module.`` keys) with trained-looking BN statistics, random head."""
    from ran_edge.model.trunk import build_trunk

    torch.manual_seed(seed)
    trunk = build_trunk(WIDTH)
    trunk.train()
    with torch.no_grad():
        trunk(torch.rand(16, 3, 64, 64))  # non-trivial BN running statistics
    state = {f"module.{k}": v for k, v in trunk.state_dict().items()}
    d = 8 * WIDTH
    state.update({"module.fc.weight": torch.randn(num_classes, 2 * d) * 0.5,
                  "module.fc.bias": torch.randn(num_classes) * 0.1})
    return state


def _features(state: dict, per_region: list) -> torch.Tensor:
    """The official structure: the trunk called once per region type → ``[N, K, D]``."""
    from ran_edge.model.trunk import build_trunk

    trunk = build_trunk(WIDTH)
    trunk.load_state_dict({k[7:]: v for k, v in state.items() if k.split(".")[1] not in ("alpha", "beta", "fc")})
    trunk.eval()
    return torch.stack([trunk(r) for r in per_region], dim=1)


def _spread_attention(state: dict, feats: torch.Tensor) -> None:
    """Random α/β Linears scaled so their pre-activations vary by ~2 across regions, centred on 0 (spread weights)."""
    def linear(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = torch.randn(1, x.shape[-1])
        pre = (x @ w.T).squeeze(-1)  # [N, K]
        scale = 2.0 / float(pre.std(1).mean())
        return w * scale, -(pre * scale).mean().reshape(1)

    state["module.alpha.0.weight"], state["module.alpha.0.bias"] = linear(feats)
    mu = torch.softmax(torch.sigmoid((feats @ state["module.alpha.0.weight"].T).squeeze(-1)
                                     + state["module.alpha.0.bias"]), 1)
    fm = (mu.unsqueeze(-1) * feats).sum(1) / mu.sum(1, keepdim=True)
    state["module.beta.0.weight"], state["module.beta.0.bias"] = linear(torch.cat([feats, fm.unsqueeze(1).expand_as(feats)], -1))


def _official_head(state: dict, feats: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The released forward after the trunk (docs/model.md §2-4): sigmoid then softmax on α and β → logits, weights."""
    sd = {k[7:]: v for k, v in state.items()}
    vs = [feats[:, i] for i in range(feats.shape[1])]
    alphas = torch.softmax(torch.cat([torch.sigmoid(f @ sd["alpha.0.weight"].T + sd["alpha.0.bias"]) for f in vs], 1), 1)
    fm = sum(alphas[:, i:i + 1] * f for i, f in enumerate(vs)) / alphas.sum(1, keepdim=True)
    cats = [torch.cat([f, fm], 1) for f in vs]
    betas = torch.softmax(torch.cat([torch.sigmoid(c @ sd["beta.0.weight"].T + sd["beta.0.bias"]) for c in cats], 1), 1)
    w = alphas * betas
    p = sum(w[:, i:i + 1] * c for i, c in enumerate(cats)) / w.sum(1, keepdim=True)
    logits = p @ sd["fc.weight"].T + sd["fc.bias"]
    return logits.numpy(), (w / w.sum(1, keepdim=True)).numpy()


def _official_regions(face_rgb: np.ndarray, preset) -> list:
    """``part_attentioon_sample_fly.py``: ``height = img.size[0]``, ``width = img.size[1]`` (sic), ``int()`` boxes,
    ``img.crop(box)``, then ``CaffeCrop('test')`` = ``img.resize((224, 224))`` (Pillow's default filter), ``ToTensor``;
    the full face is not cropped."""
    out = []
    for k, b in enumerate(preset.boxes):
        img = Image.fromarray(face_rgb)
        height, width = img.size[0], img.size[1]
        if k != preset.full_face_index:
            img = img.crop((int(b.x0 * width), int(b.y0 * height), int(b.x1 * width), int(b.y1 * height)))
        img = img.resize((224, 224))
        out.append(torch.from_numpy(np.asarray(img).astype(np.float32) / 255.0).permute(2, 0, 1))
    return out


@pytest.fixture(scope="module", autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.parametrize("preset,classes", [(FERPLUS6, FERPLUS_CLASSES), (AFFECTNET8, AFFECTNET8_CLASSES)],
                         ids=["ferplus6", "affectnet8"])
def test_onnx_of_imported_checkpoint_matches_the_official_pipeline_on_real_faces(tmp_path, preset, classes):
    faces = real_faces(13)
    ckpt = tmp_path / "model_best.pth.tar"
    state = _official_trunk(len(classes), seed=preset.num_regions)
    k = preset.num_regions
    with torch.no_grad():
        regions = [_official_regions(f, preset) for f in faces]
        feats = _features(state, [torch.stack([r[i] for r in regions]) for i in range(k)])
        _spread_attention(state, feats)
        ref_logits, ref_weights = _official_head(state, feats)
    torch.save({"epoch": 40, "arch": "resnet18", "state_dict": state, "best_prec1": torch.tensor(59.5)}, ckpt)

    model = import_official(ckpt, preset, classes)
    assert model.config.preprocess.crop is CropConvention.OFFICIAL
    onnx_path = tmp_path / "model.onnx"
    export_onnx(model, onnx_path, simplify=False, check=False, log=lambda _m: None)
    meta = read_sidecar(onnx_path)
    assert meta.preprocess.crop is CropConvention.OFFICIAL  # the convention travels in the sidecar
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    bgr = [f[..., ::-1].copy() for f in faces]  # ran-edge takes BGR frames, as OpenCV gives them
    logits, weights = sess.run(None, {sess.get_inputs()[0].name: model_input(bgr, meta)})

    with torch.no_grad():
        flat = torch.stack([torch.stack(r) for r in regions]).reshape(-1, 3, 224, 224)
        ours_on_pillow = model.run_regions(flat)  # same maths, Pillow's uint8 crops
        ours_float = model.run(torch.from_numpy(model_input(bgr, meta)))  # same maths, float crops
        exact = import_official(ckpt, preset, classes, crop="exact")  # ran-edge's training convention, for scale
        exact_out = exact.run(torch.from_numpy(model_input(bgr, read_sidecar_like(exact))))
    std = float(ref_logits.std())
    exact_delta = float(np.abs(exact_out.logits.numpy() - ref_logits).max())
    exact_agree = float((exact_out.logits.numpy().argmax(1) == ref_logits.argmax(1)).mean())
    exact_dw = float(np.abs(exact_out.region_weights.numpy() - ref_weights).max())
    delta = float(np.abs(logits - ref_logits).max())
    rounding = float((ours_on_pillow.logits - ours_float.logits).abs().max())
    maths = float(np.abs(ours_on_pillow.logits.numpy() - ref_logits).max())
    maths_w = float(np.abs(ours_on_pillow.region_weights.numpy() - ref_weights).max())
    agree = float((logits.argmax(1) == ref_logits.argmax(1)).mean())
    dw = float(np.abs(weights - ref_weights).max())
    print(f"\n{preset.name}: logit std {std:.3f}; ONNX vs official max |dlogit| {delta:.4f} ({100 * delta / std:.2f} % of "
          f"std), top-1 agreement {100 * agree:.0f} %, region weights max diff {dw:.5f}; uint8-rounding residual "
          f"{rounding:.4f} ({100 * rounding / std:.2f} %); maths on identical crops {maths:.2e} (weights {maths_w:.1e}); "
          f"weights spread {weights.min():.3f}..{weights.max():.3f}; with --crop exact instead: max |dlogit| "
          f"{exact_delta:.4f} ({100 * exact_delta / std:.1f} %), top-1 {100 * exact_agree:.0f} %, weights {exact_dw:.4f}")
    assert std > 0.5, "degenerate logits: the test would prove nothing"
    assert weights.max() - weights.min() > 0.05, "attention does not spread over the regions"
    assert maths < 1e-3 and maths_w < 1e-5
    assert dw < 0.01
    assert delta <= 0.02 * std
    assert agree == 1.0
    assert exact_delta > 3 * delta  # the convention is what closes the gap


def read_sidecar_like(model):
    """The sidecar a ``faces`` export of ``model`` would carry (its input preparation reads only this)."""
    from ran_edge.artifact import InputKind, meta_for_model_config

    return meta_for_model_config(model.config, "onnx", InputKind.FACES, (), ())
