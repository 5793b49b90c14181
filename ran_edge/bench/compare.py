"""``ran-edge bench --compare OLD.json NEW.json``: a diff table and a CI verdict.

Speed rows are matched by (artifact file name, backend, path, precision, batch) and compared on the
per-face latency of each run's *repeats* (``repeat_medians_face_ms``, schema 3; computed from ``samples_ms`` for
schema 1-2 files; the p50 alone when a file has neither). The verdict is :func:`ran_edge.bench.stats.judge_ratio`'s:
"regression" only when the bootstrap interval of median(NEW)/median(OLD) lies wholly above 1 + floor, where the
floor is the larger of ``max_regression`` and the runs' own spread; "improvement" the mirror image; "within noise"
otherwise. So two runs of the same artifacts on a busy machine do not cry wolf, and each row prints its evidence
(ratio, interval, repeats, floor). Accuracy rows are matched by (artifact, backend, path, precision, suite); the
faces are the same in both runs, so a drop beyond ``max_accuracy_drop`` is a regression. Rows present in only one
file are listed, not judged. Exit status: 0 no regression, 3 regression (1 stays "user error").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ran_edge.bench.schema import check_version
from ran_edge.bench.stats import IMPROVEMENT, REGRESSION, WITHIN_NOISE, RatioTest, judge_ratio, repeat_medians
from ran_edge.errors import RanEdgeError
from ran_edge.jsonio import read_json

EXIT_REGRESSION = 3


def parse_fraction(text: str | float) -> float:
    """``"5%"`` → 0.05, ``"0.05"`` → 0.05; must be in [0, 10]."""
    s = str(text).strip()
    try:
        value = float(s[:-1]) / 100.0 if s.endswith("%") else float(s)
    except ValueError:
        raise RanEdgeError(f"threshold: got {text!r}, expected a fraction like 5% or 0.05") from None
    if not 0.0 <= value <= 10.0:
        raise RanEdgeError(f"threshold: got {text!r}, expected between 0% and 1000%")
    return value


def load_report(path: str | Path) -> dict[str, Any]:
    """Read and version-check a bench.json."""
    p = Path(path)
    if not p.is_file():
        raise RanEdgeError(f"bench report not found: {p}")
    doc = read_json(p, "unreadable bench JSON")
    check_version(doc, str(p))
    return doc


def _model_keys(doc: Mapping[str, Any]) -> dict[str, tuple]:
    return {m["id"]: (Path(str(m["artifact"])).name, m["backend"], m["path"], m["precision"]) for m in doc["models"]}


@dataclass(frozen=True)
class DiffRow:
    """One compared measurement and its verdict (``regression``, ``improvement`` or ``within noise``)."""

    kind: str  # speed | accuracy
    key: str
    old: float | None
    new: float | None
    change: float | None  # relative for speed, absolute for accuracy
    verdict: str = WITHIN_NOISE
    test: RatioTest | None = None  # speed rows: the statistical evidence

    @property
    def regressed(self) -> bool:
        return self.verdict == REGRESSION


@dataclass(frozen=True)
class Comparison:
    rows: tuple[DiffRow, ...]
    only_old: tuple[str, ...]
    only_new: tuple[str, ...]

    @property
    def regressed(self) -> bool:
        return any(r.regressed for r in self.rows)


def _index(doc: Mapping[str, Any], section: str, extra: str) -> dict[str, Mapping[str, Any]]:
    keys = _model_keys(doc)
    out = {}
    for rec in doc[section]:
        if rec.get("status") != "ok" or rec["model"] not in keys:
            continue
        name, backend, path, precision = keys[rec["model"]]
        out[f"{name} [{backend}, {path}, {precision}] {extra}={rec[extra]}"] = rec
    return out


def speed_repeats(rec: Mapping[str, Any]) -> list[float]:
    """Per-face latency of each repeat of a speed record: stored (schema 3), else from its samples, else its p50."""
    stored = rec.get("repeat_medians_face_ms")
    if stored:
        return [float(v) for v in stored]
    samples = rec.get("samples_ms") or []
    if samples:
        return [float(v) for v in repeat_medians([float(v) / rec["batch"] for v in samples])]
    return [float(rec["latency_face_ms"]["p50"])]


def compare_reports(old: Mapping[str, Any], new: Mapping[str, Any], max_regression: float = 0.05,
                    max_accuracy_drop: float = 0.01) -> Comparison:
    """Compare two bench reports (see the module docstring for the rules)."""
    rows: list[DiffRow] = []
    only_old: list[str] = []
    only_new: list[str] = []
    for section, extra in (("speed", "batch"), ("accuracy", "suite")):
        a, b = _index(old, section, extra), _index(new, section, extra)
        only_old += [k for k in a if k not in b]
        only_new += [k for k in b if k not in a]
        for key in (k for k in a if k in b):
            if section == "speed":
                o, n = a[key]["latency_face_ms"]["p50"], b[key]["latency_face_ms"]["p50"]
                change = (n - o) / o if o else None
                test = judge_ratio(speed_repeats(a[key]), speed_repeats(b[key]), max_regression) if o else None
                rows.append(DiffRow("speed", key, o, n, change, test.verdict if test else WITHIN_NOISE, test))
            else:
                o, n = a[key]["accuracy"], b[key]["accuracy"]
                change = None if o is None or n is None else n - o
                verdict = (WITHIN_NOISE if change is None or abs(change) <= max_accuracy_drop
                           else REGRESSION if change < 0 else IMPROVEMENT)
                rows.append(DiffRow("accuracy", key, o, n, change, verdict))
    return Comparison(tuple(rows), tuple(only_old), tuple(only_new))


def format_comparison(c: Comparison, max_regression: float, max_accuracy_drop: float) -> str:
    """A Markdown table of the comparison, then the verdict line."""
    lines = ["| kind | configuration | old | new | change | evidence | verdict |", "|---|---|---:|---:|---:|---|---|"]
    for r in c.rows:
        if r.kind == "speed":
            change = "n/a" if r.change is None else f"{r.change * 100:+.1f}%"
            old, new = f"{r.old:.3f} ms", f"{r.new:.3f} ms"
            evidence = r.test.evidence() if r.test else "n/a"
        else:
            change = "n/a" if r.change is None else f"{r.change * 100:+.2f} pp"
            old = "n/a" if r.old is None else f"{r.old * 100:.2f}%"
            new = "n/a" if r.new is None else f"{r.new * 100:.2f}%"
            evidence = f"same faces; threshold {max_accuracy_drop * 100:.2f} pp"
        lines.append(f"| {r.kind} | {r.key} | {old} | {new} | {change} | {evidence} | "
                     f"{r.verdict.upper() if r.regressed else r.verdict} |")
    for k in c.only_old:
        lines.append(f"| - | {k} | present | missing | | | not compared |")
    for k in c.only_new:
        lines.append(f"| - | {k} | missing | present | | | not compared |")
    n_bad = sum(r.regressed for r in c.rows)
    n_better = sum(r.verdict == IMPROVEMENT for r in c.rows)
    rule = (f"latency: interval of the ratio above 1 + max({max_regression * 100:.1f}%, the runs' spread); "
            f"accuracy -{max_accuracy_drop * 100:.2f} pp")
    verdict = (f"{n_bad} regression(s) ({rule})" if n_bad else
               f"no regression ({rule}; {len(c.rows)} rows compared, {n_better} improvement(s))")
    return "\n".join(lines + ["", verdict])
