"""INT8 settings chosen by measurement: all-INT8 first; layers go back to FP32 only when the gate is missed.

One calibration pass gives histograms (:mod:`ran_edge.quantize.histograms`); every candidate costs one
``quantize_static`` and one evaluation on **held-out** faces (:class:`~ran_edge.quantize.heldout.HeldOutEval`:
FP32 logits cached, chunks with early stopping). For one flavour:

1. **All-INT8**: each candidate :class:`~ran_edge.quantize.ranges.RangeSetting` in turn, every trunk layer
   quantized; the first one that passes the gate (:mod:`ran_edge.quantize.gate`) is taken. The gate's paired
   bound guards against the winner's curse of stopping at the first pass.
2. If none passes, the caller may fine-tune (quantization-aware training) before anything is given back.
3. **Fallback** (only when asked, :attr:`SearchOptions.fallback`): the trunk's quantized layers are ranked by a
   cheap proxy — the quantization noise-to-signal ratio of their inputs, computed from the calibration
   histograms and the weights, no model run — and the number ``k`` of top-ranked layers left FP32 is found by
   bisection: ``k`` = the cap first (must pass, or the flavour misses), then halving the interval, about
   ``log2(cap)`` evaluations instead of one per layer. The cap keeps the INT8 share >= 50 % unless FP32
   fallback is allowed.

Every trial is logged as one line (what changed, the verdict) and recorded.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ran_edge._lazy import require
from ran_edge.quantize.gate import GateResult
from ran_edge.quantize.heldout import HeldOutEval
from ran_edge.quantize.histograms import CalibrationMethod
from ran_edge.quantize.ranges import CalibrationStats, RangeSetting
from ran_edge.quantize.share import MIN_INT8_SHARE, describe_share, int8_share, layer_macs

#: Settings tried by ``--method auto``, in order (the first that passes the gate is taken).
AUTO_SETTINGS: tuple[RangeSetting, ...] = (
    RangeSetting(CalibrationMethod.PERCENTILE, 99.99),
    RangeSetting(CalibrationMethod.PERCENTILE, 99.999),
    RangeSetting(CalibrationMethod.MINMAX),
)
#: Op types of the trunk that read quantized tensors (candidates for higher precision): the integer compute ops,
#: and the ops the quantizer wraps in Q/DQ as they pass values on (pooling, reshapes). Leaving every candidate FP32
#: leaves no Q/DQ in the trunk: a flavour that gives back everything is exactly FP32 there.
QUANTIZED_OPS = ("Conv", "Add", "MatMul", "Gemm", "MaxPool", "AveragePool", "GlobalAveragePool", "Reshape", "Flatten")


@dataclass(frozen=True)
class SearchOptions:
    """What the search may try."""

    settings: tuple[RangeSetting, ...] = AUTO_SETTINGS
    fallback: bool = True                    # give layers back to FP32 when no all-INT8 setting passes
    max_higher_precision: int | None = None  # most trunk layers given back (None: no count limit; 0: none)
    min_int8_share: float = MIN_INT8_SHARE   # the fallback never goes below this share (0: no limit)


@dataclass(frozen=True)
class Trial:
    """One evaluated candidate: the setting, the layers left FP32, its INT8 share and the gate's verdict."""

    setting: RangeSetting
    higher_precision: tuple[str, ...]
    share: Mapping[str, Any]
    gate: GateResult

    def to_dict(self) -> dict[str, Any]:
        return {**self.setting.to_dict(), "higher_precision": len(self.higher_precision),
                "int8_share": self.share["int8_share"], "meets_target": self.gate.met,
                "stopped_early": self.gate.clearly_out or self.gate.clearly_in,
                "faces_seen": self.gate.faces_seen, "slack_points": round(self.gate.slack_points, 4),
                "misses": list(self.gate.misses), "pooled": dict(self.gate.pooled)}


@dataclass(frozen=True)
class SearchResult:
    """The chosen candidate, the trail of trials and the layer ranking (empty when nothing was given back)."""

    chosen: Trial
    trials: tuple[Trial, ...]
    ranking: tuple[tuple[str, float], ...] = field(default_factory=tuple)

    @property
    def setting(self) -> RangeSetting:
        return self.chosen.setting

    @property
    def higher_precision(self) -> tuple[str, ...]:
        return self.chosen.higher_precision

    @property
    def met(self) -> bool:
        return self.chosen.gate.met

    @property
    def misses(self) -> tuple[str, ...]:
        return self.chosen.gate.misses

    def summary(self) -> dict[str, Any]:
        return {"setting": self.setting.to_dict(), "higher_precision_nodes": list(self.higher_precision),
                "meets_target": self.met, "misses": list(self.misses), "int8_share": dict(self.chosen.share),
                "gate": self.chosen.gate.to_dict(), "trials": [t.to_dict() for t in self.trials],
                "ranking": [[n, round(v, 6)] for n, v in self.ranking]}


Quantize = Callable[[Path, RangeSetting, Sequence[str]], Any]


def candidate_layers(model: Any) -> list[str]:
    """Trunk nodes that read quantized tensors (:data:`QUANTIZED_OPS`), in graph order."""
    from ran_edge.quantize.graph_parts import ensure_node_names, node_groups

    ensure_node_names(model)
    trunk = set(node_groups(model)["trunk"])
    return [n.name for n in model.graph.node if n.name in trunk and n.op_type in QUANTIZED_OPS]


def _init_array(model: Any, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def _hist_nsr(h: Any, scale: float, zero_point: float, qmin: int, qmax: int) -> float:
    """Noise-to-signal ratio of quantizing the values of histogram ``h`` (of |x|) with this grid."""
    if h is None or h.counts.size == 0:
        return 0.0
    centres = (np.arange(h.bins) + 0.5) * h.top / h.bins
    clip = max(abs((qmin - zero_point) * scale), abs((qmax - zero_point) * scale))
    signal = float(np.sum(h.counts * centres ** 2))
    noise = float(np.sum(h.counts[centres <= clip]) * scale ** 2 / 12.0
                  + np.sum(h.counts[centres > clip] * (centres[centres > clip] - clip) ** 2))
    return noise / signal if signal > 0 else 0.0


def proxy_ranking(qmodel: Any, layers: Sequence[str], stats: CalibrationStats) -> list[tuple[str, float]]:
    """``[(layer, noise)]`` largest first: the summed quantization noise-to-signal ratio of each layer's quantized
    inputs in ``qmodel`` (activations from the calibration histograms, weights from the weights themselves)."""
    producer = {o: n for n in qmodel.graph.node for o in n.output}
    wanted = set(layers)
    scores: dict[str, float] = {name: 0.0 for name in layers}
    for node in qmodel.graph.node:
        if node.name not in wanted:
            continue
        for inp in node.input:
            dq = producer.get(inp)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            scale = _init_array(qmodel, dq.input[1])
            zp = _init_array(qmodel, dq.input[2]) if len(dq.input) > 2 and dq.input[2] else np.zeros(1, np.int8)
            if scale is None or zp is None:
                continue
            qmin, qmax = (0, 255) if zp.dtype == np.uint8 else (-128, 127)
            q = producer.get(dq.input[0])
            source = q.input[0] if q is not None and q.op_type == "QuantizeLinear" else dq.input[0]
            weight = _init_array(qmodel, source)
            if weight is not None and weight.dtype.kind == "f" and scale.size > 1:  # per-channel weight
                s = scale.reshape((-1,) + (1,) * (weight.ndim - 1)) if weight.shape[0] == scale.size else scale
                err = np.clip(np.round(weight / s), qmin, qmax) * s - weight
                scores[node.name] += float(np.sum(err ** 2) / max(np.sum(weight ** 2), 1e-30))
            elif weight is None:
                h = stats.histograms.tensors.get(source)
                scores[node.name] += _hist_nsr(h, float(scale.ravel()[0]), float(zp.ravel()[0]), qmin, qmax)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def _share_cap(fp32_model: Any, ranking: Sequence[tuple[str, float]], min_share: float, max_layers: int | None) -> int:
    """Most top-ranked layers that can go back to FP32 while the predicted INT8 share stays >= ``min_share``."""
    from ran_edge.quantize.graph_parts import node_groups

    macs = layer_macs(fp32_model)
    groups = node_groups(fp32_model)
    crop, head = set(groups["crop"]), set(groups["head"])
    total = sum(v for k, v in macs.items() if k not in crop)
    int8 = sum(v for k, v in macs.items() if k not in crop and k not in head)
    cap = 0
    for k, (name, _) in enumerate(ranking, start=1):
        int8 -= macs.get(name, 0)
        if max_layers is not None and k > max_layers:
            break
        if total and int8 / total < min_share:
            break
        cap = k
    return cap


def search_int8(fp32: str | Path, held: HeldOutEval, quantize: Quantize, stats: CalibrationStats,
                options: SearchOptions = SearchOptions(), label: str = "",
                log: Callable[[str], None] = print) -> SearchResult:
    """Choose the range setting and the higher-precision layers of one flavour (see the module docstring).

    Args:
        fp32: the FP32 ONNX.
        held: held-out faces with their FP32 logits.
        quantize: ``quantize(out_path, setting, higher_precision_nodes)`` writes a candidate QDQ ONNX with sidecar.
        stats: the calibration (its histograms give the layer ranking).
        label: the flavour's name in the log lines.
    """
    onnx = require("onnx", "INT8 calibration")
    trials: list[Trial] = []
    ranking: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="ran-edge-search-") as tmp:
        path = Path(tmp) / "trial.onnx"

        def trial(setting: RangeSetting, higher: Sequence[str], why: str) -> Trial:
            quantize(path, setting, higher)
            share = int8_share(onnx.load(str(path)))
            verdict = held.evaluate(path)
            t = Trial(setting, tuple(higher), share, verdict)
            trials.append(t)
            seen = "" if verdict.faces_seen >= held.size else f", stopped after {verdict.faces_seen} of {held.size} faces"
            log(f"  {label} trial {len(trials)}: {why} ({setting.label}, {len(higher)} layers FP32, {describe_share(share)}) -> "
                + ("PASSES" if verdict.met else "misses: " + "; ".join(verdict.misses[:2])) + seen)
            log(f"      {verdict.summary_line()}")
            return t

        best: Trial | None = None
        for setting in options.settings:
            t = trial(setting, (), "all-INT8")
            if best is None or (t.gate.met, t.gate.slack_points) > (best.gate.met, best.gate.slack_points):
                best = t
            if t.gate.met:
                break
        assert best is not None
        if not best.gate.met and options.fallback and options.max_higher_precision != 0:
            fp32_model = onnx.load(str(fp32))
            layers = candidate_layers(fp32_model)
            quantize(path, best.setting, ())
            ranking = proxy_ranking(onnx.load(str(path)), layers, stats)
            cap = _share_cap(fp32_model, ranking, options.min_int8_share, options.max_higher_precision)
            log(f"  {label}: no all-INT8 setting passes; ranked {len(layers)} trunk layers by quantization noise "
                f"(no model run); at most {cap} may go back to FP32" + (f" (INT8 share >= {100 * options.min_int8_share:g} %)"
                                                                       if options.min_int8_share > 0 else ""))
            names = [n for n, _ in ranking]
            if cap > 0:
                top = trial(best.setting, names[:cap], f"the {cap} noisiest layers FP32 (the cap)")
                if top.gate.met:
                    lo, hi, best = 0, cap, top          # invariant: k = lo misses, k = hi passes
                    while hi - lo > 1:
                        mid = (lo + hi) // 2
                        t = trial(best.setting, names[:mid], f"bisection: the {mid} noisiest layers FP32")
                        if t.gate.met:
                            hi, best = mid, t
                        else:
                            lo = mid
                elif (top.gate.slack_points > best.gate.slack_points):
                    best = top
    log(f"  {label}: chose {best.setting.label} with {len(best.higher_precision)} layers FP32, {describe_share(best.share)}: "
        + ("passes the gate" if best.gate.met else "MISSES the gate") + f" after {len(trials)} trials")
    return SearchResult(best, tuple(trials), tuple(ranking))
