"""INT8 (or FP16) vs FP32 with ONNX Runtime: agreement, accuracy drop, per-class changes, max |Δlogit|, targets.

The quality target of an INT8 file (:class:`QualityTarget`): top-1 agreement with FP32 >= 99 % on clean
faces and >= 98 % on every other suite (occlusion, pose), accuracy drop <= 0.5 point on each.
Each file runs the way it is deployed: the TensorRT flavour with exact Q/DQ arithmetic (what TensorRT
computes), the CPU flavour through ONNX Runtime's fused integer kernels
(:func:`ran_edge.qdq_exec.exact_qdq_for`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ran_edge.artifact import ArtifactMeta, read_sidecar
from ran_edge.metrics import classification_report
from ran_edge.data.feeds import feed_for_images

CLEAN_SUITE = "clean"


def agreement_lower_bound(agreement: float, n: int, confidence: float) -> float:
    """One-sided Wilson lower bound of an agreement rate measured on ``n`` faces, at ``confidence`` (0: the rate itself).

    A rate measured on a few hundred faces is an estimate: 4 flips in 301 faces (98.7 %) is as consistent with a
    true flip rate of 2.5 % as with 1 %. Demanding the *bound* meet the target keeps a choice made on held-out faces
    from missing it on the next faces (and from the winner's curse of a search that stops at the first pass)."""
    if confidence <= 0.0 or n <= 0:
        return agreement
    z = NormalDist().inv_cdf(confidence)
    centre = agreement + z * z / (2 * n)
    spread = z * math.sqrt(agreement * (1 - agreement) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


@dataclass(frozen=True)
class QualityTarget:
    """What an INT8 file must keep, per suite, against its FP32 source.

    ``confidence`` > 0 judges each suite's agreement by its one-sided lower bound at that confidence
    (:func:`agreement_lower_bound`) instead of the measured rate: what a *search* demands of held-out faces."""

    clean_agreement: float = 0.99
    other_agreement: float = 0.98
    max_drop_points: float = 0.5
    confidence: float = 0.0

    def agreement_for(self, suite: str) -> float:
        return self.clean_agreement if suite == CLEAN_SUITE else self.other_agreement

    def judged_agreement(self, cmp: Mapping[str, Any]) -> float:
        """The agreement a suite is judged by: the measured rate, or its lower bound (see the class docstring)."""
        return agreement_lower_bound(cmp["agreement"], int(cmp.get("n", 0)), self.confidence)

    def misses(self, by_suite: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """One line per suite that misses (empty: target met). ``by_suite``: ``{suite: compare_logits(...)}``."""
        out = []
        for suite, cmp in by_suite.items():
            need, got = self.agreement_for(suite), self.judged_agreement(cmp)
            if got < need:
                bound = f" (lower bound {100 * got:.2f}% at {100 * self.confidence:g}% confidence)" if self.confidence > 0 else ""
                out.append(f"{suite}: agreement {100 * cmp['agreement']:.2f}%{bound} < {100 * need:.0f}%")
            if cmp.get("drop_points") is not None and cmp["drop_points"] > self.max_drop_points:
                out.append(f"{suite}: accuracy drop {cmp['drop_points']:.2f} pt > {self.max_drop_points} pt")
        return out

    def slack(self, by_suite: Mapping[str, Mapping[str, Any]]) -> float:
        """Smallest margin over the agreement targets, in points (negative: missed)."""
        return min(100.0 * (self.judged_agreement(cmp) - self.agreement_for(s)) for s, cmp in by_suite.items())

    def to_dict(self) -> dict[str, float]:
        return {"clean_agreement": self.clean_agreement, "other_agreement": self.other_agreement,
                "max_drop_points": self.max_drop_points, "confidence": self.confidence}


DEFAULT_TARGET = QualityTarget()


def onnx_logits(path: str | Path, images: Sequence[np.ndarray], meta: ArtifactMeta, batch_size: int = 32,
                threads: int = 2, exact_qdq: bool | None = None) -> np.ndarray:
    """Logits ``[len(images), C]`` of an ONNX file on aligned faces (preprocessed by the one preprocessing).

    ``exact_qdq=None`` takes the file's own execution mode from its sidecar (see the module docstring).
    """
    from ran_edge.export.checks import ort_session
    from ran_edge.qdq_exec import exact_qdq_for

    if exact_qdq is None:
        exact_qdq = exact_qdq_for(read_sidecar(path))
    sess = ort_session(path, threads, exact_qdq=exact_qdq)
    fixed = meta.outputs[0].shape[0]
    step = fixed if fixed > 0 else batch_size
    out = [sess.run(["logits"], feed_for_images(images[s:s + step], meta))[0] for s in range(0, len(images), step)]
    return np.concatenate(out) if out else np.zeros((0, len(meta.class_names)), np.float32)


def run_onnx(path: str | Path, dataset: Any, meta: ArtifactMeta, batch_size: int = 32, threads: int = 2,
             exact_qdq: bool | None = None) -> np.ndarray:
    """Logits ``[len(dataset), C]`` of an ONNX file on a dataset (see :func:`onnx_logits`)."""
    images = [dataset[i].image for i in range(len(dataset))]
    return onnx_logits(path, images, meta, batch_size, threads, exact_qdq)


def compare_logits(ref: np.ndarray, other: np.ndarray, labels: np.ndarray | None, class_names: Sequence[str]) -> dict[str, Any]:
    """Agreement, both accuracies, the drop in points, per-class accuracy change and max |Δlogit|.

    Without ``labels`` only the agreement and the logit difference are given (accuracies ``None``)."""
    agreement = float(np.mean(ref.argmax(1) == other.argmax(1))) if len(ref) else 1.0
    out: dict[str, Any] = {"n": int(len(ref)), "agreement": agreement,
                           "max_abs_logit_diff": float(np.max(np.abs(ref - other))) if len(ref) else 0.0}
    if labels is None:
        return {**out, "accuracy_fp32": None, "accuracy": None, "drop_points": None, "per_class_change_points": None}
    a = classification_report(labels, ref.argmax(1), class_names)
    b = classification_report(labels, other.argmax(1), class_names)
    per_class = {name: (None if a["per_class_accuracy"][name] is None
                        else round(100.0 * (b["per_class_accuracy"][name] - a["per_class_accuracy"][name]), 2))
                 for name in class_names}
    return {**out, "accuracy_fp32": a["accuracy"], "accuracy": b["accuracy"],
            "drop_points": round(100.0 * (a["accuracy"] - b["accuracy"]), 3), "per_class_change_points": per_class}


def compare_on_suites(fp32: str | Path, others: Mapping[str, str | Path], suites: Mapping[str, Any], meta: ArtifactMeta,
                      log: Callable[[str], None] = print,
                      target: QualityTarget = DEFAULT_TARGET) -> dict[str, dict[str, Any]]:
    """``{suite: {name: comparison}}`` of each file in ``others`` against ``fp32`` on each dataset in ``suites``;
    each comparison carries ``meets_target`` for its suite."""
    result: dict[str, dict[str, Any]] = {}
    for suite, ds in suites.items():
        labels = np.asarray([ds[i].label for i in range(len(ds))])
        ref = run_onnx(fp32, ds, meta)
        result[suite] = {}
        for name, path in others.items():
            cmp = compare_logits(ref, run_onnx(path, ds, meta), labels, meta.class_names)
            cmp["meets_target"] = not target.misses({suite: cmp})
            result[suite][name] = cmp
            log(f"{suite:>9s} {name:>10s}: agreement {100 * cmp['agreement']:.2f}%, accuracy {100 * cmp['accuracy_fp32']:.2f}% -> "
                f"{100 * cmp['accuracy']:.2f}% (drop {cmp['drop_points']:+.2f} pt){'' if cmp['meets_target'] else '  MISSES THE TARGET'}")
    return result
