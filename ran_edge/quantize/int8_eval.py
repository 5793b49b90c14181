"""Accuracy of INT8/FP16 files against their FP32 source on the synthetic test suites (clean, occlusion, pose)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ran_edge.artifact import read_sidecar
from ran_edge.quantize.accuracy import compare_on_suites

SUITES: tuple[str, ...] = ("clean", "occlusion", "pose")  # names of ran_edge.data.suites.SYNTHETIC_SUITES


def synthetic_test_suites(n: int, suites: Sequence[str] = SUITES, seed: int = 0) -> dict[str, Any]:
    """The first ``n`` faces of the synthetic *test* split of each suite (never used for calibration)."""
    from ran_edge.data.suites import synthetic_suites

    return synthetic_suites(f"synthetic:n_test={n}", suites, seed)


def evaluate_int8(fp32_onnx: str | Path, others: Mapping[str, str | Path], n: int, suites: Sequence[str] = SUITES,
                  log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """``{suite: {name: comparison}}`` (see :func:`ran_edge.quantize.accuracy.compare_logits`)."""
    meta = read_sidecar(fp32_onnx)
    return compare_on_suites(fp32_onnx, others, synthetic_test_suites(n, suites), meta, log)
