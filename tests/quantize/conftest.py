"""A tiny *trained* RAN (decisive logits, so INT8 agreement is meaningful), exported once per module."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import one_torch_thread as _one_torch_thread  # noqa: F401 (autouse fixture: torch on one thread)


def stripe_faces(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """32x32 BGR 'faces': noise plus a bright horizontal band whose row encodes the class (0..6)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n)
    images = rng.integers(0, 120, (n, 32, 32, 3)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 4 * c:4 * c + 5] = 255 - 20 * (c % 3)
    return images, labels


def stripe_dataset(n: int, seed: int):
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.data.dataset import FaceSample, InMemoryDataset

    images, labels = stripe_faces(n, seed)
    return InMemoryDataset([FaceSample(img, int(lab)) for img, lab in zip(images, labels)], RAFDB_CLASSES)


@pytest.fixture(scope="session")
def trained_onnx(tmp_path_factory):
    """(fp32 onnx path, torch model) of a tiny RAN trained for 80 Adam steps on stripe faces (~2 s)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.export import export_onnx
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec, prepare_faces

    spec = PreprocessSpec(face_size=32, region_size=16)
    images, labels = stripe_faces(512, 0)
    x, y = torch.from_numpy(prepare_faces(images, spec)), torch.from_numpy(labels)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_ran(RAFDB_CLASSES, "ferplus6", "official", spec, trunk_width=8)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    model.train()
    for _ in range(80):
        idx = torch.randint(0, len(y), (32,))
        loss = torch.nn.functional.cross_entropy(model(x[idx])[0], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out = tmp_path_factory.mktemp("fp32") / "model.onnx"
    export_onnx(model, out, log=lambda s: None)
    torch.set_num_threads(threads)
    return out, model


def stripe_folder(tmp_path_factory, name: str, n: int, seed: int):
    """A new folder of ``n`` PNG stripe faces ``face_000.png`` ... of generator seed ``seed``."""
    cv2 = pytest.importorskip("cv2")
    d = tmp_path_factory.mktemp(name)
    images, _ = stripe_faces(n, seed)
    for i, img in enumerate(images):
        cv2.imwrite(str(d / f"face_{i:03d}.png"), img)
    return d


@pytest.fixture(scope="session")
def calib_dir(tmp_path_factory):
    """A folder of 64 PNG stripe faces (the 'DIR' calibration source)."""
    return stripe_folder(tmp_path_factory, "calib", 64, 5)


@pytest.fixture(scope="session")
def holdout_dir(tmp_path_factory):
    """A folder of 300 PNG stripe faces, disjoint from ``calib_dir`` (another seed): the held-out faces."""
    return stripe_folder(tmp_path_factory, "holdout", 300, 9)
