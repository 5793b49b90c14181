"""The INT8 quality gate: what an INT8 file must keep against its FP32 source, judged the way deployment judges it.

Deployment engineers judge an INT8 model by its **accuracy against FP32 on their own validation data**
(MLPerf asks for >= 99 % of FP32 accuracy; NVIDIA's INT8 guidance allows about 1 point of top-1) and, without
labels, by whether it still agrees with FP32 on the inputs FP32 is **sure** of. Plain top-1 agreement on hard
suites is not a deployment bar: where FP32 itself is right on half the faces, many decisions are near-ties
that any 8-bit noise flips, in both directions, without changing accuracy.

:class:`QualityTarget` (the defaults are the project's gate):

* **with labels** — the pooled accuracy drop over all held-out faces (each face once) is at most
  ``max_pooled_drop_points`` (0.3 point), its paired one-sided upper bound at ``bound_level`` (95 %) at most
  ``max_pooled_drop_bound_points`` (0.6 point), and every suite's own drop at most ``max_suite_drop_points``
  (1.0 point);
* **without labels** — top-1 agreement >= ``min_confident_agreement`` (99.5 %) on the faces where FP32's top-1
  softmax probability is >= ``confident_probability`` (0.8).

Plain agreement, the mean KL divergence (softmax FP32 || INT8) and the per-class changes are in every record,
never gated.

**The paired bound** (McNemar's view of two classifiers on the same faces): of ``n`` faces, ``b`` are right in
FP32 and wrong in INT8, ``c`` the reverse; the drop is ``(b - c) / n``. Given the ``m = b + c`` discordant faces,
``b`` is binomial with rate ``p``, and the drop is ``m / n * (2p - 1)``; its upper bound uses the one-sided Wilson
upper bound of ``p`` at ``bound_level``. With no discordant face the bound is 0. To bound a 0.3-point drop by
0.6 point at 95 %, ``1.645 * sqrt(m) / n`` must stay under 0.3 point: with 1-2 % discordant faces that takes
3,000-6,000 faces, which is why the held-out set is thousands of faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Mapping, Sequence

import numpy as np

from ran_edge.metrics import top1, wilson_bounds


@dataclass(frozen=True)
class QualityTarget:
    """The gate an INT8 file must pass (see the module docstring)."""

    max_pooled_drop_points: float = 0.3
    max_pooled_drop_bound_points: float = 0.6
    max_suite_drop_points: float = 1.0
    min_confident_agreement: float = 0.995
    confident_probability: float = 0.8
    bound_level: float = 0.95

    def to_dict(self) -> dict[str, float]:
        return {"max_pooled_drop_points": self.max_pooled_drop_points,
                "max_pooled_drop_bound_points": self.max_pooled_drop_bound_points,
                "max_suite_drop_points": self.max_suite_drop_points,
                "min_confident_agreement": self.min_confident_agreement,
                "confident_probability": self.confident_probability, "bound_level": self.bound_level}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "QualityTarget":
        """The target a sidecar or manifest recorded (unknown keys of older schemas are ignored)."""
        known = cls().to_dict()
        return cls(**{k: float(v) for k, v in doc.items() if k in known})

    def describe(self) -> str:
        """One line for ``calibrate``, ``demo`` and ``inspect``."""
        return (f"with labels: pooled accuracy drop <= {self.max_pooled_drop_points:g} pt (paired one-sided "
                f"{100 * self.bound_level:g} % upper bound <= {self.max_pooled_drop_bound_points:g} pt), every suite "
                f"<= {self.max_suite_drop_points:g} pt; without labels: agreement >= "
                f"{100 * self.min_confident_agreement:g} % where FP32's top-1 probability >= {self.confident_probability:g}")


DEFAULT_TARGET = QualityTarget()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row softmax in float64."""
    x = np.asarray(logits, np.float64)
    x = x - x.max(1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(1, keepdims=True)


def mean_kl(ref: np.ndarray, got: np.ndarray) -> float:
    """Mean KL(softmax ref || softmax got) over the rows (0 for no rows)."""
    if len(ref) == 0:
        return 0.0
    p, q = softmax(ref), softmax(got)
    return float(np.mean(np.sum(p * (np.log(np.maximum(p, 1e-300)) - np.log(np.maximum(q, 1e-300))), axis=1)))


@dataclass(frozen=True)
class PairedDrop:
    """Accuracy drop of a model against its reference on the same faces, with the paired bounds (points)."""

    n: int
    lost: int        # right in the reference, wrong in the other model
    gained: int      # wrong in the reference, right in the other model
    drop_points: float
    upper_points: float
    lower_points: float

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "lost": self.lost, "gained": self.gained, "drop_points": round(self.drop_points, 4),
                "upper_points": round(self.upper_points, 4), "lower_points": round(self.lower_points, 4)}


def paired_drop(ref_correct: np.ndarray, got_correct: np.ndarray, level: float = 0.95) -> PairedDrop:
    """Drop ``(lost - gained) / n`` in points with its one-sided bounds at ``level`` (see the module docstring)."""
    ref_correct, got_correct = np.asarray(ref_correct, bool), np.asarray(got_correct, bool)
    n = int(ref_correct.size)
    lost = int(np.sum(ref_correct & ~got_correct))
    gained = int(np.sum(~ref_correct & got_correct))
    m = lost + gained
    if n == 0:
        return PairedDrop(0, 0, 0, 0.0, 0.0, 0.0)
    drop = 100.0 * (lost - gained) / n
    if m == 0:
        return PairedDrop(n, 0, 0, 0.0, 0.0, 0.0)
    low_p, high_p = wilson_bounds(lost / m, m, NormalDist().inv_cdf(level))
    return PairedDrop(n, lost, gained, drop, 100.0 * m / n * (2 * high_p - 1), 100.0 * m / n * (2 * low_p - 1))


def confident_agreement(ref: np.ndarray, got: np.ndarray, probability: float) -> tuple[float, int]:
    """``(agreement, n)`` on the rows where the reference's top-1 softmax probability is >= ``probability``
    (agreement 1.0 when there are none)."""
    sure = softmax(ref).max(1) >= probability
    n = int(sure.sum())
    if n == 0:
        return 1.0, 0
    return float(np.mean(top1(ref[sure]) == top1(got[sure]))), n


@dataclass(frozen=True)
class SuiteOutputs:
    """One suite's reference and candidate logits on the same faces, with labels when known."""

    ref: np.ndarray
    got: np.ndarray
    labels: np.ndarray | None = None


def suite_record(s: SuiteOutputs, target: QualityTarget, class_names: Sequence[str] = ()) -> dict[str, Any]:
    """Everything reported per suite: n, plain agreement, confident agreement, KL, max |Δlogit| and, with labels,
    both accuracies, the paired drop with its bounds and the per-class accuracy change (points)."""
    n = int(len(s.ref))
    agree = float(np.mean(top1(s.ref) == top1(s.got))) if n else 1.0
    conf, n_conf = confident_agreement(s.ref, s.got, target.confident_probability)
    rec: dict[str, Any] = {"n": n, "top1_agreement": agree, "confident_agreement": conf, "n_confident": n_conf,
                           "kl": mean_kl(s.ref, s.got),
                           "max_abs_logit_diff": float(np.abs(s.ref - s.got).max()) if n else 0.0,
                           "accuracy_ref": None, "accuracy": None, "drop_points": None}
    if s.labels is not None and n:
        labels = np.asarray(s.labels)
        rc, gc = top1(s.ref) == labels, top1(s.got) == labels
        pd = paired_drop(rc, gc, target.bound_level)
        rec.update(accuracy_ref=float(rc.mean()), accuracy=float(gc.mean()), drop_points=round(pd.drop_points, 4),
                   drop_upper_points=round(pd.upper_points, 4), lost=pd.lost, gained=pd.gained)
        if class_names:
            rec["per_class_change_points"] = {
                name: (round(100.0 * float(gc[labels == c].mean() - rc[labels == c].mean()), 2) if np.any(labels == c) else None)
                for c, name in enumerate(class_names)}
    return rec


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict on one candidate: met or not, the lines that say why not, the records, a ranking key."""

    labelled: bool
    met: bool
    misses: tuple[str, ...]
    pooled: Mapping[str, Any]
    suites: Mapping[str, Mapping[str, Any]]
    slack_points: float
    clearly_out: bool = False   # the sequential test: the miss is certain enough to stop evaluating early
    clearly_in: bool = False    # the sequential test: the pass is certain enough to stop evaluating early
    faces_seen: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"labelled": self.labelled, "meets_target": self.met, "misses": list(self.misses),
                "pooled": dict(self.pooled), "suites": {k: dict(v) for k, v in self.suites.items()},
                "slack_points": round(self.slack_points, 4), "faces_seen": self.faces_seen}

    def summary_line(self) -> str:
        """``pooled drop +0.12 pt (<= 0.41 at 95 %), worst suite pose45 +0.60 pt; agreement ...`` (one line)."""
        p = self.pooled
        agree = ", ".join(f"{k} {100 * v['top1_agreement']:.2f}%" for k, v in self.suites.items())
        if self.labelled:
            worst = max(self.suites.items(), key=lambda kv: kv[1]["drop_points"] or 0.0)
            return (f"pooled drop {p['drop_points']:+.2f} pt (upper bound {p['drop_upper_points']:+.2f}), worst suite "
                    f"{worst[0]} {worst[1]['drop_points']:+.2f} pt; confident agreement {100 * p['confident_agreement']:.2f}%; "
                    f"agreement {agree}")
        return f"confident agreement {100 * p['confident_agreement']:.2f}% of {p['n_confident']} faces; agreement {agree}"


def judge(suites: Mapping[str, SuiteOutputs], target: QualityTarget = DEFAULT_TARGET,
          pooled: Sequence[str] | None = None, class_names: Sequence[str] = (), early_level: float = 0.99) -> GateResult:
    """Apply ``target`` to one candidate's outputs.

    Args:
        suites: per suite, the FP32 and candidate logits (and labels).
        pooled: the suites whose faces are disjoint and together are every face once (default: all of them); the
            pooled figures concatenate these.
        early_level: level of the bounds that decide :attr:`GateResult.clearly_out` and :attr:`GateResult.clearly_in`
            (a sequential test looks at growing prefixes of the faces, so it demands more certainty than the final
            bound: clearly in means even the 99 % upper bounds are within the drop limits themselves).
    """
    names = list(pooled) if pooled else list(suites)
    records = {k: suite_record(v, target, class_names) for k, v in suites.items()}
    cat = SuiteOutputs(np.concatenate([suites[k].ref for k in names]), np.concatenate([suites[k].got for k in names]),
                       None if any(suites[k].labels is None for k in names)
                       else np.concatenate([suites[k].labels for k in names]))
    pool = suite_record(cat, target, class_names)
    labelled = cat.labels is not None
    misses: list[str] = []
    out = inside = False
    if labelled:
        rc, gc = top1(cat.ref) == cat.labels, top1(cat.got) == cat.labels
        early = paired_drop(rc, gc, early_level)
        if pool["drop_points"] > target.max_pooled_drop_points:
            misses.append(f"pooled accuracy drop {pool['drop_points']:+.2f} pt > {target.max_pooled_drop_points:g} pt")
        if pool["drop_upper_points"] > target.max_pooled_drop_bound_points:
            misses.append(f"pooled drop's {100 * target.bound_level:g} % upper bound {pool['drop_upper_points']:+.2f} pt > "
                          f"{target.max_pooled_drop_bound_points:g} pt (n={pool['n']})")
        slack = min(target.max_pooled_drop_points - pool["drop_points"],
                    target.max_pooled_drop_bound_points - pool["drop_upper_points"])
        out = early.lower_points > target.max_pooled_drop_points
        inside = early.upper_points <= target.max_pooled_drop_points
        for k, v in suites.items():
            rec = records[k]
            slack = min(slack, target.max_suite_drop_points - rec["drop_points"])
            if rec["drop_points"] > target.max_suite_drop_points:
                misses.append(f"{k}: accuracy drop {rec['drop_points']:+.2f} pt > {target.max_suite_drop_points:g} pt")
            suite_early = paired_drop(top1(v.ref) == v.labels, top1(v.got) == v.labels, early_level)
            out = out or suite_early.lower_points > target.max_suite_drop_points
            inside = inside and suite_early.upper_points <= target.max_suite_drop_points
    else:
        conf, n_conf = pool["confident_agreement"], pool["n_confident"]
        slack = 100.0 * (conf - target.min_confident_agreement)
        if conf < target.min_confident_agreement:
            misses.append(f"agreement on confident faces {100 * conf:.2f}% < {100 * target.min_confident_agreement:g}% "
                          f"({n_conf} faces with FP32 top-1 probability >= {target.confident_probability:g})")
        if n_conf:
            low, high = wilson_bounds(conf, n_conf, NormalDist().inv_cdf(early_level))
            out, inside = high < target.min_confident_agreement, low >= target.min_confident_agreement
    return GateResult(labelled, not misses, tuple(misses), pool, records, float(slack), out, not misses and inside,
                      int(pool["n"]))


def clear_pass(verdict: GateResult, target: QualityTarget = DEFAULT_TARGET) -> bool:
    """A pass with margin: with labels, even the pooled drop's upper bound is within the pooled drop limit (0.3 pt)
    and every suite's own upper bound within the suite limit (1 pt), so fresh faces are unlikely to see a miss;
    without labels, any pass. A pass without margin is worth fine-tuning: the worst suite is where a pass on the
    held-out faces most often turns into a miss on the next faces (its bar is judged on the fewest faces)."""
    if not verdict.met:
        return False
    if not verdict.labelled:
        return True
    suites_clear = all(rec.get("drop_upper_points") is None or rec["drop_upper_points"] <= target.max_suite_drop_points
                       for rec in verdict.suites.values())
    return verdict.pooled["drop_upper_points"] <= target.max_pooled_drop_points and suites_clear


def drop_points_needed(n: int, discordant_rate: float, level: float = 0.95) -> float:
    """Half-width (points) of the paired bound for ``n`` faces with ``discordant_rate`` of them discordant and a
    balanced split: what a held-out set of ``n`` faces can resolve (for docs and option checks)."""
    m = discordant_rate * n
    return 100.0 * NormalDist().inv_cdf(level) * math.sqrt(m) / n if n else float("inf")
