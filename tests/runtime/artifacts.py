"""Tiny artifacts for runtime/engine/CLI tests, made with the export library from the same tiny RAN
as the ``tiny_ran`` fixture (:func:`tests.helpers.make_tiny_ran`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np

from tests.helpers import make_tiny_ran as tiny_model  # noqa: F401  (the tiny_ran fixture's model, any scope)


def export_all(model: Any, folder: Path, torchscript: bool = True) -> Dict[str, Path]:
    """faces ONNX, regions ONNX, (TorchScript) and the checkpoint, each with its sidecar."""
    from ran_edge.export import export_onnx, export_torchscript
    from ran_edge.model.checkpoint import save_checkpoint

    quiet = lambda s: None  # noqa: E731
    out = {
        "onnx": Path(export_onnx(model, folder / "model.onnx", log=quiet).path),
        "regions": Path(export_onnx(model, folder / "regions.onnx", input_kind="regions", check=False, log=quiet).path),
        "pt": save_checkpoint(folder / "model.pt", model),
    }
    if torchscript:
        out["ts"] = Path(export_torchscript(model, folder / "model.ts", check=False, log=quiet).path)
    return out


def faces(n: int, seed: int = 0, size: tuple = (40, 36)) -> list:
    """Random aligned 'faces' (uint8 BGR) of a size that needs resizing; varied brightness so classes differ."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        base = rng.integers(0, 256, (size[0], size[1], 3)).astype(np.float32)
        gain = 0.2 + 1.6 * (i % 7) / 6.0
        out.append(np.clip(base * gain, 0, 255).astype(np.uint8))
    return out


def torch_reference(model: Any, x: np.ndarray, regions: bool = False) -> Dict[str, np.ndarray]:
    """Eager torch outputs for a preprocessed input."""
    import torch

    with torch.no_grad():
        logits, weights = (model.forward_regions if regions else model)(torch.from_numpy(x))
    return {"logits": logits.numpy(), "region_weights": weights.numpy()}
