import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ran_edge.data.classes import RAFDB_CLASSES  # noqa: E402
from ran_edge.model.ran import RAN, AttentionMode, RanConfig, build_ran  # noqa: E402
from ran_edge.preprocess import PreprocessSpec, prepare_faces, region_batch_reference  # noqa: E402
from ran_edge.presets import AFFECTNET8  # noqa: E402


def test_three_paths_agree_in_eval(tiny_ran):
    x = torch.rand(5, 3, 32, 32)
    with torch.no_grad():
        batch = tiny_ran.run(x)
        per_region = tiny_ran.run_per_region(x)
        direct = tiny_ran.run_regions(tiny_ran.crop_regions(x))
    assert batch.logits.shape == (5, 7) and batch.region_weights.shape == (5, 6)
    for other in (per_region, direct):
        torch.testing.assert_close(batch.logits, other.logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(batch.region_weights, other.region_weights, atol=1e-5, rtol=0)
    torch.testing.assert_close(batch.region_weights.sum(1), torch.ones(5), atol=1e-6, rtol=0)


def test_in_graph_crops_follow_the_preprocessing_convention(tiny_ran):
    """The MatMul crops equal the numpy reference of the fused kernel on the same face."""
    rng = np.random.default_rng(1)
    face = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    spec = tiny_ran.config.preprocess
    faces = prepare_faces([face], spec)
    crops = tiny_ran.crop_regions(torch.from_numpy(faces)).numpy()
    ref = region_batch_reference(face, np.array([[0, 0, 32, 32]], np.float64), tiny_ran.config.preset, spec)
    np.testing.assert_allclose(crops, ref, atol=1e-5)


def test_attention_modes_differ_and_official_is_softmaxed(tiny_ran):
    x = torch.rand(3, 3, 32, 32)
    paper = RAN(RanConfig(**{**tiny_ran.config.__dict__, "attention": AttentionMode.PAPER}))
    paper.load_state_dict(tiny_ran.state_dict())
    paper.eval()
    with torch.no_grad():
        off, pap = tiny_ran.run(x), paper.run(x)
    torch.testing.assert_close(off.self_weights.sum(1), torch.ones(3), atol=1e-6, rtol=0)  # softmax over regions
    assert not torch.allclose(off.logits, pap.logits)
    assert ((pap.self_weights > 0) & (pap.self_weights < 1)).all()  # plain sigmoid


def test_batch_items_are_independent_in_eval(tiny_ran):
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        full = tiny_ran(x)[0]
        single = torch.cat([tiny_ran(x[i:i + 1])[0] for i in range(4)])
    torch.testing.assert_close(full, single, atol=1e-5, rtol=0)


def test_full_size_shapes():
    model = build_ran(RAFDB_CLASSES, "ferplus6").eval()
    assert model.feature_dim == 512
    assert model.alpha[0].weight.shape == (1, 512) and model.beta[0].weight.shape == (1, 1024)
    assert model.fc.weight.shape == (7, 1024)
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        regions = model.crop_regions(x)
        logits, weights = model(x)
    assert regions.shape == (6, 3, 224, 224)
    assert logits.shape == (1, 7) and weights.shape == (1, 6)


def test_affectnet8_preset_and_config_roundtrip():
    model = build_ran(RAFDB_CLASSES + ("Contempt",), AFFECTNET8, "paper", PreprocessSpec(face_size=40, region_size=16), 4)
    cfg = RanConfig.from_dict(model.config.to_dict())
    assert cfg == model.config
    with torch.no_grad():
        logits, weights = model.eval()(torch.rand(2, 3, 40, 40))
    assert logits.shape == (2, 8) and weights.shape == (2, 8)


def test_no_dropout_and_torchvision_key_names(tiny_ran):
    assert not any(isinstance(m, torch.nn.Dropout) for m in tiny_ran.modules())
    keys = set(tiny_ran.state_dict())
    assert {"trunk.conv1.weight", "trunk.layer2.0.downsample.0.weight", "alpha.0.weight", "beta.0.bias", "fc.weight"} <= keys
