"""Evaluate a RAN on a dataset through either region path (per-region or region-batch)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ran_edge.artifact import RegionPath
from ran_edge.data.dataset import FaceDataset
from ran_edge.metrics import classification_report
from ran_edge.model.ran import RAN
from ran_edge.train.batches import PreparedFaces, iter_batches


@torch.no_grad()
def predict_logits(
    model: RAN, ds: FaceDataset | PreparedFaces, path: RegionPath = RegionPath.REGION_BATCH,
    batch_size: int = 64, device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(logits [N,C], region_weights [N,K], labels [N])`` for a dataset, model in eval mode."""
    prepared = ds if isinstance(ds, PreparedFaces) else PreparedFaces(ds, model.config.preprocess)
    was_training = model.training
    model.eval()
    if RegionPath(path) is RegionPath.FUSED:
        raise ValueError("evaluate runs aligned faces: path per-region or region-batch, not fused")
    run = model.run if RegionPath(path) is RegionPath.REGION_BATCH else model.run_per_region
    logits, weights, labels = [], [], []
    try:
        for x, y in iter_batches(prepared, batch_size):
            out = run(x.to(device))
            logits.append(out.logits.float().cpu().numpy())
            weights.append(out.region_weights.float().cpu().numpy())
            labels.append(y.numpy())
    finally:
        model.train(was_training)
    if not logits:
        k = model.num_regions
        return np.zeros((0, model.config.num_classes), np.float32), np.zeros((0, k), np.float32), np.zeros(0, np.int64)
    return np.concatenate(logits), np.concatenate(weights), np.concatenate(labels)


def evaluate(
    model: RAN, ds: FaceDataset | PreparedFaces, path: RegionPath = RegionPath.REGION_BATCH,
    batch_size: int = 64, device: str = "cpu",
) -> dict[str, Any]:
    """Accuracy, per-class accuracy, confusion matrix and n (keys of ``eval.json``)."""
    logits, weights, labels = predict_logits(model, ds, path, batch_size, device)
    report = classification_report(labels, logits.argmax(1) if len(logits) else labels, model.config.class_names)
    report["path"] = RegionPath(path).value
    report["mean_region_weights"] = weights.mean(0).tolist() if len(weights) else []
    return report
