"""INT8 (or FP16) vs FP32 accuracy with ONNX Runtime: agreement, accuracy drop, per-class changes, max |Δlogit|.

The bar for an INT8 file (issue #4): top-1 agreement with FP32 >= 98% and accuracy drop <= 1.0 point on
each synthetic test suite (clean, occlusion, pose).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ran_edge.artifact import ArtifactMeta
from ran_edge.metrics import classification_report
from ran_edge.quantize.readers import feed_for_images

AGREEMENT_BAR = 0.98
DROP_BAR_POINTS = 1.0


def run_onnx(path: str | Path, dataset: Any, meta: ArtifactMeta, batch_size: int = 32, threads: int = 2) -> np.ndarray:
    """Logits ``[len(dataset), C]`` of an ONNX file on a dataset (preprocessed by the one preprocessing)."""
    from ran_edge.export.checks import ort_session

    sess = ort_session(path, threads)
    out = []
    fixed = meta.outputs[0].shape[0]
    step = fixed if fixed > 0 else batch_size
    for start in range(0, len(dataset), step):
        images = [dataset[i].image for i in range(start, min(start + step, len(dataset)))]
        out.append(sess.run(["logits"], feed_for_images(images, meta))[0])
    return np.concatenate(out)


def compare_logits(ref: np.ndarray, other: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Agreement, both accuracies, the drop in points, per-class accuracy change and max |Δlogit|."""
    a = classification_report(labels, ref.argmax(1), class_names)
    b = classification_report(labels, other.argmax(1), class_names)
    per_class = {name: (None if a["per_class_accuracy"][name] is None
                        else round(100.0 * (b["per_class_accuracy"][name] - a["per_class_accuracy"][name]), 2))
                 for name in class_names}
    agreement = float(np.mean(ref.argmax(1) == other.argmax(1)))
    drop = 100.0 * (a["accuracy"] - b["accuracy"])
    return {"n": int(len(labels)), "agreement": agreement, "accuracy_fp32": a["accuracy"], "accuracy": b["accuracy"],
            "drop_points": round(drop, 3), "per_class_change_points": per_class,
            "max_abs_logit_diff": float(np.max(np.abs(ref - other))) if len(ref) else 0.0,
            "meets_bar": bool(agreement >= AGREEMENT_BAR and drop <= DROP_BAR_POINTS)}


def compare_on_suites(fp32: str | Path, others: Mapping[str, str | Path], suites: Mapping[str, Any], meta: ArtifactMeta,
                      log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """``{suite: {name: comparison}}`` of each file in ``others`` against ``fp32`` on each dataset in ``suites``."""
    result: dict[str, dict[str, Any]] = {}
    for suite, ds in suites.items():
        labels = np.asarray([ds[i].label for i in range(len(ds))])
        ref = run_onnx(fp32, ds, meta)
        result[suite] = {}
        for name, path in others.items():
            cmp = compare_logits(ref, run_onnx(path, ds, meta), labels, meta.class_names)
            result[suite][name] = cmp
            log(f"{suite:>9s} {name:>10s}: agreement {100 * cmp['agreement']:.2f}%, accuracy {100 * cmp['accuracy_fp32']:.2f}% -> "
                f"{100 * cmp['accuracy']:.2f}% (drop {cmp['drop_points']:+.2f} pt){'' if cmp['meets_bar'] else '  MISSES THE BAR'}")
    return result
