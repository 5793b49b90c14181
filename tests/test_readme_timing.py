"""The README's demo timing paragraph is the one generated from the committed demo record (issue 26: one clear
timing paragraph generated from the demo's own report, not figures from several runs edited by hand)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ran_edge.demo_summary import BEGIN, END, block_of, replace_block, timing_paragraph

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "benchmarks" / "results" / "demo" / "demo.json"


def test_readme_paragraph_is_generated_from_the_committed_record():
    assert RECORD.is_file(), "benchmarks/results/demo/demo.json is missing: run tools/readme_timing.py demo_out/demo.json"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "readme_timing.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert block_of((ROOT / "README.md").read_text()) == timing_paragraph(json.loads(RECORD.read_text())).strip()


def test_replace_block_replaces_only_between_the_markers():
    text = f"before\n{BEGIN}\nold figures\n{END}\nafter\n"
    out = replace_block(text, "new paragraph")
    assert out == f"before\n{BEGIN}\nnew paragraph\n{END}\nafter\n" and block_of(out) == "new paragraph"
    with pytest.raises(ValueError, match="demo-timing"):
        replace_block("no markers here", "x")


def test_paragraph_states_machine_load_steps_and_int8():
    doc = {"run_at": "2026-12-07 23:00 UTC", "version": "0.1.0", "peak_rss_mib": 1536.0,
           "machine": {"cpu": {"model": "Test CPU", "int8_dot_product": None}, "cores": 2, "load_avg_start": 0.1},
           "load_avg_end": 1.2, "seconds": {"train": 180.4, "quantize": 60.2, "total": 355.0},
           "figures": {"suites": {"clean": 0.9612}, "int8_gate": {"int8-cpu": {"meets_target": False, "pooled": {"drop_points": 0.71}}},
                       "int8_files": {"int8-cpu": {"int8_share": 0.9998, "speed": {"speedup": 1.04}, "fine_tuned": True}}}}
    p = timing_paragraph(doc)
    for part in ("2026-12-07 23:00 UTC", "Test CPU (no int8 dot-product instruction), 2 cores", "load average 0.1 at the start and 1.2 at the end",
                 "**5 min 55 s**", "train 180 s, quantize 60 s", "peak RSS 1.5 GiB", "clean 96.1 %",
                 "int8-cpu **misses the gate**", "+0.71 pt", "99.98 % INT8", "fine-tuned (QAT)", "1.04x FP32"):
        assert part in p, part
