
import pytest

torch = pytest.importorskip("torch")

from ran_edge.data.classes import FERPLUS_CLASSES  # noqa: E402
from ran_edge.errors import CheckpointError  # noqa: E402
from ran_edge.model.checkpoint import (  # noqa: E402
    import_official, load_checkpoint, load_trunk_weights, save_checkpoint,
)
from ran_edge.model.ran import AttentionMode, build_ran  # noqa: E402
from ran_edge.model.trunk import build_trunk  # noqa: E402
from ran_edge.preprocess import PreprocessSpec  # noqa: E402
from ran_edge.presets import FERPLUS6  # noqa: E402


def test_roundtrip_keeps_weights_and_metadata(tiny_ran, tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", tiny_ran, {"note": "x"})
    raw = torch.load(path, weights_only=True)  # loadable without arbitrary unpickling
    assert raw["format"] == "ran-edge-checkpoint" and raw["meta"]["note"] == "x"
    model, payload = load_checkpoint(path)
    assert model.config == tiny_ran.config
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], tiny_ran(x)[0])
    assert payload["meta"]["ran_edge_version"]


def test_truncated_and_garbage_files_are_one_line_errors(tiny_ran, tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", tiny_ran)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        load_checkpoint(cut)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError):
        load_checkpoint(junk)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


class Evil:  # something that needs arbitrary unpickling
    def __reduce__(self):
        return (print, ("pwned",))


def test_arbitrary_pickle_is_refused_without_trust(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "obj": Evil()}, path)
    with pytest.raises(CheckpointError, match="--trust-checkpoint"):
        load_checkpoint(path)


def _official_state(width: int, num_classes: int) -> dict:
    """A state_dict exactly in the official DataParallel format (docs/model.md §8)."""
    torch.manual_seed(3)
    trunk = build_trunk(width)
    trunk.train()
    with torch.no_grad():
        trunk(torch.rand(8, 3, 16, 16))  # non-trivial BN statistics
    state = {f"module.{k}": v for k, v in trunk.state_dict().items()}
    d = 8 * width
    state.update({
        "module.alpha.0.weight": torch.randn(1, d) * 0.1, "module.alpha.0.bias": torch.randn(1),
        "module.beta.0.weight": torch.randn(1, 2 * d) * 0.1, "module.beta.0.bias": torch.randn(1),
        "module.fc.weight": torch.randn(num_classes, 2 * d) * 0.1, "module.fc.bias": torch.randn(num_classes),
    })
    return state


def _official_forward(state: dict, regions: list, width: int) -> torch.Tensor:
    """The released code's forward (docs/model.md §2-4): trunk per region, sigmoid→softmax on α and β."""
    trunk = build_trunk(width)
    trunk.load_state_dict({k[7:]: v for k, v in state.items() if not k.split(".")[1] in ("alpha", "beta", "fc")})
    trunk.eval()
    sd = {k[7:]: v for k, v in state.items()}
    feats = [trunk(r) for r in regions]
    alphas = [torch.sigmoid(f @ sd["alpha.0.weight"].T + sd["alpha.0.bias"]) for f in feats]
    alphas = torch.softmax(torch.cat(alphas, 1), 1)
    fm = sum(alphas[:, i:i + 1] * f for i, f in enumerate(feats)) / alphas.sum(1, keepdim=True)
    cats = [torch.cat([f, fm], 1) for f in feats]
    betas = torch.softmax(torch.cat([torch.sigmoid(c @ sd["beta.0.weight"].T + sd["beta.0.bias"]) for c in cats], 1), 1)
    w = alphas * betas
    p = sum(w[:, i:i + 1] * c for i, c in enumerate(cats)) / w.sum(1, keepdim=True)
    return p @ sd["fc.weight"].T + sd["fc.bias"]


def test_import_official_checkpoint_computes_what_the_official_code_computes(tmp_path):
    width = 8
    state = _official_state(width, 8)
    path = tmp_path / "model_best.pth.tar"
    torch.save({"epoch": 33, "arch": "resnet18", "state_dict": state, "best_prec1": torch.tensor(89.162),
                "optimizer": {"state": {}, "param_groups": []}}, path)
    model = import_official(path, FERPLUS6, FERPLUS_CLASSES, face_size=32)
    assert model.config.attention is AttentionMode.OFFICIAL and model.config.trunk_width == width
    assert model.config.preprocess.region_size == 224 and model.config.preprocess.scale == pytest.approx(1 / 255)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ours = model(x)[0]
        crops = model.crop_regions(x).reshape(2, 6, 3, 224, 224)
        ref = _official_forward(state, [crops[:, i] for i in range(6)], width)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_import_rejects_wrong_class_count_and_non_ran(tmp_path):
    path = tmp_path / "m.pth.tar"
    torch.save({"state_dict": _official_state(4, 8)}, path)
    with pytest.raises(CheckpointError, match="8 classes"):
        import_official(path, FERPLUS6, ("a", "b", "c"))
    other = tmp_path / "resnet.pth"
    torch.save({"state_dict": build_trunk(4).state_dict()}, other)
    with pytest.raises(CheckpointError, match="not an official RAN checkpoint"):
        import_official(other, FERPLUS6, FERPLUS_CLASSES)


def test_import_supports_the_self_attention_only_variant(tmp_path):
    """FERplus_dir/part_attention.py: sigmoid α (no softmax), F_m = Σ α F / Σ α, fc on F_m (8*width inputs)."""
    width = 8
    state = _official_state(width, 8)
    state["module.fc.weight"] = torch.randn(8, 8 * width) * 0.1
    path = tmp_path / "self_only.pth.tar"
    torch.save({"state_dict": state}, path)
    model = import_official(path, FERPLUS6, FERPLUS_CLASSES, face_size=32)
    assert model.config.attention is AttentionMode.SELF_ONLY and model.config.trunk_width == width
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        logits, weights = model(x)
        crops = model.crop_regions(x).reshape(3, 6, 3, 224, 224)
        trunk = build_trunk(width)
        trunk.load_state_dict({k[7:]: v for k, v in state.items() if k.split(".")[1] not in ("alpha", "beta", "fc")})
        trunk.eval()
        vs = torch.stack([trunk(crops[:, i]) for i in range(6)], dim=2)  # [N,D,K] as the official code
        alphas = torch.sigmoid(torch.einsum("ndk,d->nk", vs, state["module.alpha.0.weight"][0])
                               + state["module.alpha.0.bias"]).unsqueeze(1)
        vm = vs.mul(alphas).sum(2).div(alphas.sum(2))
        ref = vm @ state["module.fc.weight"].T + state["module.fc.bias"]
    torch.testing.assert_close(logits, ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    out = tmp_path / "self_only.pt"
    save_checkpoint(out, model)
    again, _ = load_checkpoint(out)
    assert again.config.attention is AttentionMode.SELF_ONLY
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from ran_edge.export import export_onnx

    export_onnx(model, tmp_path / "self_only.onnx", simplify=False, check=False, log=lambda _m: None)
    sess = ort.InferenceSession(str(tmp_path / "self_only.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got[0]), logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(torch.from_numpy(got[1]), weights, atol=1e-5, rtol=1e-5)


def test_import_crop_convention_default_and_override(tmp_path):
    path = tmp_path / "m.pth.tar"
    torch.save({"state_dict": _official_state(4, 8)}, path)
    assert import_official(path, FERPLUS6, FERPLUS_CLASSES).config.preprocess.crop.value == "official-uint8"
    exact = import_official(path, FERPLUS6, FERPLUS_CLASSES, crop="exact", pil_filter="nearest")
    assert exact.config.preprocess.crop.value == "exact" and exact.config.preprocess.pil_filter.value == "nearest"


def test_init_backbone_from_official_pretrained_trunk(tmp_path):
    state = {k: v for k, v in _official_state(8, 8).items() if ".alpha" not in k and ".beta" not in k}
    state["module.feature.weight"] = torch.randn(256, 512)  # the DREAM feature layer RAN skips
    path = tmp_path / "ijba_res18_naive.pth.tar"
    torch.save({"state_dict": state}, path)
    model = build_ran(FERPLUS_CLASSES, "ferplus6", preprocess=PreprocessSpec(face_size=32, region_size=16), trunk_width=8)
    skipped = load_trunk_weights(model, path)
    assert "feature.weight" in skipped and "fc.weight" in skipped
    torch.testing.assert_close(model.trunk.conv1.weight, state["module.conv1.weight"])
    wrong = build_ran(FERPLUS_CLASSES, "ferplus6", preprocess=PreprocessSpec(face_size=32, region_size=16), trunk_width=4)
    with pytest.raises(CheckpointError, match="shape"):
        load_trunk_weights(wrong, path)


def test_training_checkpoints_load_without_trust(tmp_path):
    """Metadata written by the training loop (enums in TrainConfig) must stay weights_only-loadable."""
    import numpy as np

    from ran_edge.data.dataset import FaceSample, InMemoryDataset
    from ran_edge.train.loop import TrainConfig, train

    rng = np.random.default_rng(0)
    samples = [FaceSample(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), i % 2) for i in range(8)]
    ds = InMemoryDataset(samples, ["a", "b"])
    model = build_ran(("a", "b"), "ferplus6", preprocess=PreprocessSpec(face_size=32, region_size=16), trunk_width=4)
    result = train(model, ds, ds, TrainConfig(epochs=1, lr=1e-3, batch_size=4, optimizer="adamw", schedule="cosine",
                                              hflip=True), tmp_path, progress=False, log=lambda s: None)
    for path in (result.best_path, result.last_path):
        _, payload = load_checkpoint(path)  # no trust needed
        assert payload["meta"]["training"]["optimizer"] == "adamw"
