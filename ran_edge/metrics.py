"""Classification metrics on numpy arrays (no torch): accuracy, per-class accuracy, confusion."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``[C,C]`` int64 counts; rows are true classes, columns predictions."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return cm


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Accuracy (0..1), per-class accuracy (recall, ``None`` for a class with no samples), confusion, n."""
    y_true = np.asarray(y_true, np.int64)
    y_pred = np.asarray(y_pred, np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    cm = confusion_matrix(y_true, y_pred, len(class_names))
    support = cm.sum(1)
    per_class = {
        name: (float(cm[i, i] / support[i]) if support[i] else None) for i, name in enumerate(class_names)
    }
    n = int(y_true.size)
    return {
        "accuracy": float((y_true == y_pred).mean()) if n else 0.0,
        "per_class_accuracy": per_class,
        "confusion": cm.tolist(),
        "class_names": list(class_names),
        "n": n,
    }
