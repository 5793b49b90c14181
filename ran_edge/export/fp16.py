"""FP16 analysis: per-layer activation ranges on calibration faces, flagged layers, and a real FP16 run.

:func:`analyse_fp16` runs the FP32 ONNX in ONNX Runtime with every node output exposed, records each
layer's range (max |x| over its inputs, weights and outputs; the share of non-zero values that would be
FP16 subnormals), and flags a node when

* a value it reads or writes exceeds ``OVERFLOW_LIMIT`` (half of FP16's 65504, leaving headroom for
  the runtime's intermediate sums), or
* more than ``UNDERFLOW_SHARE`` of its non-zero outputs are below FP16's smallest normal (2^-14), where
  FP16 keeps fewer than 10 significant bits, or
* it is one of the integer steps of the ``official-uint8`` crop (:func:`integer_crop_nodes`).

It then measures FP16 against FP32 by a **real FP16 execution**: the FP16 ONNX made by
:func:`~ran_edge.export.fp16_convert.convert_to_fp16` (flagged nodes kept FP32 behind Casts) run in ONNX
Runtime's CPU provider (weights and all inter-layer activations stored as float16), and reports top-1
agreement and max |Δlogit|; the same for a conversion that keeps nothing in FP32, to show what the
flags buy. :func:`analyse_and_convert` writes the flagged node names to the FP32 sidecar
(``extra["fp16_keep_fp32_layers"]``) and writes ``<model>.fp16.onnx`` with its sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import Precision, read_sidecar, sha256_file, sidecar_path, write_json_atomic

FP16_MAX = 65504.0
FP16_MIN_NORMAL = 2.0 ** -14
OVERFLOW_LIMIT = FP16_MAX / 2
UNDERFLOW_SHARE = 0.10


@dataclass(frozen=True)
class LayerRange:
    """Range facts of one node over the analysis data."""

    node: str
    op_type: str
    max_abs_in: float
    max_abs_out: float
    subnormal_share: float
    reason: str = ""  # why it is flagged ("" = not flagged)


@dataclass(frozen=True)
class Fp16Report:
    """Flagged layers, per-layer ranges and the measured FP16-vs-FP32 figures."""

    keep_fp32: tuple[str, ...]
    layers: tuple[LayerRange, ...]
    figures: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        flagged = [layer.__dict__ for layer in self.layers if layer.reason]
        return {"keep_fp32_layers": list(self.keep_fp32), "flagged": flagged, **self.figures}


def _all_outputs_session(model: Any) -> tuple[Any, list[str]]:
    onnx = require("onnx", "FP16 analysis")
    from ran_edge.runtime.ort_runner import cpu_runner

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    float_out = [o for n in probe.graph.node for o in n.output if o]
    known = {o.name for o in probe.graph.output}
    for name in float_out:
        if name not in known:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    return cpu_runner(probe), [o.name for o in probe.graph.output]


def integer_crop_nodes(model: Any) -> set[str]:
    """Names of the ``official-uint8`` crop's integer steps (``ran_edge/model/pillow_crop.py``): every Floor node and
    every node upstream of one. Their sums reach 2^24 and their floors need float32's 24 bits, so they stay FP32."""
    producer = {o: n for n in model.graph.node for o in n.output if o}
    todo = [n for n in model.graph.node if n.op_type == "Floor"]
    seen: dict[int, str] = {}
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node.name
        todo.extend(producer[i] for i in node.input if i in producer)
    return set(seen.values())


def layer_ranges(model: Any, feeds: Iterable[Mapping[str, np.ndarray]]) -> tuple[LayerRange, ...]:
    """Run ``model`` over ``feeds`` and return the flagged-or-not range of every node."""
    from onnx import numpy_helper

    sess, names = _all_outputs_session(model)
    peak: dict[str, float] = {}
    small: dict[str, int] = {}
    nonzero: dict[str, int] = {}
    for feed in feeds:
        for name, arr in zip(names, (sess.infer(dict(feed), check=False)[n] for n in names)):
            arr = np.asarray(arr)
            if arr.dtype.kind != "f" or arr.size == 0:
                continue
            a = np.abs(arr[np.isfinite(arr)])
            peak[name] = max(peak.get(name, 0.0), float(a.max()) if a.size else float("inf"))
            nz = a[a > 0]
            nonzero[name] = nonzero.get(name, 0) + int(nz.size)
            small[name] = small.get(name, 0) + int(np.count_nonzero(nz < FP16_MIN_NORMAL))
        for name, arr in feed.items():
            peak[name] = max(peak.get(name, 0.0), float(np.abs(arr).max()))
    for t in model.graph.initializer:
        arr = numpy_helper.to_array(t)
        if arr.dtype.kind == "f" and arr.size:
            peak[t.name] = float(np.abs(arr).max())
    exact = integer_crop_nodes(model)
    out = []
    for node in model.graph.node:
        max_in = max((peak.get(i, 0.0) for i in node.input if i), default=0.0)
        max_out = max((peak.get(o, 0.0) for o in node.output if o), default=0.0)
        nz = sum(nonzero.get(o, 0) for o in node.output)
        share = sum(small.get(o, 0) for o in node.output) / nz if nz else 0.0
        reason = ""
        if max(max_in, max_out) > OVERFLOW_LIMIT:
            reason = f"|x| up to {max(max_in, max_out):.3g} exceeds the FP16 limit {OVERFLOW_LIMIT:g} (max {FP16_MAX:g})"
        elif share > UNDERFLOW_SHARE:
            reason = f"{100 * share:.1f}% of non-zero outputs are below FP16's smallest normal {FP16_MIN_NORMAL:.3g}"
        elif node.name in exact:
            reason = "official-uint8 crop: Pillow's integer arithmetic is exact in float32 only"
        out.append(LayerRange(node.name, node.op_type, max_in, max_out, share, reason))
    return tuple(out)


def _compare(fp32_logits: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    finite = bool(np.all(np.isfinite(other)))
    diff = float(np.max(np.abs(other - fp32_logits))) if finite else float("inf")
    scale = float(np.max(np.abs(fp32_logits))) or 1.0
    from ran_edge.metrics import top1_agreement

    return {"top1_agreement": top1_agreement(other, fp32_logits), "max_abs_logit_diff": diff, "max_rel_logit_diff": diff / scale, "finite": finite}


def analyse_fp16(model: Any, feeds: Iterable[Mapping[str, np.ndarray]], log: Callable[[str], None] = print) -> tuple[Fp16Report, Any]:
    """Range analysis + real FP16 execution → ``(report, fp16 ModelProto with flagged layers in FP32)``."""
    from ran_edge.export.fp16_convert import convert_to_fp16
    from ran_edge.runtime.ort_runner import cpu_runner

    feeds = list(feeds)
    layers = layer_ranges(model, feeds)
    keep = tuple(layer.node for layer in layers if layer.reason)
    fp16_model = convert_to_fp16(model, keep)
    runs = {"fp32": cpu_runner(model), "fp16": cpu_runner(fp16_model)}
    if keep:
        runs["fp16_nothing_kept"] = cpu_runner(convert_to_fp16(model, ()))
    logits = {k: np.concatenate([s.infer(dict(f), check=False)["logits"] for f in feeds]) for k, s in runs.items()}
    figures: dict[str, Any] = {"samples": int(len(logits["fp32"])), "execution": "FP16 ONNX in ONNX Runtime (CPU EP)",
                               "overflow_limit": OVERFLOW_LIMIT, "underflow_share": UNDERFLOW_SHARE,
                               "fp16": _compare(logits["fp32"], logits["fp16"])}
    if keep:
        figures["fp16_nothing_kept"] = _compare(logits["fp32"], logits["fp16_nothing_kept"])
    f = figures["fp16"]
    log(f"FP16 analysis on {figures['samples']} faces: {len(keep)} layers kept FP32; FP16 vs FP32 top-1 agreement "
        f"{100 * f['top1_agreement']:.2f}%, max |Δlogit| {f['max_abs_logit_diff']:.3g}")
    for layer in layers:
        if layer.reason:
            log(f"  keep FP32: {layer.node} ({layer.op_type}): {layer.reason}")
    return Fp16Report(keep, layers, figures), fp16_model


def fp16_path(onnx_path: str | Path) -> Path:
    """``model.onnx`` → ``model.fp16.onnx``."""
    p = Path(onnx_path)
    stem = p.name[:-5] if p.name.endswith(".onnx") else p.name
    return p.with_name(stem + ".fp16.onnx")


def analyse_and_convert(onnx_path: str | Path, *, data: str = "synthetic", num: int = 64, out: str | Path | None = None,
                        feeds: Iterable[Mapping[str, np.ndarray]] | None = None,
                        log: Callable[[str], None] = print) -> tuple[Fp16Report, Path]:
    """FP16 analysis of an exported ONNX; records the flags in its sidecar and writes the FP16 ONNX.

    Args:
        onnx_path: FP32 ONNX from ``ran-edge export``.
        data / num: analysis faces (``synthetic`` train split or a folder), when ``feeds`` is not given.
        out: FP16 ONNX path (default ``<model>.fp16.onnx``).
        feeds: feed dicts to use instead of ``data``.

    Returns:
        ``(report, path of the FP16 ONNX)``.
    """
    onnx = require("onnx", "FP16 analysis")
    from ran_edge.export.onnx_export import StagedFiles
    from ran_edge.export.io import load_ran_onnx
    from ran_edge.data.feeds import DatasetReader, open_calibration_data

    model, meta = load_ran_onnx(onnx_path)
    if feeds is None:
        spec = f"synthetic:n_train={num}" if data.strip() == "synthetic" else data
        ds, desc = open_calibration_data(spec, num)
        feeds = DatasetReader(ds, meta, num, 16, desc)
    report, fp16_model = analyse_fp16(model, feeds, log)
    out = Path(out) if out else fp16_path(onnx_path)
    summary = report.to_dict()
    with StagedFiles() as staged:
        tmp = staged.temp_for(out)
        onnx.save(fp16_model, str(tmp))
        fp16_meta = replace(meta, precision=Precision.FP16, extra={
            **{k: v for k, v in meta.extra.items() if k not in ("parity", "onnx_sha256")},
            "source_onnx_sha256": sha256_file(onnx_path), "onnx_sha256": sha256_file(tmp),
            "fp16_keep_fp32_layers": list(report.keep_fp32), "fp16_analysis": summary})
        write_json_atomic(staged.temp_for(sidecar_path(out)), fp16_meta.to_dict())
        fp32_meta = read_sidecar(onnx_path).with_extra(fp16_keep_fp32_layers=list(report.keep_fp32), fp16_analysis=summary)
        write_json_atomic(staged.temp_for(sidecar_path(onnx_path)), fp32_meta.to_dict())
        staged.commit()
    log(f"wrote {out} (FP16, {len(report.keep_fp32)} layers FP32) and updated {sidecar_path(onnx_path).name}")
    return report, out
