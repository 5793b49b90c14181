import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from ran_edge.artifact import InputKind, read_sidecar, sha256_file  # noqa: E402
from ran_edge.errors import RanEdgeError  # noqa: E402
from ran_edge.export import DEFAULT_OPSET, export_onnx  # noqa: E402
from ran_edge.export.checks import check_onnx_file  # noqa: E402


def _dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def test_onnx_structure_names_dynamic_batch_and_no_training_ops(exported_faces):
    result, _ = exported_faces
    model = onnx.load(str(result.path))
    assert [i.name for i in model.graph.input] == ["faces"]
    assert [o.name for o in model.graph.output] == ["logits", "region_weights"]
    assert _dims(model.graph.input[0]) == ["N", 3, 32, 32]
    assert _dims(model.graph.output[0]) == ["N", 7] and _dims(model.graph.output[1]) == ["N", 6]
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {DEFAULT_OPSET}
    ops = {n.op_type for n in model.graph.node}
    assert "Dropout" not in ops and "Identity" not in ops  # Identity removed by onnxsim
    # The region crop is two MatMuls with constant interpolation matrices (docs/architecture.md §2).
    inits = {t.name for t in model.graph.initializer}
    matmuls = [n for n in model.graph.node if n.op_type == "MatMul"]
    assert len(matmuls) >= 2 and all(any(i in inits for i in n.input) for n in matmuls[:2])


def test_sidecar_has_the_contract(exported_faces):
    result, _ = exported_faces
    meta = read_sidecar(result.path)
    assert meta.format == "onnx" and meta.input_kind is InputKind.FACES
    assert meta.class_names[0] == "surprise" or len(meta.class_names) == 7
    assert [t.name for t in meta.inputs] == ["faces"] and meta.inputs[0].shape == (-1, 3, 32, 32)
    assert [t.shape for t in meta.outputs] == [(-1, 7), (-1, 6)]
    ex = meta.extra
    assert ex["opset"] == DEFAULT_OPSET
    assert ex["nodes_before_simplify"] > ex["nodes_after_simplify"] > 0 and ex["simplified"] is True
    assert ex["onnx_sha256"] == sha256_file(result.path)
    assert ex["checkpoint_sha256"] == sha256_file(result.path.parent / "ckpt.pt")
    assert ex["parity"]["samples"] >= 32 and ex["parity"]["max_abs_diff_logits"] <= 1e-4
    assert meta.preprocess.face_size == 32 and meta.preset.num_regions == 6 and meta.attention == "official"


def test_onnx_runtime_matches_torch_at_other_batch_sizes(exported_faces, tiny_module_ran):
    result, _ = exported_faces
    sess = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        x = torch.rand(n, 3, 32, 32)
        logits, weights = sess.run(None, {"faces": x.numpy()})
        with torch.no_grad():
            ref_l, ref_w = tiny_module_ran(x)
        np.testing.assert_allclose(logits, ref_l.numpy(), atol=1e-4, rtol=0)
        np.testing.assert_allclose(weights, ref_w.numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)


def test_regions_input_and_fixed_batch(tiny_module_ran, tmp_path):
    res = export_onnx(tiny_module_ran, tmp_path / "r.onnx", input_kind=InputKind.REGIONS, batch=2, log=lambda s: None)
    model = onnx.load(str(res.path))
    assert [i.name for i in model.graph.input] == ["regions"]
    assert _dims(model.graph.input[0]) == [12, 3, 16, 16]  # N*K = 2*6
    assert _dims(model.graph.output[0]) == [2, 7]
    assert res.meta.input_kind is InputKind.REGIONS and res.meta.inputs[0].shape == (12, 3, 16, 16)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        regions = tiny_module_ran.crop_regions(x)
        ref = tiny_module_ran(x)[0].numpy()
    got = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"]).run(["logits"], {"regions": regions.numpy()})[0]
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)


def test_failed_export_leaves_nothing_behind(tiny_module_ran, tmp_path, monkeypatch):
    """A write that dies half-way (disk full) leaves no partial file and keeps an older export intact."""
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous export")
    real_save = onnx.save

    def dying_save(proto, path, *a, **k):
        with open(path, "wb") as f:
            f.write(proto.SerializeToString()[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx, "save", dying_save)
    with pytest.raises(OSError):
        export_onnx(tiny_module_ran, out, log=lambda s: None)
    monkeypatch.setattr(onnx, "save", real_save)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    assert out.read_bytes() == b"previous export"


def test_bad_opset_is_a_user_error_and_writes_nothing(tiny_module_ran, tmp_path):
    with pytest.raises(RanEdgeError, match="opset 21 is not supported"):
        export_onnx(tiny_module_ran, tmp_path / "m.onnx", opset=21, log=lambda s: None)
    assert list(tmp_path.iterdir()) == []


def test_check_onnx_file_rechecks_with_and_without_torch(exported_faces, tiny_module_ran):
    result, _ = exported_faces
    structural = check_onnx_file(result.path, log=lambda s: None)
    assert structural.ok and "parity" not in structural.figures
    full = check_onnx_file(result.path, tiny_module_ran, log=lambda s: None)
    assert full.ok and full.figures["parity"]["max_abs_diff_region_weights"] <= 1e-4
    assert json.loads(json.dumps(full.to_dict()))["ok"] is True


def test_failed_simplification_keeps_the_original_graph_loudly(tiny_module_ran, tmp_path):
    """onnxsim's own check really fails here: 2 regions cannot be reshaped into [-1, K=6, D]."""
    from ran_edge.export.simplify import simplify_onnx

    res = export_onnx(tiny_module_ran, tmp_path / "r.onnx", input_kind=InputKind.REGIONS, simplify=False, log=lambda s: None)
    original = onnx.load(str(res.path))
    logs = []
    kept, report = simplify_onnx(original, logs.append, test_shapes={"regions": [2, 3, 16, 16]})
    assert kept is original and not report.simplified and report.nodes_after == report.nodes_before
    assert "onnxsim raised" in report.reason
    assert any(line.startswith("WARNING: simplification FAILED, keeping the UNSIMPLIFIED graph") for line in logs)
    assert res.meta.extra["simplified"] is False and res.meta.extra["simplify_note"] == "not asked"
