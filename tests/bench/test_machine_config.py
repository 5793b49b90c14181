"""Machine facts, power parsing, option validation, and importing the bench without torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ran_edge.bench.config import BenchConfig, parse_backends, parse_batches, parse_paths, parse_suites
from ran_edge.bench.machine import cpu_info, machine_slug, nominal_peak_flops
from ran_edge.bench.samplers import ResourceSampler, energy_per_face_mj, parse_tegrastats_power_w
from ran_edge.errors import RanEdgeError

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
cpu MHz\t\t: 2500.000
flags\t\t: fpu sse sse2 avx avx2 fma avx512f
processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
cpu MHz\t\t: 2400.000
flags\t\t: fpu sse sse2 avx avx2 fma avx512f
"""


def test_cpu_info_and_nominal_peak_from_cpuinfo_text():
    cpu = cpu_info(CPUINFO)
    assert cpu["model"].startswith("Intel(R) Xeon(R) Gold 6248") and cpu["simd"] == "avx512"
    assert cpu["int8_dot_product"] is None  # avx512f without avx512_vnni
    assert cpu_info(CPUINFO.replace("avx512f", "avx512f avx512_vnni"))["int8_dot_product"] == "avx512_vnni"
    assert cpu_info("Features\t: fp asimd asimddp\n")["int8_dot_product"] == "asimddp"
    cpu = dict(cpu, usable_cores=2, clock_mhz=2500.0)
    peak = nominal_peak_flops(cpu)
    assert peak["flops_per_s"] == 2 * 2500e6 * 64
    amd = dict(cpu, model="AMD EPYC 9654")
    assert nominal_peak_flops(amd)["flops_per_s"] == 2 * 2500e6 * 32  # Zen 4 double-pumps AVX-512
    assert nominal_peak_flops(dict(cpu, simd=None)) is None
    assert machine_slug(dict(cpu, model="AMD EPYC", usable_cores=2)).startswith(("cpu-epyc-2c", "gpu-"))


def test_tegrastats_power_lines():
    assert parse_tegrastats_power_w("RAM 2000/7000MB CPU [1%@1420] VDD_IN 5012mW/4990mW VDD_CPU_GPU_CV 800mW/800mW") == 5.012
    assert parse_tegrastats_power_w("RAM 1000/3964MB POM_5V_IN 2153/2153 POM_5V_GPU 0/0") == 2.153
    assert parse_tegrastats_power_w("RAM 1000/3964MB CPU [2%@102]") is None


def test_resource_sampler_reads_rss_and_no_invented_power():
    with ResourceSampler(gpu=False) as s:
        blob = bytearray(30 * 2**20)
    del blob
    r = s.report
    assert r.peak_rss_mb is not None and r.peak_rss_mb > 30
    assert r.mean_power_w is None and r.power_source is None and r.peak_gpu_memory_mb is None
    assert energy_per_face_mj(None, 1.0, 10) is None
    assert energy_per_face_mj(10.0, 2.0, 4) == pytest.approx(5000.0)


def test_option_parsing_errors_are_one_line():
    assert parse_batches("1, 2,8,2") == (1, 2, 8)
    assert [b.value for b in parse_backends("torch,onnxruntime")] == ["torch", "onnxruntime"]
    assert [p.value for p in parse_paths("per-region,fused")] == ["per-region", "fused"]
    assert parse_suites("clean,pose45") == ("clean", "pose45")
    for fn, bad, msg in ((parse_batches, "1,0", "--batch"), (parse_backends, "tensorflow", "--backend"),
                         (parse_paths, "diagonal", "--paths"), (parse_suites, "lighting", "--suites")):
        with pytest.raises(RanEdgeError, match=msg):
            fn(bad)
    with pytest.raises(RanEdgeError, match="--warmup"):
        BenchConfig(artifacts=("a.onnx",), out="x", warmup=-1)
    with pytest.raises(RanEdgeError, match="no artifact"):
        BenchConfig(artifacts=(), out="x")


def test_bench_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None; sys.modules['tensorrt'] = None\n"
            "import ran_edge.bench, ran_edge.bench.harness, ran_edge.bench.report, ran_edge.bench.plots, "
            "ran_edge.bench.compare, ran_edge.data.suites, ran_edge.bench.loaders, ran_edge.cli.bench\n"
            "from ran_edge.cli.main import main\n"
            "try:\n    main(['bench', '--help'])\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "print('HELP-OK')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HELP-OK" in proc.stdout and "--max-regression" in proc.stdout


def test_backend_all_expands_to_installed_peers(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from ran_edge.bench.subjects import plan_subjects

    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"x")  # only existence is checked when planning
    specs = plan_subjects(BenchConfig(artifacts=(str(ckpt),), out=tmp_path, backends="all", paths="region-batch"))
    assert [s.backend.value for s in specs] == ["torch", "torchscript", "onnxruntime"]
