"""Evaluate a RAN on a dataset through either execution path."""

from __future__ import annotations

import enum
from typing import Any

import numpy as np
import torch

from ran_edge.data.dataset import FaceDataset
from ran_edge.metrics import classification_report
from ran_edge.model.ran import RAN
from ran_edge.train.batches import PreparedFaces, iter_batches


class ExecutionPath(str, enum.Enum):
    """Which structure runs the trunk: one pass over the region batch, or one call per region."""

    REGION_BATCH = "region-batch"
    PER_REGION = "per-region"


@torch.no_grad()
def predict_logits(
    model: RAN, ds: FaceDataset | PreparedFaces, path: ExecutionPath = ExecutionPath.REGION_BATCH,
    batch_size: int = 64, device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(logits [N,C], region_weights [N,K], labels [N])`` for a dataset, model in eval mode."""
    prepared = ds if isinstance(ds, PreparedFaces) else PreparedFaces(ds, model.config.preprocess)
    was_training = model.training
    model.eval()
    run = model.run if ExecutionPath(path) is ExecutionPath.REGION_BATCH else model.run_per_region
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
    model: RAN, ds: FaceDataset | PreparedFaces, path: ExecutionPath = ExecutionPath.REGION_BATCH,
    batch_size: int = 64, device: str = "cpu",
) -> dict[str, Any]:
    """Accuracy, per-class accuracy, confusion matrix and n (keys of ``eval.json``)."""
    logits, weights, labels = predict_logits(model, ds, path, batch_size, device)
    report = classification_report(labels, logits.argmax(1) if len(logits) else labels, model.config.class_names)
    report["path"] = ExecutionPath(path).value
    report["mean_region_weights"] = weights.mean(0).tolist() if len(weights) else []
    return report
