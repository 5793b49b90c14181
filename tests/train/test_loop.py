"""Training loop: determinism for a seed, resume equals an uninterrupted run, balanced sampler, errors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ran_edge.data.dataset import FaceSample, InMemoryDataset  # noqa: E402
from ran_edge.errors import RanEdgeError  # noqa: E402
from ran_edge.model.checkpoint import load_checkpoint  # noqa: E402
from ran_edge.model.ran import build_ran  # noqa: E402
from ran_edge.preprocess import PreprocessSpec  # noqa: E402
from ran_edge.train.loop import TrainConfig, _sampler, train  # noqa: E402

quiet = lambda s: None  # noqa: E731


def _data(n: int, seed: int) -> InMemoryDataset:
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        label = i % 3
        img = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
        img[label * 10:label * 10 + 10] += 150  # a learnable band per class
        samples.append(FaceSample(img, label))
    return InMemoryDataset(samples, ["a", "b", "c"])


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_ran(("a", "b", "c"), "ferplus6", preprocess=PreprocessSpec(face_size=32, region_size=16), trunk_width=4)


CFG = dict(lr=1e-2, batch_size=8, optimizer="adamw", schedule="cosine", hflip=True, seed=3)


def _weights(path) -> dict:
    model, _ = load_checkpoint(path)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_seed_same_weights(tmp_path):
    a = train(_model(), _data(48, 0), _data(12, 1), TrainConfig(epochs=2, **CFG), tmp_path / "a", progress=False, log=quiet)
    b = train(_model(), _data(48, 0), _data(12, 1), TrainConfig(epochs=2, **CFG), tmp_path / "b", progress=False, log=quiet)
    wa, wb = _weights(a.last_path), _weights(b.last_path)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]


def test_resume_continues_exactly(tmp_path):
    full = train(_model(), _data(48, 0), _data(12, 1), TrainConfig(epochs=3, **CFG), tmp_path / "full", progress=False,
                 log=quiet)
    part = tmp_path / "part"
    # An interrupted run: the same 3-epoch plan stopped after its first epoch, then resumed.
    one = train(_model(), _data(48, 0), _data(12, 1), TrainConfig(epochs=3, **CFG), part, progress=False, log=quiet,
                max_epochs=1)
    assert len(one.history) == 1
    resumed = train(_model(), _data(48, 0), _data(12, 1), TrainConfig(epochs=3, **CFG), part, resume=True,
                    progress=False, log=quiet)
    assert len(resumed.history) == 3
    wf, wr = _weights(full.last_path), _weights(resumed.last_path)
    assert all(torch.allclose(wf[k], wr[k], atol=1e-6) for k in wf)
    assert resumed.best_val_accuracy == full.best_val_accuracy


def test_learns_and_keeps_best_by_validation(tmp_path):
    result = train(_model(), _data(96, 0), _data(24, 1), TrainConfig(epochs=4, **CFG), tmp_path, progress=False, log=quiet)
    assert result.best_val_accuracy >= 0.9
    best = max(h["val_accuracy"] for h in result.history)
    assert result.best_val_accuracy == best
    _, payload = load_checkpoint(result.best_path)
    assert payload["meta"]["metrics"]["val_accuracy"] == best


def test_balanced_sampler_evens_out_classes():
    labels = np.array([0] * 90 + [1] * 10)
    sampler = _sampler(labels, 2, torch.Generator().manual_seed(0))
    drawn = labels[list(iter(sampler))]
    assert len(drawn) == 100 and 0.35 < drawn.mean() < 0.65  # ~half of the draws are the rare class


def test_bad_options_and_empty_splits(tmp_path):
    with pytest.raises(RanEdgeError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(RanEdgeError, match="non-empty"):
        train(_model(), InMemoryDataset([], ["a", "b", "c"]), _data(3, 0), TrainConfig(epochs=1), tmp_path, log=quiet)
