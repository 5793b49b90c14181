"""Plain helpers shared by test modules (fixtures of any scope call these)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest


def make_tiny_ran() -> Any:
    """A random-init RAN small enough for unit tests: 32x32 faces, 16x16 regions, width 8, with
    non-trivial BatchNorm statistics so eval mode is not an identity. Deterministic (seed 0)."""
    import torch

    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    torch.manual_seed(0)
    model = build_ran(RAFDB_CLASSES, "ferplus6", "official", PreprocessSpec(face_size=32, region_size=16), trunk_width=8)
    model.train()
    with torch.no_grad():
        model.run(torch.rand(16, 3, 32, 32))
    return model.eval()


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Module fixture (import it into a conftest): torch on one intra-op thread, restored afterwards. Intra-op threads
    thrash when other jobs share the 2 cores; one thread is faster and deterministic."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
