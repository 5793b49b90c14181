"""PNG plots of a bench report with matplotlib (Agg backend, imported lazily).

* ``latency_vs_batch.png``: per-face p50 latency (p10-p90 band) vs batch, one line per model/backend/path/precision;
* ``accuracy_by_suite.png``: accuracy per suite with 95% Wilson intervals, one bar per model/precision;
* ``latency_distribution.png``: per-face latency samples of every configuration at one batch (box plot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ran_edge._lazy import require


def _plt() -> Any:
    matplotlib = require("matplotlib", "bench plots")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _name(m: Mapping[str, Any]) -> str:
    art = m["artifact"] if m["kind"] == "random" else Path(m["artifact"]).name
    return f"{art} {m['backend']} {m['path']} {m['precision'] or ''}".strip()


def latency_vs_batch(doc: Mapping[str, Any], path: Path) -> Path | None:
    ok = [r for r in doc["speed"] if r["status"] == "ok"]
    if not ok:
        return None
    plt = _plt()
    models = {m["id"]: m for m in doc["models"]}
    fig, ax = plt.subplots(figsize=(8, 5))
    for mid in dict.fromkeys(r["model"] for r in ok):
        recs = sorted((r for r in ok if r["model"] == mid), key=lambda r: r["batch"])
        b = [r["batch"] for r in recs]
        p50 = [r["latency_face_ms"]["p50"] for r in recs]
        lo = [np.percentile(np.asarray(r["samples_ms"]) / r["batch"], 10) if r["samples_ms"] else r["latency_face_ms"]["p50"] for r in recs]
        hi = [r["latency_face_ms"]["p90"] for r in recs]
        ax.plot(b, p50, marker="o", label=_name(models[mid]))
        ax.fill_between(b, lo, hi, alpha=0.15)
    ax.set_xscale("log", base=2)
    batches = sorted({r["batch"] for r in ok})
    ax.set_xticks(batches)
    ax.set_xticklabels([str(b) for b in batches])
    ax.set_yscale("log")
    ax.set_xlabel("batch (faces per inference)")
    ax.set_ylabel("latency per face, p50 [ms] (band: p10-p90)")
    ax.set_title("Latency vs batch")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def accuracy_by_suite(doc: Mapping[str, Any], path: Path) -> Path | None:
    ok = [r for r in doc["accuracy"] if r["status"] == "ok"]
    if not ok:
        return None
    plt = _plt()
    models = {m["id"]: m for m in doc["models"]}
    suites = list(dict.fromkeys(r["suite"] for r in ok))
    mids = list(dict.fromkeys(r["model"] for r in ok))
    width = 0.8 / len(mids)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(suites) + 2), 5))
    for j, mid in enumerate(mids):
        xs, ys, err = [], [], [[], []]
        for i, s in enumerate(suites):
            r = next((r for r in ok if r["model"] == mid and r["suite"] == s), None)
            if r is None:
                continue
            xs.append(i + (j - (len(mids) - 1) / 2) * width)
            ys.append(r["accuracy"] * 100)
            err[0].append((r["accuracy"] - r["accuracy_ci95"]["low"]) * 100)
            err[1].append((r["accuracy_ci95"]["high"] - r["accuracy"]) * 100)
        ax.bar(xs, ys, width, yerr=err, capsize=3, label=_name(models[mid]))
    ax.set_xticks(range(len(suites)))
    ax.set_xticklabels(suites)
    ax.set_ylabel("accuracy [%] (95% Wilson interval)")
    ax.set_title("Accuracy per suite")
    ax.set_ylim(0, 100)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_distribution(doc: Mapping[str, Any], path: Path) -> Path | None:
    ok = [r for r in doc["speed"] if r["status"] == "ok" and r["samples_ms"]]
    if not ok:
        return None
    batches = sorted({r["batch"] for r in ok})
    batch = max(batches, key=lambda b: (sum(r["batch"] == b for r in ok), -b))  # most configurations, then smallest
    recs = [r for r in ok if r["batch"] == batch]
    plt = _plt()
    models = {m["id"]: m for m in doc["models"]}
    fig, ax = plt.subplots(figsize=(8, max(3, 0.5 * len(recs) + 1.5)))
    data = [np.asarray(r["samples_ms"]) / batch for r in recs]
    try:  # matplotlib >= 3.10
        ax.boxplot(data, orientation="horizontal", showfliers=True)
    except TypeError:
        ax.boxplot(data, vert=False, showfliers=True)
    ax.set_yticks(range(1, len(recs) + 1))
    ax.set_yticklabels([_name(models[r["model"]]) for r in recs], fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel(f"latency per face [ms] at batch {batch} (every timed iteration)")
    ax.set_title("Latency distribution")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(doc: Mapping[str, Any], out: Path) -> list[Path]:
    """Write every plot that has data; returns the files written."""
    out = Path(out)
    made = [latency_vs_batch(doc, out / "latency_vs_batch.png"), accuracy_by_suite(doc, out / "accuracy_by_suite.png"),
            latency_distribution(doc, out / "latency_distribution.png")]
    return [p for p in made if p is not None]
