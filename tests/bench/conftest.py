"""A tiny RAN exported once per module, and one small real bench run shared by the report tests."""

from __future__ import annotations

import pytest

from tests.helpers import make_tiny_ran


@pytest.fixture(scope="package")
def tiny_artifacts(tmp_path_factory):
    """``{"pt": checkpoint, "onnx": faces graph, "regions_onnx": regions graph}`` of the tiny RAN."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from ran_edge.artifact import InputKind
    from ran_edge.export import export_onnx
    from ran_edge.model.checkpoint import save_checkpoint

    d = tmp_path_factory.mktemp("tiny")
    model = make_tiny_ran()
    pt = save_checkpoint(d / "tiny.pt", model)
    # check=False: the parity check is repeated by test_run (ONNX vs torch agreement), no need to pay twice
    onnx_path = export_onnx(model, d / "tiny.onnx", check=False, log=lambda _: None).path
    regions = export_onnx(model, d / "tiny.regions.onnx", input_kind=InputKind.REGIONS, check=False, log=lambda _: None).path
    return {"pt": pt, "onnx": onnx_path, "regions_onnx": regions, "model": model}


@pytest.fixture(scope="package")
def tiny_int8(tiny_artifacts):
    """The tiny ONNX quantized to INT8 (CPU QDQ flavour, min/max ranges on 16 example faces)."""
    from ran_edge.export.io import example_inputs
    from ran_edge.quantize import ArrayReader, QuantTarget, quantize_int8

    src = tiny_artifacts["onnx"]
    x = example_inputs(tiny_artifacts["model"].config, "faces", 16, seed=1)
    reader = ArrayReader([{"faces": x[:8]}, {"faces": x[8:]}])
    out = src.with_name("tiny.int8.onnx")
    quantize_int8(src, out, reader=reader, method="minmax", target=QuantTarget.CPU, log=lambda _: None)
    return out


@pytest.fixture(scope="package")
def tiny_bench(tiny_artifacts, tmp_path_factory):
    """One real bench run: the tiny ONNX (ORT) and the checkpoint's three torch paths, clean suite."""
    from ran_edge.bench.config import BenchConfig
    from ran_edge.bench.harness import run_bench

    out = tmp_path_factory.mktemp("bench")
    cfg = BenchConfig(artifacts=(str(tiny_artifacts["onnx"]), str(tiny_artifacts["pt"])), out=out, batches=(1, 2),
                      warmup=1, iters=3, threads=1, data="synthetic:n_test=24,size=32", suites=("clean",),
                      reference=str(tiny_artifacts["pt"]), progress=False, argv=("ran-edge", "bench", "test"))
    return run_bench(cfg, log=lambda _: None)
