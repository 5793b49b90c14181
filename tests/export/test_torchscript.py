import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")  # deprecated in torch, still what we ship

from ran_edge.artifact import InputKind, read_sidecar  # noqa: E402
from ran_edge.export import export_torchscript  # noqa: E402
from ran_edge.export.torchscript import read_torchscript_meta  # noqa: E402


@pytest.mark.parametrize("kind", [InputKind.FACES, InputKind.REGIONS])
def test_torchscript_parity_metadata_and_dynamic_batch(tiny_module_ran, tmp_path, kind):
    out = tmp_path / f"m_{kind.value}.ts"
    res = export_torchscript(tiny_module_ran, out, input_kind=kind, log=lambda s: None)
    p = res.report["checks"]["parity"]
    assert p["samples"] >= 32 and p["max_abs_diff_logits"] <= 1e-4 and p["max_abs_diff_region_weights"] <= 1e-4
    embedded = read_torchscript_meta(out)
    side = read_sidecar(out)
    assert embedded["input_kind"] == kind.value == side.input_kind.value
    assert embedded["class_names"] == list(side.class_names) and side.format == "torchscript"
    assert side.extra["ts_sha256"]
    ts = torch.jit.load(str(out))
    x = torch.rand(3, 3, 32, 32)  # traced at batch 2: 3 proves the batch axis is not baked in
    with torch.no_grad():
        feed = x if kind is InputKind.FACES else tiny_module_ran.crop_regions(x)
        got, ref = ts(feed), tiny_module_ran(x)
    assert got[0].shape == (3, 7) and got[1].shape == (3, 6)
    np.testing.assert_allclose(got[0].numpy(), ref[0].numpy(), atol=1e-5, rtol=0)
