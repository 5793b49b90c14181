"""A small real bench run on the tiny RAN: speed, accuracy, reference agreement, ratios, reports."""

from __future__ import annotations

import json

import pytest

from ran_edge.bench.schema import validate


def test_reports_are_written_and_valid(tiny_bench):
    out = tiny_bench.json_path.parent
    assert tiny_bench.md_path.is_file() and tiny_bench.json_path.is_file()
    assert len(tiny_bench.plots) >= 2 and all(p.stat().st_size > 1000 for p in tiny_bench.plots)
    doc = json.loads((out / "bench.json").read_text())
    validate(doc)
    assert doc["schema"] == "ran-edge-bench" and doc["schema_version"] == 3
    assert doc["machine"]["cpu"]["logical_cores"] >= 1
    assert doc["machine"]["versions"]["onnxruntime"] and doc["machine"]["command_line"][:2] == ["ran-edge", "bench"]
    md = tiny_bench.md_path.read_text()
    for heading in ("## Speed", "## Accuracy", "## Ratios from this run", "## Model cost", "latency_vs_batch.png"):
        assert heading in md


def test_speed_records(tiny_bench):
    doc = tiny_bench.doc
    models = {m["id"]: m for m in doc["models"]}
    assert sorted((m["backend"], m["path"]) for m in models.values()) == [
        ("onnxruntime", "region-batch"), ("torch", "fused"), ("torch", "per-region"), ("torch", "region-batch")]
    assert all(m["status"] == "ok" and m["load_ms"] > 0 and m["first_inference_ms"] > 0 for m in models.values())
    assert len(doc["speed"]) == 8
    for r in doc["speed"]:
        assert r["status"] == "ok", r["error"]
        lf, lb = r["latency_face_ms"], r["latency_batch_ms"]
        assert r["iters"] == 3 and lb["n"] == 3 and len(r["samples_ms"]) == 3
        # three iterations are three repeats of one sample each (what bench --compare tests)
        assert r["repeat_medians_face_ms"] == pytest.approx([v / r["batch"] for v in r["samples_ms"]])
        assert 0 < lb["min"] <= lb["p50"] <= lb["p90"] <= lb["p99"] <= lb["max"]
        assert lf["p50"] == pytest.approx(lb["p50"] / r["batch"])
        assert r["throughput_faces_per_s"] == pytest.approx(r["batch"] * 3 / (sum(r["samples_ms"]) / 1e3))
        assert r["peak_rss_mb"] > 0 and r["mean_power_w"] is None and r["energy_per_face_mj"] is None
        assert r["achieved_flops_per_s"] == pytest.approx(models[r["model"]]["flops_per_face"] * r["throughput_faces_per_s"])
        assert r["ratio_to_fastest"] >= 1.0
    for b in (1, 2):
        assert min(r["ratio_to_fastest"] for r in doc["speed"] if r["batch"] == b) == 1.0
    flops = {(m["backend"], m["path"]): m["flops_per_face"] for m in models.values()}
    assert flops[("onnxruntime", "region-batch")] == flops[("torch", "region-batch")]  # counted == analytic
    assert flops[("torch", "fused")] < flops[("torch", "region-batch")]  # no in-graph crops


def test_accuracy_and_agreement(tiny_bench):
    doc = tiny_bench.doc
    models = {m["id"]: m for m in doc["models"]}
    recs = {(models[r["model"]]["backend"], models[r["model"]]["path"]): r for r in doc["accuracy"]}
    assert len(recs) == 4
    for key, r in recs.items():
        assert r["status"] == "ok" and r["n"] == 24 and r["suite"] == "clean"
        ci = r["accuracy_ci95"]
        assert ci["low"] <= r["accuracy"] <= ci["high"] and ci["method"] == "wilson"
        assert sum(map(sum, r["confusion"])) == 24 and r["correct"] == round(r["accuracy"] * 24)
    ort = recs[("onnxruntime", "region-batch")]["reference"]
    assert ort["top1_agreement"] == 1.0 and ort["max_abs_logit_diff"] < 1e-3  # ONNX vs torch eager: same model
    per_region = recs[("torch", "per-region")]["reference"]
    assert per_region["top1_agreement"] == 1.0 and per_region["max_abs_logit_diff"] < 1e-4
    assert recs[("torch", "region-batch")]["reference"] is None  # the reference itself
    acc = {r["accuracy"] for r in recs.values()}
    assert len(acc) == 1  # every path and backend classifies the same faces the same way


def test_ratios_from_one_run(tiny_bench):
    names = {c["name"] for c in tiny_bench.doc["comparisons"]}
    assert any(n.startswith("per-region / region-batch [tiny.pt, torch]") for n in names)
    assert any(n.startswith("fused / region-batch [tiny.pt, torch]") for n in names)
    assert all(c["ratio"] > 0 for c in tiny_bench.doc["comparisons"])
    assert tiny_bench.doc["suites"]["clean"]["n"] == 24
