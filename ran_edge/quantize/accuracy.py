"""INT8 (or FP16) vs FP32 with ONNX Runtime: agreement, accuracy drop, per-class changes, max |Δlogit|, targets.

The quality target of an INT8 file (:class:`QualityTarget`): top-1 agreement with FP32 >= 99 % on clean
faces and >= 98 % on every other suite (occlusion, pose), accuracy drop <= 0.5 point on each.
Each file runs the way it is deployed: the TensorRT flavour with exact Q/DQ arithmetic (what TensorRT
computes), the CPU flavour through ONNX Runtime's fused integer kernels
(:func:`ran_edge.runtime.ort_runner.exact_qdq_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ran_edge.artifact import ArtifactMeta, read_sidecar
from ran_edge.data.feeds import feed_for_images
from ran_edge.metrics import accuracy_drop, agreement, agreement_lower_bound

CLEAN_SUITE = "clean"


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
        return agreement_lower_bound(cmp["top1_agreement"], int(cmp.get("n", 0)), self.confidence)

    def misses(self, by_suite: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """One line per suite that misses (empty: target met). ``by_suite``: ``{suite: compare_logits(...)}``."""
        out = []
        for suite, cmp in by_suite.items():
            need, got = self.agreement_for(suite), self.judged_agreement(cmp)
            if got < need:
                bound = f" (lower bound {100 * got:.2f}% at {100 * self.confidence:g}% confidence)" if self.confidence > 0 else ""
                out.append(f"{suite}: agreement {100 * cmp['top1_agreement']:.2f}%{bound} < {100 * need:.0f}%")
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
    from ran_edge.runtime.ort_runner import cpu_runner, exact_qdq_for

    if exact_qdq is None:
        exact_qdq = exact_qdq_for(read_sidecar(path))
    fixed = meta.outputs[0].shape[0]
    step = fixed if fixed > 0 else batch_size
    with cpu_runner(path, threads, exact_qdq=exact_qdq) as runner:
        out = [runner.infer(feed_for_images(images[s:s + step], meta), check=False)["logits"]
               for s in range(0, len(images), step)]
    return np.concatenate(out) if out else np.zeros((0, len(meta.class_names)), np.float32)


def run_onnx(path: str | Path, dataset: Any, meta: ArtifactMeta, batch_size: int = 32, threads: int = 2,
             exact_qdq: bool | None = None) -> np.ndarray:
    """Logits ``[len(dataset), C]`` of an ONNX file on a dataset (see :func:`onnx_logits`)."""
    images = [dataset[i].image for i in range(len(dataset))]
    return onnx_logits(path, images, meta, batch_size, threads, exact_qdq)


def compare_logits(ref: np.ndarray, other: np.ndarray, labels: np.ndarray | None, class_names: Sequence[str]) -> dict[str, Any]:
    """``top1_agreement``, both accuracies (``accuracy_ref``, ``accuracy``), the drop in points, per-class accuracy
    change and ``max_abs_logit_diff`` (:mod:`ran_edge.metrics`). Without ``labels`` only the agreement and the logit
    difference are given (accuracies ``None``); no faces count as full agreement."""
    cmp = agreement(other, ref)
    out: dict[str, Any] = {"n": cmp["n"], "top1_agreement": 1.0 if cmp["top1_agreement"] is None else cmp["top1_agreement"],
                           "max_abs_logit_diff": cmp["max_abs_logit_diff"] or 0.0}
    return {**out, **accuracy_drop(ref, other, labels, class_names)}


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
            log(f"{suite:>9s} {name:>10s}: agreement {100 * cmp['top1_agreement']:.2f}%, accuracy {100 * cmp['accuracy_ref']:.2f}% -> "
                f"{100 * cmp['accuracy']:.2f}% (drop {cmp['drop_points']:+.2f} pt){'' if cmp['meets_target'] else '  MISSES THE TARGET'}")
    return result
