"""INT8 settings chosen by measurement: range setting first, then the fewest layers in higher precision.

One calibration pass gives histograms (:mod:`ran_edge.quantize.histograms`); from them every candidate
:class:`~ran_edge.quantize.ranges.RangeSetting` costs one ``quantize_static`` and one evaluation on
**held-out** faces (never the calibration faces, never the test suites of a report). The search:

1. quantizes with each candidate setting, everything in the trunk INT8, and keeps the one with the largest
   margin over the quality target (:class:`~ran_edge.quantize.accuracy.QualityTarget`) on the held-out
   suites. If it meets the target, done: nothing is given back. A held-out suite meets it only when the
   one-sided lower confidence bound of its agreement does (``SearchOptions.confidence``, 90 %): the rate
   measured on a few hundred faces is an estimate, and a search that stops at the first candidate to pass
   would otherwise pick one that was lucky on these faces.
2. otherwise ranks the trunk's quantized layers by sensitivity — the held-out logit error that disappears
   when that one layer alone is left unquantized (leave-one-out, as Polygraphy's debug tools and ModelOpt's
   AutoQuantize do it, by measurement) —
3. and leaves layers unquantized in that order, one more at a time, keeping a layer only if it lowers the
   held-out divergence, until the held-out suites meet the target; if one pass is not enough, the remaining
   layers follow in sensitivity order until it is (or ``max_higher_precision`` is reached). The list and
   every trial are recorded by the caller.

Each flavour is measured the way it runs (exact Q/DQ arithmetic for the TensorRT flavour, ONNX Runtime's
fused integer kernels for the CPU flavour; see :func:`ran_edge.runtime.ort_runner.exact_qdq_for`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import ArtifactMeta
from ran_edge.quantize.accuracy import DEFAULT_TARGET, QualityTarget, compare_logits, onnx_logits
from ran_edge.quantize.histograms import CalibrationMethod
from ran_edge.quantize.ranges import RangeSetting

#: Settings tried by ``--method auto``, in order (ties keep the earlier one).
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
class HeldOut:
    """Held-out faces per suite: ``{suite: (images, labels or None)}`` (labels give the accuracy drop)."""

    suites: Mapping[str, tuple[Sequence[np.ndarray], np.ndarray | None]]
    description: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(imgs) for imgs, _ in self.suites.values())


#: Pose angles (max |yaw|, |pitch|, degrees) above which held-out pose faces also form suites of their own.
HARD_POSE_DEGREES = (30.0, 45.0)
#: The held-out pose suite has this many times the faces of the others (its >45° subset is about 40 % of it).
POSE_FACTOR = 3


def synthetic_holdout(n_per_suite: int, size: int, seed: int) -> HeldOut:
    """``n_per_suite`` synthetic faces of the *val* split per suite (clean, occlusion, pose), seed ``seed``:
    disjoint from calibration (train split) and from the report suites (test split). The pose suite has
    three times as many faces, and those beyond 30° and 45° are also suites of their own (``pose30``,
    ``pose45``, about 70 % and 40 % of them), as in the reports: the large angles are where INT8 flips most,
    and an average over all poses hides them."""
    from ran_edge.data.synthetic.faces import SyntheticSuite, make_split

    suites = {}
    for suite in (SyntheticSuite.CLEAN, SyntheticSuite.OCCLUSION, SyntheticSuite.POSE):
        n = n_per_suite * (POSE_FACTOR if suite is SyntheticSuite.POSE else 1)  # the hard subsets stay large
        ds = make_split("val", n, suite=suite, seed=seed, size=size)
        if suite is not SyntheticSuite.POSE:
            suites[suite.value] = ([ds[i].image for i in range(len(ds))], np.asarray([ds[i].label for i in range(len(ds))]))
            continue
        angle = [max(abs(float(ds[i].meta.get("yaw", 0.0))), abs(float(ds[i].meta.get("pitch", 0.0)))) for i in range(len(ds))]
        for name, low in (("pose", -1.0), *((f"pose{d:.0f}", d) for d in HARD_POSE_DEGREES)):
            keep = [i for i in range(len(ds)) if angle[i] > low]
            suites[name] = ([ds[i].image for i in keep], np.asarray([ds[i].label for i in keep]))
    return HeldOut(suites, {"source": "synthetic", "split": "val", "seed": seed, "per_suite": n_per_suite, "size": size,
                            "suites": {k: len(v[0]) for k, v in suites.items()}})


@dataclass(frozen=True)
class SearchOptions:
    """What the search may try and what it must reach."""

    settings: tuple[RangeSetting, ...] = AUTO_SETTINGS
    target: QualityTarget = DEFAULT_TARGET
    confidence: float = 0.9              # held-out agreement is judged by its one-sided lower bound at this level
    max_higher_precision: int | None = None  # None: as many layers as needed; 0: no mixed precision
    sensitivity_faces: int | None = None  # faces per suite used to rank layers (None: all held-out faces)

    def search_target(self) -> QualityTarget:
        """The target as the search applies it to held-out faces: agreement judged by its lower confidence bound."""
        return replace(self.target, confidence=self.confidence)


@dataclass(frozen=True)
class SearchResult:
    """The chosen setting and higher-precision layers, their held-out comparison, and the trail of trials."""

    setting: RangeSetting
    higher_precision: tuple[str, ...]
    heldout: Mapping[str, Mapping[str, Any]]
    met: bool
    misses: tuple[str, ...]
    trials: tuple[Mapping[str, Any], ...]
    sensitivity: tuple[tuple[str, float], ...]

    def summary(self) -> dict[str, Any]:
        return {"setting": self.setting.to_dict(), "higher_precision_nodes": list(self.higher_precision),
                "meets_target": self.met, "misses": list(self.misses),
                "heldout": {s: {k: c[k] for k in ("n", "top1_agreement", "drop_points", "max_abs_logit_diff")} for s, c in self.heldout.items()},
                "trials": list(self.trials), "sensitivity": [[n, round(v, 6)] for n, v in self.sensitivity]}


Quantize = Callable[[Path, RangeSetting, Sequence[str]], Any]


class _Trials:
    """Quantize + evaluate one candidate on the held-out faces, against the FP32 logits computed once."""

    def __init__(self, fp32: Path, meta: ArtifactMeta, holdout: HeldOut, quantize: Quantize, workdir: Path):
        self.meta, self.holdout, self.quantize, self.path = meta, holdout, quantize, workdir / "trial.onnx"
        self.ref = self.run(fp32)

    def logits(self, setting: RangeSetting, higher: Sequence[str], limit: int | None = None) -> dict[str, np.ndarray]:
        self.quantize(self.path, setting, higher)
        return self.run(self.path, limit)

    def run(self, path: Path, limit: int | None = None) -> dict[str, np.ndarray]:
        """Logits per suite; a face shared by suites (pose and its >30°/>45° subsets) is run once."""
        suites = {s: list(imgs[:limit] if limit else imgs) for s, (imgs, _) in self.holdout.suites.items()}
        index: dict[int, int] = {}
        unique: list[np.ndarray] = []
        for imgs in suites.values():
            for img in imgs:
                if id(img) not in index:
                    index[id(img)] = len(unique)
                    unique.append(img)
        out = onnx_logits(path, unique, self.meta)
        return {s: out[[index[id(img)] for img in imgs]] for s, imgs in suites.items()}

    def divergence(self, got: Mapping[str, np.ndarray], limit: int | None) -> float:
        """Mean KL(softmax FP32 || softmax INT8) over the held-out faces: sensitive where top-1 can flip."""
        def log_softmax(x: np.ndarray) -> np.ndarray:
            x = x - x.max(1, keepdims=True)
            return x - np.log(np.exp(x).sum(1, keepdims=True))

        kls = []
        for s, g in got.items():
            lp, lq = log_softmax(self.ref[s][:limit].astype(np.float64)), log_softmax(g.astype(np.float64))
            kls.append(np.sum(np.exp(lp) * (lp - lq), axis=1))
        return float(np.mean(np.concatenate(kls)))


def candidate_layers(model: Any) -> list[str]:
    """Trunk nodes that read quantized tensors (:data:`QUANTIZED_OPS`), in graph order."""
    from ran_edge.quantize.graph_parts import ensure_node_names, node_groups

    ensure_node_names(model)
    trunk = set(node_groups(model)["trunk"])
    return [n.name for n in model.graph.node if n.name in trunk and n.op_type in QUANTIZED_OPS]


def search_int8(fp32: str | Path, meta: ArtifactMeta, holdout: HeldOut, quantize: Quantize,
                options: SearchOptions = SearchOptions(), log: Callable[[str], None] = print) -> SearchResult:
    """Choose the range setting and the higher-precision layers for one flavour (see the module docstring).

    Args:
        fp32: the FP32 ONNX.
        meta: its sidecar metadata.
        holdout: held-out faces (not the calibration faces).
        quantize: ``quantize(out_path, setting, higher_precision_nodes)`` writes the candidate QDQ ONNX
            (one flavour; e.g. a partial of :func:`ran_edge.quantize.qdq.quantize_int8` with the stats).
    """
    onnx = require("onnx", "INT8 calibration")
    goal = options.search_target()
    trials: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ran-edge-search-") as tmp:
        t = _Trials(Path(fp32), meta, holdout, quantize, Path(tmp))

        def record(setting: RangeSetting, higher: Sequence[str]
                   ) -> tuple[dict[str, dict[str, Any]], float, dict[str, np.ndarray]]:
            got = t.logits(setting, higher)
            cmp = {s: compare_logits(t.ref[s], got[s], labels, meta.class_names) for s, (_, labels) in holdout.suites.items()}
            div = t.divergence(got, None)
            trials.append({**setting.to_dict(), "higher_precision": len(higher), "slack_points": round(goal.slack(cmp), 3),
                           "kl": round(div, 6), "agreement": {s: round(c["top1_agreement"], 5) for s, c in cmp.items()}})
            log(f"  {setting.label:>16s}, {len(higher):2d} layers higher precision: "
                + ", ".join(f"{s} {100 * c['top1_agreement']:.2f}%" for s, c in cmp.items()) + f" (KL {div:.2e})")
            return cmp, div, got

        scored = [(s, *record(s, ())) for s in options.settings]
        best, best_cmp, current, best_logits = max(scored, key=lambda sc: (not goal.misses(sc[1]), goal.slack(sc[1])))
        higher: tuple[str, ...] = ()
        sensitivity: list[tuple[str, float]] = []
        if goal.misses(best_cmp) and options.max_higher_precision != 0:
            layers = candidate_layers(onnx.load(str(fp32)))
            limit = options.sensitivity_faces
            base = t.divergence({s: g[:limit] for s, g in best_logits.items()}, limit)
            log(f"  ranking {len(layers)} layers by sensitivity (KL divergence on {limit or 'all'} held-out faces per suite)")
            for name in layers:
                sensitivity.append((name, base - t.divergence(t.logits(best, (name,), limit), limit)))
            sensitivity.sort(key=lambda nv: -nv[1])
            cap = len(layers) if options.max_higher_precision is None else min(options.max_higher_precision, len(layers))
            chosen: list[str] = []
            for name, _ in sensitivity:  # forward selection in sensitivity order, keeping a layer only if it helps
                if len(chosen) >= cap:
                    break
                trial_cmp, trial_div, _ = record(best, chosen + [name])
                if trial_div < current:
                    chosen.append(name)
                    current, best_cmp, higher = trial_div, trial_cmp, tuple(chosen)
                    if not goal.misses(best_cmp):
                        break
            # still short: give back the remaining layers in sensitivity order until the target is met (the cost is
            # recorded; every layer given back is one more FP32 layer, never a silent miss)
            rest = [name for name, _ in sensitivity if name not in chosen]
            while goal.misses(best_cmp) and rest and len(chosen) < cap:
                chosen.append(rest.pop(0))
                best_cmp, current, _ = record(best, chosen)
                higher = tuple(chosen)
    final_misses = tuple(options.target.misses(best_cmp))
    return SearchResult(best, higher, best_cmp, not final_misses, final_misses, tuple(trials), tuple(sensitivity))
