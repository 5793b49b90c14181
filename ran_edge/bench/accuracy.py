"""Accuracy against labels (with a Wilson 95% interval) and agreement with a reference model (numpy only).

The figures themselves are defined once in :mod:`ran_edge.metrics`; this adds the bench's intervals and
per-class changes.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ran_edge.metrics import agreement, classification_report, top1, wilson_interval


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

    :func:`ran_edge.metrics.agreement` (``top1_agreement``, ``agree``, max/mean |Δlogit|) plus the agreement's
    Wilson interval and, per class: the change in how often it is predicted (count) and, with labels, the
    change in its accuracy (fraction).
    """
    rec = agreement(logits, ref_logits)
    pa, pr = top1(logits), top1(ref_logits)
    per_class: dict[str, dict[str, Any]] = {}
    for c, name in enumerate(class_names):
        entry: dict[str, Any] = {"predicted_count_delta": int((pa == c).sum() - (pr == c).sum())}
        if labels is not None:
            mask = np.asarray(labels) == c
            entry["accuracy_delta"] = (float((pa[mask] == c).mean() - (pr[mask] == c).mean()) if mask.any() else None)
        per_class[name] = entry
    return {**rec, "top1_agreement_ci95": wilson_interval(rec["agree"], rec["n"]).to_dict(), "per_class": per_class}
