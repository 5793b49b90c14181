"""The versioned schema of ``bench.json`` and a small validator (a JSON-Schema subset, no dependency).

Schema ``ran-edge-bench``, version 3. Every measurement carries its unit in its key (``_ms``, ``_mb``
= MiB, ``_w``, ``_mj``, ``_per_s``) and the top-level ``units`` map says the same in words. Missing
measurements (no NVML, no GPU, a failed configuration) are ``null``, never invented.

Top level: ``schema``, ``schema_version``, ``created_utc``, ``duration_s``, ``machine`` (CPU, cores,
GPU + driver, package versions, git commit, command line, nominal FP32 peak), ``config`` (the
BenchConfig), ``units``, ``models`` (one per artifact × backend × path: cold start, FLOPs/face),
``speed`` (one per model × batch), ``accuracy`` (one per model × suite), ``suites`` (where each came
from, what was dropped), ``comparisons`` (named latency ratios from this run).

Version history: 1 = first release; 2 = the reference comparison uses the project-wide metric keys
(``top1_agreement``, ``max_abs_logit_diff``, ``mean_abs_logit_diff``; 1 had ``max_abs_dlogit``/``mean_abs_dlogit``);
3 = each speed record adds ``repeat_medians_face_ms``: the per-face median of each of up to 10 consecutive
repeats of its timed iterations, what ``bench --compare`` tests (for 1-2 files it is computed from ``samples_ms``,
which are in time order). A reader must refuse a newer major version (:func:`check_version`).
"""

from __future__ import annotations

from typing import Any, Mapping

from ran_edge.errors import RanEdgeError

SCHEMA_ID = "ran-edge-bench"
SCHEMA_VERSION = 3

UNITS = {
    "latency": "milliseconds (ms), host wall clock (perf_counter_ns) unless named gpu_",
    "throughput": "faces per second",
    "memory": "MiB (2^20 bytes)",
    "power": "watts (W)",
    "energy": "millijoules per face (mJ)",
    "flops": "floating-point operations; 1 MAC = 2 FLOPs; Conv/MatMul/Gemm only",
    "accuracy": "fraction in [0, 1]; intervals are 95% Wilson score intervals",
    "logit": "raw logit units",
}

_NUM = ["number", "null"]
_SUMMARY = {"type": ["object", "null"], "required": ["n", "mean", "std", "min", "p50", "p90", "p99", "max"],
            "properties": {k: {"type": "number"} for k in ("mean", "std", "min", "p50", "p90", "p99", "max")}}
_INTERVAL = {"type": ["object", "null"], "required": ["low", "high", "level", "method"]}
_STATUS = {"enum": ["ok", "error", "skipped"]}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "schema_version", "created_utc", "machine", "config", "units", "models", "speed",
                 "accuracy", "suites", "comparisons"],
    "properties": {
        "schema": {"enum": [SCHEMA_ID]},
        "schema_version": {"type": "integer"},
        "created_utc": {"type": "string"},
        "duration_s": {"type": _NUM},
        "machine": {"type": "object", "required": ["cpu", "gpus", "versions", "git", "command_line"],
                    "properties": {"cpu": {"type": "object", "required": ["model", "logical_cores"]},
                                   "gpus": {"type": "array"}, "versions": {"type": "object"},
                                   "command_line": {"type": "array", "items": {"type": "string"}}}},
        "config": {"type": "object", "required": ["artifacts", "batches", "warmup"]},
        "units": {"type": "object"},
        "models": {"type": "array", "items": {"type": "object", "required": [
            "id", "artifact", "backend", "path", "precision", "input_kind", "status", "error", "load_ms",
            "first_inference_ms", "flops_per_face", "flops_source"],
            "properties": {"status": _STATUS, "load_ms": {"type": _NUM}, "first_inference_ms": {"type": _NUM},
                           "flops_per_face": {"type": _NUM}}}},
        "speed": {"type": "array", "items": {"type": "object", "required": [
            "model", "batch", "status", "error", "iters", "latency_batch_ms", "latency_face_ms",
            "throughput_faces_per_s", "peak_rss_mb", "peak_gpu_memory_mb", "mean_power_w", "energy_per_face_mj",
            "achieved_flops_per_s", "ratio_to_fastest"],
            "properties": {"batch": {"type": "integer"}, "status": _STATUS, "latency_batch_ms": _SUMMARY,
                           "latency_face_ms": _SUMMARY, "throughput_faces_per_s": {"type": _NUM},
                           "peak_rss_mb": {"type": _NUM}, "peak_gpu_memory_mb": {"type": _NUM},
                           "mean_power_w": {"type": _NUM}, "energy_per_face_mj": {"type": _NUM},
                           "achieved_flops_per_s": {"type": _NUM}, "ratio_to_fastest": {"type": _NUM},
                           "samples_ms": {"type": "array", "items": {"type": "number"}},
                           "repeat_medians_face_ms": {"type": "array", "items": {"type": "number"}}}}},
        "accuracy": {"type": "array", "items": {"type": "object", "required": [
            "model", "suite", "status", "error", "n", "accuracy", "accuracy_ci95", "reference"],
            "properties": {"status": _STATUS, "n": {"type": "integer"}, "accuracy": {"type": _NUM},
                           "accuracy_ci95": _INTERVAL, "reference": {"type": ["object", "null"]}}}},
        "suites": {"type": "object"},
        "comparisons": {"type": "array", "items": {"type": "object", "required": ["name", "numerator", "denominator", "metric", "ratio"],
                                                   "properties": {"ratio": {"type": _NUM}}}},
    },
}

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def validate(doc: Any, schema: Mapping[str, Any] = SCHEMA, where: str = "bench.json") -> None:
    """Check ``doc`` against ``schema`` (type, enum, required, properties, items).

    Raises:
        RanEdgeError: the first violation, naming its JSON path.
    """
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(doc, t) for t in names):
            raise RanEdgeError(f"{where}: got {type(doc).__name__}, expected {' or '.join(names)}")
    if "enum" in schema and doc not in schema["enum"]:
        raise RanEdgeError(f"{where}: got {doc!r}, expected one of {schema['enum']}")
    if isinstance(doc, dict):
        for key in schema.get("required", ()):
            if key not in doc:
                raise RanEdgeError(f"{where}: missing required key '{key}'")
        for key, sub in schema.get("properties", {}).items():
            if key in doc:
                validate(doc[key], sub, f"{where}.{key}")
    if isinstance(doc, list) and "items" in schema:
        for i, item in enumerate(doc):
            validate(item, schema["items"], f"{where}[{i}]")


def check_version(doc: Mapping[str, Any], where: str = "bench.json") -> None:
    """Refuse files that are not bench reports or are newer than this reader."""
    if not isinstance(doc, Mapping) or doc.get("schema") != SCHEMA_ID:
        raise RanEdgeError(f"{where}: not a ran-edge bench report (schema {doc.get('schema') if isinstance(doc, Mapping) else None!r}, "
                           f"expected {SCHEMA_ID!r})")
    version = doc.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise RanEdgeError(f"{where}: bench schema version {version!r} is newer than this ran-edge reads ({SCHEMA_VERSION}); upgrade ran-edge")
