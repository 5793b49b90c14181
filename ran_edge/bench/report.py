"""Write a bench report: ``bench.json`` (validated against the schema), ``bench.md`` and PNG plots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ran_edge.outputs import ResultSet


@dataclass
class BenchResult:
    """The report (``doc``, as written to bench.json) and the files written."""

    doc: dict[str, Any]
    json_path: Path
    md_path: Path
    plots: list[Path] = field(default_factory=list)


def _f(v: Any, fmt: str = ".3f", none: str = "n/a") -> str:
    return none if v is None else format(v, fmt)


def _pct(v: Any, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v * 100:.{digits}f}%"


def _machine_lines(doc: Mapping[str, Any]) -> list[str]:
    m = doc["machine"]
    cpu, v = m["cpu"], m["versions"]
    gpus = ", ".join(f"{g['name']} (driver {g['driver']})" for g in m["gpus"]) or "none"
    peak = m.get("nominal_peak_fp32") or {}
    git = m.get("git") or {}
    return [f"- **CPU**: {cpu.get('model')} — {cpu.get('usable_cores')} usable / {cpu.get('logical_cores')} logical cores, "
            f"{_f(cpu.get('clock_mhz'), '.0f')} MHz, {cpu.get('simd')}",
            f"- **Nominal FP32 peak** (estimate): {_f((peak.get('flops_per_s') or 0) / 1e9 if peak else None, '.0f')} GFLOP/s "
            f"= {peak.get('formula', 'n/a')}",
            f"- **GPU**: {gpus}; **memory** {_f(m.get('memory_total_mb'), '.0f')} MiB; **load average** (1/5/15 min, at "
            f"start) {m.get('load_average_1_5_15') and ' / '.join(f'{x:.1f}' for x in m['load_average_1_5_15'])}",
            "- **Versions**: " + ", ".join(f"{k} {val}" for k, val in v.items() if val),
            f"- **git**: {git.get('commit') or 'n/a'}{' (dirty)' if git.get('dirty') else ''}; "
            f"**region batch** by {doc.get('region_batch_implementation', 'n/a')}",
            f"- **command**: `{' '.join(m.get('command_line') or [])}`",
            f"- created {doc['created_utc']}, took {_f(doc.get('duration_s'), '.1f')} s"]


def _speed_table(doc: Mapping[str, Any]) -> list[str]:
    models = {m["id"]: m for m in doc["models"]}
    rows = ["| model | backend | path | precision | batch | p50 ms/face | p90 | p99 | mean ± std ms/batch | faces/s | x fastest "
            "| prep ms/batch | cold start ms | peak RSS MiB | GFLOP/s (of peak) | status |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in doc["speed"]:
        m = models[r["model"]]
        name = Path(m["artifact"]).name if m["kind"] != "random" else m["artifact"]
        if r["status"] != "ok":
            rows.append(f"| {name} | {m['backend']} | {m['path']} | {m['precision'] or 'n/a'} | {r['batch']} "
                        f"| | | | | | | | | | | {r['status']}: {r['error']} |")
            continue
        lf, lb = r["latency_face_ms"], r["latency_batch_ms"]
        gflops = r["achieved_flops_per_s"]
        rows.append(f"| {name} | {m['backend']} | {m['path']} | {m['precision']} | {r['batch']} | {lf['p50']:.3f} | {lf['p90']:.3f} "
                    f"| {lf['p99']:.3f} | {lb['mean']:.2f} ± {lb['std']:.2f} | {r['throughput_faces_per_s']:.1f} "
                    f"| {_f(r['ratio_to_fastest'], '.2f')} | {_f(r['preprocess_ms_per_batch'], '.2f')} | {_f(m['cold_start_ms'], '.1f')} | {_f(r['peak_rss_mb'], '.0f')} "
                    f"| {_f(gflops / 1e9 if gflops else None, '.1f')} ({_pct(r['fraction_of_nominal_peak'])}) | ok |")
    return rows


def _accuracy_table(doc: Mapping[str, Any]) -> list[str]:
    models = {m["id"]: m for m in doc["models"]}
    rows = ["| model | backend | path | precision | suite | n | accuracy [95% CI] | vs reference: top-1 agreement | max / mean abs logit diff | status |",
            "|---|---|---|---|---|---:|---|---|---|---|"]
    for r in doc["accuracy"]:
        m = models[r["model"]]
        name = Path(m["artifact"]).name if m["kind"] != "random" else m["artifact"]
        head = f"| {name} | {m['backend']} | {m['path']} | {m['precision'] or 'n/a'} | {r['suite']} "
        if r["status"] != "ok":
            rows.append(head + f"| | | | | {r['status']}: {r['error']} |")
            continue
        ci = r["accuracy_ci95"]
        ref = r.get("reference")
        agree = "n/a" if not ref else f"{_pct(ref['top1_agreement'], 2)} vs {Path(ref['artifact']).name}"
        delta = "n/a" if not ref else f"{_f(ref['max_abs_logit_diff'], '.3g')} / {_f(ref['mean_abs_logit_diff'], '.3g')}"
        rows.append(head + f"| {r['n']} | {_pct(r['accuracy'], 2)} [{_pct(ci['low'], 1)}, {_pct(ci['high'], 1)}] "
                    f"| {agree} | {delta} | ok |")
    return rows


_SCHEDULES = {"interleaved": "configurations take turns, one call each per round",
              "sequential": "one configuration at a time"}


def _speed_legend(config: Mapping[str, Any]) -> str:
    schedule = config.get("schedule", "n/a")
    return ("Latency = model inference only (warm-up excluded; host wall clock, synchronised). "
            "prep = making the batch from a frame (crop + resize for faces graphs, the region-batch kernel for the "
            "fused path). Cold start = load (packages already imported) + first inference. "
            "GFLOP/s = FLOPs per face (Conv/MatMul/Gemm, 2 x MAC) x faces/s. "
            f"Schedule: {schedule} ({_SCHEDULES.get(schedule, '?')}); "
            f"threads: {config.get('threads') or 'library default'}.")


def markdown(doc: Mapping[str, Any], plot_names: list[str]) -> str:
    """The human-readable report: machine, speed, accuracy, ratios, suites, notes."""
    lines = ["# ran-edge bench", ""] + _machine_lines(doc) + [""]
    if doc["speed"]:
        lines += ["## Speed", "", _speed_legend(doc.get("config", {})), ""]
        lines += _speed_table(doc) + [""]
    timed = [r for r in doc["speed"] if r["status"] == "ok" and r.get("breakdown_ms")]
    if timed:
        models = {m["id"]: m for m in doc["models"]}
        keys = sorted({k for r in timed for k in r["breakdown_ms"]})
        lines += ["## Device timing (mean per batch, ms)", "", "| model | batch | " + " | ".join(keys) + " |",
                  "|---|---:|" + "---:|" * len(keys)]
        lines += [f"| {models[r['model']]['label']} | {r['batch']} | " + " | ".join(_f(r['breakdown_ms'].get(k)) for k in keys) + " |"
                  for r in timed] + [""]
    if doc["comparisons"]:
        lines += ["## Ratios from this run (per-face p50 latency)", "", "| comparison | batch | ratio |", "|---|---:|---:|"]
        lines += [f"| {c['name']} | {c['batch']} | {_f(c['ratio'], '.3g')} |" for c in doc["comparisons"]] + [""]
    if doc["accuracy"]:
        lines += ["## Accuracy", ""] + _accuracy_table(doc) + [""]
    if doc["suites"]:
        lines += ["## Suites", ""]
        for name, info in doc["suites"].items():
            dropped = (info.get("list") or {}).get("dropped") or []
            extra = f"; dropped {len(dropped)} line(s): " + "; ".join(f"line {d['line']} {d['key']} ({d['reason']})" for d in dropped[:10]) if dropped else ""
            why = info.get("skipped")
            lines.append(f"- **{name}**: {info.get('n', 0)} faces — {why or info.get('source', '')}{extra}")
        lines.append("")
    flops = [m for m in doc["models"] if m.get("flops_per_face")]
    if flops:
        lines += ["## Model cost", "", "| model | FLOPs per face | source |", "|---|---:|---|"]
        lines += [f"| {m['label']} | {m['flops_per_face'] / 1e9:.3f} G | {m['flops_source']} |" for m in flops] + [""]
    power = any(r.get("mean_power_w") is not None for r in doc["speed"])
    lines += ["## Notes", "", "- Power and energy: " + ("measured (see bench.json)" if power else
              "not available on this machine (no NVML / tegrastats); reported as null."),
              "- GPU memory: " + ("measured via NVML" if any(r.get("peak_gpu_memory_mb") for r in doc["speed"]) else "no NVML; null.")]
    if any(m.get("precision") == "int8" for m in doc["models"]):
        lines += ["- INT8 rows count the same MACs as FP32; the FP32 peak is not their limit (int8 dot-product units "
                  "do more operations per cycle), so their fraction of peak can pass 100%."]
    if plot_names:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plot_names]
    return "\n".join(lines) + "\n"


def write_reports(doc: dict[str, Any], out: Path, plots: bool = True, log: Callable[[str], None] = print) -> BenchResult:
    """Validate ``doc``, then write bench.json, the PNG plots and bench.md into ``out``."""
    from ran_edge.bench.schema import validate

    validate(doc)
    out = Path(out)
    json_path, md_path = out / "bench.json", out / "bench.md"
    with ResultSet([json_path, md_path]) as rs:  # bench.json, the plots and bench.md appear together or not at all
        staged_json = rs.path(json_path)
        staged_json.write_text(json.dumps(doc, indent=2) + "\n")
        pngs: list[Path] = []
        if plots:
            from ran_edge.bench.plots import write_plots

            pngs = [out / p.name for p in write_plots(doc, staged_json.parent)]
            for p in pngs:
                rs.path(p)  # already written in the staging folder under its final name
        rs.path(md_path).write_text(markdown(doc, [p.name for p in pngs]))
        rs.commit()
    log(f"[bench] wrote {json_path}, {md_path}" + (f" and {len(pngs)} plot(s)" if pngs else ""))
    return BenchResult(doc, json_path, md_path, pngs)
