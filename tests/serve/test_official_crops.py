"""The Triton preprocessing model follows the sidecar's crop convention (it is ran-edge's one preprocessing)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ran_edge.artifact import ArtifactMeta, InputKind, TensorSpec, meta_for_model_config
from ran_edge.serve.python_model import preprocess_batch

torch = pytest.importorskip("torch")


def test_triton_preprocess_regions_equal_the_graph_crops_in_the_official_convention():
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec

    spec = PreprocessSpec(face_size=48, region_size=32, crop="official")
    model = build_ran(RAFDB_CLASSES, "affectnet8", "official", spec, trunk_width=4)
    metas = {}
    for kind in (InputKind.FACES, InputKind.REGIONS):
        meta = meta_for_model_config(model.config, "onnx", kind, (TensorSpec("x", (-1, 3, 32, 32)),), ())
        # through JSON, as the Triton model reads ran_edge_meta.json
        metas[kind] = ArtifactMeta.from_dict(json.loads(json.dumps(meta.to_dict())))
    assert metas[InputKind.REGIONS].preprocess.crop.value == "official"
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    regions = preprocess_batch(faces, metas[InputKind.REGIONS])
    with torch.no_grad():
        graph = model.crop_regions(torch.from_numpy(preprocess_batch(faces, metas[InputKind.FACES]))).numpy()
    np.testing.assert_allclose(regions, graph, atol=2e-6)
    exact = PreprocessSpec(face_size=48, region_size=32)
    old = dict(metas[InputKind.REGIONS].to_dict(), preprocess={k: v for k, v in exact.to_dict().items()
                                                                 if k not in ("crop", "pil_filter")})
    assert ArtifactMeta.from_dict(old).preprocess.crop.value == "exact"  # sidecars from before the field
