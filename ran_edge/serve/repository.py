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

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple, Union

from ran_edge.artifact import sidecar_path
from ran_edge.artifact_check import validate_artifact
from ran_edge.errors import RanEdgeError
from ran_edge.outputs import ResultSet
from ran_edge.serve.triton_config import (LABELS_FILE, META_FILE, TritonOptions, plan_model, preprocess_names,
                                          render_ensemble_config, render_model_config, render_preprocess_config)


@dataclass(frozen=True)
class TritonRepo:
    """What :func:`export_triton` wrote: the repository and the model folders in it."""

    repo: Path
    models: Tuple[str, ...]
    notes: Tuple[str, ...] = ()


def _model_dir(rs: ResultSet, path: Path, overwrite: bool) -> Path:
    """A staged model folder (with ``1/``) that replaces ``path`` when the result set is committed."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())) and not overwrite:
        raise RanEdgeError(f"{path} already exists and is not empty; pass --force to replace it")
    staged = rs.path(path, folder=True)
    (staged / "1").mkdir()
    return staged


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
    meta = validate_artifact(artifact)  # never copy into a repository a file its sidecar does not describe
    plan = plan_model(meta, options)
    names = [plan.name] + (list(preprocess_names(plan)) if with_preprocess else [])
    with ResultSet(inputs=[artifact, sidecar_path(artifact)], folders=[repo / n for n in names]) as rs:
        model_dir = _model_dir(rs, repo / plan.name, overwrite)  # every model folder replaced together, or none
        shutil.copyfile(artifact, model_dir / "1" / plan.platform.model_filename)
        (model_dir / "config.pbtxt").write_text(render_model_config(plan))
        (model_dir / LABELS_FILE).write_text("".join(f"{c}\n" for c in meta.class_names))
        (model_dir / META_FILE).write_text(json.dumps(meta.to_dict(), indent=2) + "\n")
        if with_preprocess:
            pre, ens = preprocess_names(plan)
            pre_dir = _model_dir(rs, repo / pre, overwrite)
            shutil.copyfile(Path(__file__).with_name("python_model.py"), pre_dir / "1" / "model.py")
            (pre_dir / "config.pbtxt").write_text(render_preprocess_config(plan))
            (pre_dir / META_FILE).write_text(json.dumps(meta.to_dict(), indent=2) + "\n")
            ens_dir = _model_dir(rs, repo / ens, overwrite)
            (ens_dir / "config.pbtxt").write_text(render_ensemble_config(plan))
            (ens_dir / LABELS_FILE).write_text("".join(f"{c}\n" for c in meta.class_names))
        rs.commit()
    models = names
    return TritonRepo(repo, tuple(models), plan.notes)
