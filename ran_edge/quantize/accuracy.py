"""INT8 (or FP16) vs FP32 with ONNX Runtime: agreement, accuracy drop, per-class changes, max |Δlogit|, targets.

The quality target of an INT8 file is the gate of :mod:`ran_edge.quantize.gate` (:class:`QualityTarget`).
Each file runs the way it is deployed: the TensorRT flavour with exact Q/DQ arithmetic (what TensorRT
computes), the CPU flavour through ONNX Runtime's fused integer kernels
(:func:`ran_edge.runtime.ort_runner.exact_qdq_for`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ran_edge.artifact import ArtifactMeta, read_sidecar
from ran_edge.data.feeds import feed_for_images
from ran_edge.metrics import accuracy_drop, agreement
from ran_edge.quantize.gate import DEFAULT_TARGET, GateResult, QualityTarget, SuiteOutputs, judge, suite_record

__all__ = ["DEFAULT_TARGET", "QualityTarget", "compare_logits", "compare_on_suites", "onnx_logits", "run_onnx"]




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


def suite_meets(rec: Mapping[str, Any], target: QualityTarget) -> bool:
    """A suite's own part of the gate: its accuracy drop (with labels) or its confident agreement (without)."""
    if rec.get("drop_points") is not None:
        return rec["drop_points"] <= target.max_suite_drop_points
    return rec["confident_agreement"] >= target.min_confident_agreement


def distinct_faces(suites: Mapping[str, Sequence[np.ndarray]]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Every image of ``suites`` once, by identity (a suite that is a subset of another, such as pose > 45° of the
    pose suite, shares its image arrays), and per suite the rows of its images in that list: each model then runs
    over a face once and every suite slices its rows."""
    index: dict[int, int] = {}
    images: list[np.ndarray] = []
    rows: dict[str, np.ndarray] = {}
    for suite, imgs in suites.items():
        picked = []
        for img in imgs:
            if id(img) not in index:
                index[id(img)] = len(images)
                images.append(img)
            picked.append(index[id(img)])
        rows[suite] = np.asarray(picked, np.int64)
    return images, rows


def compare_on_suites(fp32: str | Path, others: Mapping[str, str | Path], suites: Mapping[str, Any], meta: ArtifactMeta,
                      log: Callable[[str], None] = print, target: QualityTarget = DEFAULT_TARGET,
                      gates: dict[str, GateResult] | None = None) -> dict[str, dict[str, Any]]:
    """``{suite: {name: comparison}}`` of each file in ``others`` against ``fp32`` on each dataset in ``suites``
    Each comparison has :func:`compare_logits`' keys, the gate's per-suite figures
    (confident agreement, KL, paired drop bound) and ``meets_target`` for its suite's part of the gate; ``gates``,
    when given, receives the whole gate's verdict per file, pooled over the suites that hold each face once
    (:func:`ran_edge.data.suites.disjoint_suites`)."""
    result: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, SuiteOutputs]] = {name: {} for name in others}
    samples = {suite: [ds[i] for i in range(len(ds))] for suite, ds in suites.items()}  # each dataset read once
    images, rows = distinct_faces({suite: [x.image for x in faces] for suite, faces in samples.items()})
    ref_all = onnx_logits(fp32, images, meta)
    got_all = {name: onnx_logits(path, images, meta) for name, path in others.items()}
    for suite, faces in samples.items():
        labels = np.asarray([x.label for x in faces])
        ref = ref_all[rows[suite]]
        result[suite] = {}
        for name in others:
            got = got_all[name][rows[suite]]
            outputs[name][suite] = SuiteOutputs(ref, got, labels)
            cmp = {**compare_logits(ref, got, labels, meta.class_names), **suite_record(outputs[name][suite], target)}
            cmp["meets_target"] = suite_meets(cmp, target)
            result[suite][name] = cmp
            log(f"{suite:>9s} {name:>10s}: agreement {100 * cmp['top1_agreement']:.2f}% (confident faces "
                f"{100 * cmp['confident_agreement']:.2f}%), accuracy {100 * cmp['accuracy_ref']:.2f}% -> "
                f"{100 * cmp['accuracy']:.2f}% (drop {cmp['drop_points']:+.2f} pt){'' if cmp['meets_target'] else '  MISSES THE TARGET'}")
    if gates is not None:
        from ran_edge.data.suites import disjoint_suites

        for name in others:
            gates[name] = judge(outputs[name], target, disjoint_suites(list(suites)), meta.class_names)
    return result
