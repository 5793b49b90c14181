"""``export_triton``: a standard Triton model repository from a ran-edge artifact.

Layout (``--name ran``)::

    REPO/ran/config.pbtxt             platform tensorrt_plan (.engine) or onnxruntime_onnx (.onnx)
    REPO/ran/1/model.plan|model.onnx  the artifact, unchanged
    REPO/ran/labels.txt               class names, one per line (label_filename of logits)
    REPO/ran/ran_edge_meta.json       the artifact's ran-edge metadata (sidecar)
    with --with-preprocess:
    REPO/ran_preprocess/{config.pbtxt,1/model.py,ran_edge_meta.json}   Python backend
    REPO/ran_ensemble/{config.pbtxt,1/}                               uint8 faces → predictions
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple, Union

from ran_edge.artifact import read_sidecar, write_json_atomic
from ran_edge.errors import RanEdgeError
from ran_edge.serve.triton_config import (LABELS_FILE, META_FILE, TritonOptions, plan_model, preprocess_names,
                                          render_ensemble_config, render_model_config, render_preprocess_config)


@dataclass(frozen=True)
class TritonRepo:
    """What :func:`export_triton` wrote: the repository and the model folders in it."""

    repo: Path
    models: Tuple[str, ...]
    notes: Tuple[str, ...] = ()


def _fresh_dir(path: Path, overwrite: bool) -> Path:
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise RanEdgeError(f"{path} already exists and is not empty; pass --force to replace it")
        shutil.rmtree(path)
    (path / "1").mkdir(parents=True, exist_ok=True)
    return path


def export_triton(artifact: Union[str, Path], repo: Union[str, Path], options: TritonOptions = TritonOptions(),
                  with_preprocess: bool = False, overwrite: bool = False) -> TritonRepo:
    """Write a Triton model repository for ``artifact`` (``.engine`` or ``.onnx`` with its sidecar).

    Args:
        artifact: the model file; ``<artifact>.json`` must sit next to it.
        repo: the repository folder (created; other models in it are left alone).
        options: name, batching, instances (:class:`TritonOptions`).
        with_preprocess: also write the Python-backend preprocessing model and an ensemble.
        overwrite: replace existing model folders of the same names.

    Raises:
        RanEdgeError: missing file/sidecar, unsupported format, batching the artifact cannot do,
            existing model folder without ``overwrite``.
    """
    artifact, repo = Path(artifact), Path(repo)
    if not artifact.is_file():
        raise RanEdgeError(f"artifact not found: {artifact}")
    meta = read_sidecar(artifact)
    plan = plan_model(meta, options)
    model_dir = _fresh_dir(repo / plan.name, overwrite)
    shutil.copyfile(artifact, model_dir / "1" / plan.platform.model_filename)
    (model_dir / "config.pbtxt").write_text(render_model_config(plan))
    (model_dir / LABELS_FILE).write_text("".join(f"{c}\n" for c in meta.class_names))
    write_json_atomic(model_dir / META_FILE, meta.to_dict())
    models = [plan.name]
    if with_preprocess:
        pre, ens = preprocess_names(plan)
        pre_dir = _fresh_dir(repo / pre, overwrite)
        shutil.copyfile(Path(__file__).with_name("python_model.py"), pre_dir / "1" / "model.py")
        (pre_dir / "config.pbtxt").write_text(render_preprocess_config(plan))
        write_json_atomic(pre_dir / META_FILE, meta.to_dict())
        ens_dir = _fresh_dir(repo / ens, overwrite)
        (ens_dir / "config.pbtxt").write_text(render_ensemble_config(plan))
        (ens_dir / LABELS_FILE).write_text("".join(f"{c}\n" for c in meta.class_names))
        models += [pre, ens]
    return TritonRepo(repo, tuple(models), plan.notes)
