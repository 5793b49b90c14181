"""Metrics on numpy arrays (no torch): accuracy, per-class accuracy, confusion, Wilson intervals, and the one
definition of agreement between two models (top-1 agreement, |Δlogit|, accuracy drop) that bench, quantize and
the export checks report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Callable, Sequence

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


# --- confidence intervals ------------------------------------------------------------------------------

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """A confidence interval ``[low, high]`` for a proportion or statistic, with its method."""

    low: float
    high: float
    level: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "level": self.level, "method": self.method}


def wilson_bounds(p: float, n: int, z: float) -> tuple[float, float]:
    """Wilson score bounds ``(low, high)`` of a proportion ``p`` measured on ``n > 0`` trials, at ``z``."""
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_interval(successes: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval for a binomial proportion (default 95%).

    ``n == 0`` gives the uninformative ``[0, 1]``. Unlike the normal approximation it stays inside
    ``[0, 1]`` and is sensible at 0 or n successes.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    level = float(math.erf(z / math.sqrt(2.0)))
    if n == 0:
        return Interval(0.0, 1.0, level, "wilson")
    low, high = wilson_bounds(successes / n, n, z)
    return Interval(low, high, level, "wilson")


def bootstrap_interval(values: Sequence[float] | np.ndarray, statistic: Callable[[np.ndarray], float] = np.mean,
                       n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (resampled with replacement)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("cannot bootstrap an empty sample")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    stats = np.array([statistic(x[i]) for i in idx])
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return Interval(float(lo), float(hi), level, f"bootstrap-percentile(n={n_boot})")


def agreement_lower_bound(agreement: float, n: int, confidence: float) -> float:
    """One-sided Wilson lower bound of an agreement rate measured on ``n`` faces, at ``confidence`` (0: the rate itself).

    A rate measured on a few hundred faces is an estimate: 4 flips in 301 faces (98.7 %) is as consistent with a
    true flip rate of 2.5 % as with 1 %. Demanding the *bound* meet the target keeps a choice made on held-out faces
    from missing it on the next faces (and from the winner's curse of a search that stops at the first pass)."""
    if confidence <= 0.0 or n <= 0:
        return agreement
    return wilson_bounds(agreement, n, NormalDist().inv_cdf(confidence))[0]


# --- agreement of two models on the same inputs ---------------------------------------------------------
# One set of key names for every comparison (bench, quantize, export checks):
# ``top1_agreement`` (0..1), ``max_abs_logit_diff``, ``mean_abs_logit_diff``.

def top1(logits: np.ndarray) -> np.ndarray:
    """Top-1 class per row; NaN logits never win (a row of NaNs gives class 0)."""
    x = np.asarray(logits, np.float64)
    return np.nan_to_num(x, nan=-np.inf).argmax(1) if x.size else np.zeros(len(x), np.int64)


def top1_agreement(logits: np.ndarray, ref_logits: np.ndarray) -> float | None:
    """Fraction of rows whose top-1 class equals the reference's (None for no rows)."""
    a, r = top1(logits), top1(ref_logits)
    return float(np.mean(a == r)) if len(a) else None


def agreement(logits: np.ndarray, ref_logits: np.ndarray) -> dict[str, Any]:
    """``n``, ``agree`` (count), ``top1_agreement`` and max/mean |Δlogit| of ``logits`` vs ``ref_logits``.

    Empty inputs give None for the rates. Shapes must match.
    """
    a, r = np.asarray(logits, np.float64), np.asarray(ref_logits, np.float64)
    if a.shape != r.shape:
        raise ValueError(f"logits {a.shape} and reference logits {r.shape} differ in shape")
    n = int(a.shape[0])
    agree = int((top1(a) == top1(r)).sum()) if n else 0
    diff = np.abs(a - r)
    return {"n": n, "agree": agree, "top1_agreement": agree / n if n else None,
            "max_abs_logit_diff": float(diff.max()) if diff.size else None,
            "mean_abs_logit_diff": float(diff.mean()) if diff.size else None}


def accuracy_drop(ref_logits: np.ndarray, logits: np.ndarray, labels: np.ndarray | None,
                  class_names: Sequence[str]) -> dict[str, Any]:
    """Reference vs other model on labelled faces: both accuracies (0..1), the drop in points and the
    per-class accuracy change in points (None without ``labels``, or for a class with no faces)."""
    if labels is None:
        return {"accuracy_ref": None, "accuracy": None, "drop_points": None, "per_class_change_points": None}
    a = classification_report(labels, top1(ref_logits), class_names)
    b = classification_report(labels, top1(logits), class_names)
    per_class = {name: (None if a["per_class_accuracy"][name] is None
                        else round(100.0 * (b["per_class_accuracy"][name] - a["per_class_accuracy"][name]), 2))
                 for name in class_names}
    return {"accuracy_ref": a["accuracy"], "accuracy": b["accuracy"],
            "drop_points": round(100.0 * (a["accuracy"] - b["accuracy"]), 3), "per_class_change_points": per_class}


# --- the bench's records: accuracy with its interval, agreement with per-class changes --------------------

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

    :func:`agreement` (``top1_agreement``, ``agree``, max/mean |Δlogit|) plus the agreement's
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
