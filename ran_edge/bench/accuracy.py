"""Accuracy against labels (with a Wilson 95% interval) and agreement with a reference model (numpy only)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ran_edge.bench.stats import wilson_interval
from ran_edge.metrics import classification_report


def accuracy_record(logits: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Accuracy (0..1) with its 95% Wilson interval, per-class accuracy, confusion matrix, n.

    ``class_names`` must cover every label; logits columns beyond them are an error.
    """
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels, np.int64)
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(f"logits {logits.shape} and labels {labels.shape} do not match")
    if logits.shape[1] != len(class_names):
        raise ValueError(f"logits have {logits.shape[1]} classes, class_names {len(class_names)}")
    pred = logits.argmax(1) if len(labels) else labels
    rep = classification_report(labels, pred, class_names)
    correct = int((pred == labels).sum())
    rep["correct"] = correct
    rep["accuracy_ci95"] = wilson_interval(correct, rep["n"]).to_dict()
    return rep


def agreement_record(logits: np.ndarray, ref_logits: np.ndarray, labels: np.ndarray | None,
                     class_names: Sequence[str]) -> dict[str, Any]:
    """How far a model's outputs are from the reference's on the same faces.

    Returns top-1 agreement (with Wilson interval), max and mean |Δlogit|, and per class: the change in
    how often it is predicted (count) and, with labels, the change in its accuracy (fraction).
    """
    a, r = np.asarray(logits, np.float64), np.asarray(ref_logits, np.float64)
    if a.shape != r.shape:
        raise ValueError(f"logits {a.shape} and reference logits {r.shape} differ in shape")
    pa, pr = a.argmax(1), r.argmax(1)
    n = int(a.shape[0])
    agree = int((pa == pr).sum())
    diff = np.abs(a - r)
    per_class: dict[str, dict[str, Any]] = {}
    for c, name in enumerate(class_names):
        entry: dict[str, Any] = {"predicted_count_delta": int((pa == c).sum() - (pr == c).sum())}
        if labels is not None:
            mask = np.asarray(labels) == c
            entry["accuracy_delta"] = (float((pa[mask] == c).mean() - (pr[mask] == c).mean()) if mask.any() else None)
        per_class[name] = entry
    return {"n": n, "top1_agreement": agree / n if n else None, "agree": agree,
            "top1_agreement_ci95": wilson_interval(agree, n).to_dict(),
            "max_abs_dlogit": float(diff.max()) if n else None, "mean_abs_dlogit": float(diff.mean()) if n else None,
            "per_class": per_class}
