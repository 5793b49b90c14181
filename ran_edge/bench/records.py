"""Build the ``bench.json`` records (models, speed, accuracy, comparisons) from measurements."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ran_edge.bench.stats import ratio, repeat_medians

#: at most this many raw latency samples are stored per configuration (evenly thinned beyond).
MAX_SAMPLES = 2000


def model_record(mid: str, spec: Any, subject: Any = None, first_ms: float | None = None,
                 error: str | None = None) -> dict[str, Any]:
    """One artifact × backend × path: what it is, cold start, FLOPs per face."""
    rec = {"id": mid, "label": spec.label, "artifact": spec.artifact, "kind": spec.kind, "backend": spec.backend.value,
           "path": spec.path.value, "precision": None, "input_kind": None, "status": "ok" if error is None else "error",
           "error": error, "load_ms": None, "first_inference_ms": None, "cold_start_ms": None,
           "flops_per_face": None, "flops_source": None, "trained": None, "reference": None, "details": {}}
    if subject is not None:
        rec.update({"precision": subject.precision, "input_kind": subject.input_kind, "load_ms": subject.load_ms,
                    "first_inference_ms": first_ms,
                    "cold_start_ms": None if first_ms is None else subject.load_ms + first_ms,
                    "flops_per_face": subject.flops_per_face, "flops_source": subject.flops_source,
                    "trained": subject.trained, "details": dict(subject.extra)})
    return rec


def speed_record(mid: str, batch: int, sample: Any = None, preprocess_ms: float | None = None,
                 flops_per_face: float | None = None, peak: float | None = None, status: str = "ok",
                 error: str | None = None, warmup: int = 0) -> dict[str, Any]:
    """One configuration at one batch; ``sample`` is a :class:`~ran_edge.bench.timing.SpeedSample`."""
    rec: dict[str, Any] = {"model": mid, "batch": batch, "status": status, "error": error, "warmup": warmup,
                           "iters": 0, "wall_s": None, "latency_batch_ms": None, "latency_face_ms": None,
                           "throughput_faces_per_s": None, "preprocess_ms_per_batch": preprocess_ms,
                           "breakdown_ms": {}, "peak_rss_mb": None, "peak_gpu_memory_mb": None, "mean_power_w": None,
                           "power_source": None, "energy_per_face_mj": None, "achieved_flops_per_s": None,
                           "fraction_of_nominal_peak": None, "ratio_to_fastest": None, "samples_ms": [],
                           "repeat_medians_face_ms": []}
    if sample is None:
        return rec
    lat = sample.latency_ms
    step = max(1, -(-lat.size // MAX_SAMPLES))
    fps = sample.throughput_fps
    achieved = None if flops_per_face is None else flops_per_face * fps
    res = sample.resources
    rec.update({"iters": int(lat.size), "wall_s": sample.wall_s, "latency_batch_ms": sample.batch_summary.to_dict(),
                "latency_face_ms": sample.face_summary.to_dict(), "throughput_faces_per_s": fps,
                "breakdown_ms": sample.breakdown_ms, "peak_rss_mb": res.get("peak_rss_mb"),
                "peak_gpu_memory_mb": res.get("peak_gpu_memory_mb"), "mean_power_w": res.get("mean_power_w"),
                "power_source": res.get("power_source"), "energy_per_face_mj": res.get("energy_per_face_mj"),
                "achieved_flops_per_s": achieved, "fraction_of_nominal_peak": ratio(achieved, peak),
                "samples_ms": [float(v) for v in lat[::step]],
                "repeat_medians_face_ms": [float(v) for v in repeat_medians(lat / batch)]})
    return rec


def accuracy_skeleton(mid: str, suite: str, status: str = "ok", error: str | None = None) -> dict[str, Any]:
    return {"model": mid, "suite": suite, "status": status, "error": error, "n": 0, "accuracy": None,
            "accuracy_ci95": None, "correct": None, "per_class_accuracy": {}, "confusion": [], "class_names": [],
            "reference": None}


def fill_ratio_to_fastest(speed: list[dict[str, Any]]) -> None:
    """Per batch, each ok record's per-face p50 latency over the fastest one's (1.0 = fastest)."""
    best: dict[int, float] = {}
    for r in speed:
        if r["status"] == "ok":
            v = r["latency_face_ms"]["p50"]
            best[r["batch"]] = min(best.get(r["batch"], v), v)
    for r in speed:
        if r["status"] == "ok":
            r["ratio_to_fastest"] = ratio(r["latency_face_ms"]["p50"], best[r["batch"]])


def _p50(rec: Mapping[str, Any]) -> float:
    return rec["latency_face_ms"]["p50"]


def comparisons(models: Sequence[Mapping[str, Any]], speed: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Named per-face p50 latency ratios between configurations measured in this run.

    * ``per-region / region-batch`` and ``fused / region-batch``: same artifact and backend;
    * ``<backend> / torch``: same artifact and path (TorchScript, ONNX Runtime vs torch eager);
    * ``<artifact> / <its reference>``: e.g. INT8 / FP32, same backend and path.
    """
    by_id = {m["id"]: m for m in models}
    ok = [r for r in speed if r["status"] == "ok"]
    index = {(by_id[r["model"]]["artifact"], by_id[r["model"]]["backend"], by_id[r["model"]]["path"], r["batch"]): r
             for r in ok}
    out: list[dict[str, Any]] = []

    def add(name: str, num: Mapping[str, Any], den: Mapping[str, Any]) -> None:
        out.append({"name": name, "numerator": f"{num['model']}@b{num['batch']}", "denominator": f"{den['model']}@b{den['batch']}",
                    "numerator_label": by_id[num["model"]]["label"], "denominator_label": by_id[den["model"]]["label"],
                    "batch": num["batch"], "metric": "latency_face_ms.p50", "ratio": ratio(_p50(num), _p50(den))})

    for (art, backend, path, batch), rec in sorted(index.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][3], kv[0][2])):
        if path != "region-batch":
            base = index.get((art, backend, "region-batch", batch))
            if base is not None:
                add(f"{path} / region-batch [{Path(art).name}, {backend}]", rec, base)
        if backend != "torch":
            base = index.get((art, "torch", path, batch))
            if base is not None:
                add(f"{backend} / torch [{Path(art).name}, {path}]", rec, base)
        ref = by_id[rec["model"]].get("reference")
        if ref and ref != art:
            base = index.get((ref, backend, path, batch))
            if base is not None:
                prec = by_id[rec["model"]].get("precision")
                ref_prec = by_id[base["model"]].get("precision")
                add(f"{prec} / {ref_prec} [{Path(art).name} vs {Path(ref).name}, {backend}]", rec, base)
    return out
