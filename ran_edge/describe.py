"""What an artifact is (``.pt``, ``.onnx``, ``.ts``, ``.engine`` + its JSON sidecar): I/O, shapes, precision,
classes, preset, versions, sha256 against the sidecar — the library behind ``ran-edge inspect``.

:func:`describe_artifact` returns an :class:`ArtifactDescription`; :func:`format_description` gives the text
``inspect`` prints and :meth:`ArtifactDescription.to_dict` its ``--json`` form. Bad files (random bytes,
truncated, wrong type) raise :class:`~ran_edge.errors.RanEdgeError` with one line. Heavy packages (onnx,
torch) are imported only for the formats that need them.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ran_edge.artifact import ArtifactMeta


@dataclass(frozen=True)
class ArtifactDescription:
    """One inspected artifact.

    Attributes:
        path / size: the file and its size in bytes.
        lines: facts read from a checkpoint itself (empty for formats described by their sidecar).
        notes: remarks (no sidecar, how an engine was built, TensorRT here or not).
        graph: ONNX graph facts (opset, nodes, graph I/O) when onnx is installed.
        meta: the sidecar, when the format has one.
        integrity: the sha256-vs-sidecar verdict, when the sidecar records a hash.
        sha256: the file's sha256 (checkpoints print theirs among ``lines``).
    """

    path: str
    size: int
    lines: Tuple[str, ...] = ()
    notes: Tuple[str, ...] = ()
    graph: Tuple[str, ...] = ()
    meta: Optional[ArtifactMeta] = None
    integrity: Optional[str] = None
    sha256: Optional[str] = None

    @classmethod
    def from_info(cls, info: Dict[str, Any]) -> "ArtifactDescription":
        """From the dict the per-format describers fill in."""
        return cls(path=info["path"], size=info["size"], lines=tuple(info["lines"]), notes=tuple(info["notes"]),
                   graph=tuple(info["graph"]), meta=info["meta"], integrity=info["integrity"], sha256=info.get("sha256"))

    def to_dict(self) -> Dict[str, Any]:
        """The ``--json`` form (the sidecar as its dict, last; ``sha256`` only when the file's hash is known)."""
        out: Dict[str, Any] = {"path": self.path, "size": self.size, "lines": list(self.lines), "notes": list(self.notes),
                               "graph": list(self.graph), "integrity": self.integrity}
        if self.sha256 is not None:
            out["sha256"] = self.sha256
        out["meta"] = self.meta.to_dict() if self.meta is not None else None
        return out


def int8_quality_lines(quality: Dict[str, Any]) -> List[str]:
    """The INT8 gate's verdict, the INT8 share and the measured speed of an INT8 file, as ``inspect`` lines."""
    verdict = "passes the gate" if quality.get("meets_target") else "MISSES the gate: " + "; ".join(quality.get("misses", []))
    gate = quality.get("gate") or {}
    pooled = gate.get("pooled") or {}
    lines = [f"INT8 quality (held-out, {pooled.get('n', '?')} faces): {verdict}"]
    if pooled:
        drop = (f"pooled accuracy drop {pooled['drop_points']:+.2f} pt (upper bound {pooled['drop_upper_points']:+.2f}), "
                if pooled.get("drop_points") is not None else "")
        lines.append(f"  {drop}agreement {100 * pooled['top1_agreement']:.2f}%, on confident faces "
                     f"{100 * pooled['confident_agreement']:.2f}%")
    if quality.get("target"):
        from ran_edge.quantize.gate import QualityTarget

        lines.append(f"  gate: {QualityTarget.from_dict(quality['target']).describe()}")
    share = quality.get("int8_share")
    if share:
        from ran_edge.quantize.share import describe_share

        lines.append(f"  {describe_share(share)}" + (", fine-tuned (QAT)" if quality.get("fine_tuned") else ""))
    speed = quality.get("speed")
    if speed:
        lines.append(f"  ONNX Runtime {speed['speedup']:.2f}x FP32 at batch {speed['batch']} ({speed.get('execution', '')})")
    return lines


def meta_lines(meta: ArtifactMeta) -> List[str]:
    """The sidecar of an artifact as ``inspect`` lines: format, I/O, classes, preset, preprocessing, extras."""
    pp = meta.preprocess
    lines = [f"format: {meta.format} (schema {meta.schema_version}, ran-edge {meta.ran_edge_version})",
             f"precision: {meta.precision.value}", f"input kind: {meta.input_kind.value}"]
    lines += [f"input  {t.name}: {list(t.shape)} {t.dtype}" for t in meta.inputs]
    lines += [f"output {t.name}: {list(t.shape)} {t.dtype}" for t in meta.outputs]
    lines += [f"classes ({len(meta.class_names)}): {', '.join(meta.class_names)}",
              f"preset: {meta.preset.name} (K={meta.preset.num_regions}, full face at {meta.preset.full_face_index}); attention {meta.attention}",
              f"preprocess: {pp.color_order.value}, face {pp.face_size}px, regions {pp.region_size}px, scale {pp.scale:.6g}, "
              f"mean {list(pp.mean)}, std {list(pp.std)}", f"crops: {pp.describe_crop()}"]
    quality = meta.extra.get("int8_quality")
    if quality:
        lines += int8_quality_lines(quality)
    skip = {"build_plan", "source_onnx_extra", "parity", "trt_lint", "checks", "int8_quality"}
    for key, value in sorted(meta.extra.items()):
        if key not in skip and value not in (None, "", [], {}):
            lines.append(f"{key}: {value if not isinstance(value, (dict, list)) else json.dumps(value)}")
    return lines


def _integrity(path: Path, meta: Any, key: str) -> Optional[str]:
    """Compare the file's sha256 with the one recorded in the sidecar."""
    from ran_edge.artifact import sha256_file
    from ran_edge.errors import RanEdgeError

    want = meta.extra.get(key)
    if not want:
        return None
    if sha256_file(path) != want:
        raise RanEdgeError(f"{path}: sha256 differs from the one in its sidecar ({key}); the file is truncated or was replaced")
    return "sha256 matches the sidecar"


def _onnx(path: Path, info: Dict[str, Any]) -> None:
    from ran_edge._lazy import is_available
    from ran_edge.artifact import read_sidecar, sidecar_path
    from ran_edge.errors import RanEdgeError

    meta = read_sidecar(path) if sidecar_path(path).is_file() else None
    if is_available("onnx"):
        import onnx

        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # DecodeError and friends
            raise RanEdgeError(f"{path}: not a readable ONNX model ({type(exc).__name__}); expected an .onnx file") from exc
        if not model.graph.node:
            raise RanEdgeError(f"{path}: not an ONNX model (empty graph)")
        dims = lambda v: [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in v.type.tensor_type.shape.dim]  # noqa: E731
        info["graph"] = [f"opset {max((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')), default='?')}, "
                         f"{len(model.graph.node)} nodes, producer {model.producer_name} {model.producer_version}"]
        info["graph"] += [f"graph input  {v.name}: {dims(v)}" for v in model.graph.input]
        info["graph"] += [f"graph output {v.name}: {dims(v)}" for v in model.graph.output]
    if meta is None:
        info["notes"].append("no sidecar (model.onnx.json): the runtime cannot use this file; re-export with 'ran-edge export'")
    else:
        info["meta"] = meta
        info["integrity"] = _integrity(path, meta, "onnx_sha256")


def _torchscript(path: Path, info: Dict[str, Any]) -> None:
    from ran_edge.artifact import read_sidecar
    from ran_edge.errors import RanEdgeError

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        raise RanEdgeError(f"{path}: not a TorchScript archive ({exc})") from exc
    if bad is not None or not any(n.endswith("data.pkl") for n in names) or not any("/code/" in n for n in names):
        raise RanEdgeError(f"{path}: not a complete TorchScript archive (damaged member {bad})" if bad else
                           f"{path}: a zip file, but not TorchScript (no code/ and data.pkl)")
    meta = read_sidecar(path)
    info["meta"] = meta
    info["integrity"] = _integrity(path, meta, "ts_sha256")


def _engine(path: Path, info: Dict[str, Any]) -> None:
    from ran_edge.artifact import read_sidecar

    meta = read_sidecar(path)
    info["meta"] = meta
    info["integrity"] = _integrity(path, meta, "engine_sha256")
    plan = meta.extra.get("build_plan") or {}
    if plan:
        info["notes"].append(f"built via {plan.get('path')} with flags {plan.get('builder_flags')}, "
                             f"profiles {meta.extra.get('profiles')}")
    try:
        from ran_edge.engine.build import installed_trt_version

        here = installed_trt_version()
    except Exception:  # pragma: no cover - defensive: inspect must never crash
        here = None
    if here is None:
        info["notes"].append("TensorRT is not installed here: the plan itself was not deserialized")
    else:
        info["notes"].append(f"installed TensorRT {here}; load it with ran_edge.runtime.load to check it against this GPU")


def _checkpoint(path: Path, info: Dict[str, Any], trust: bool) -> None:
    from ran_edge._lazy import require
    from ran_edge.artifact import sha256_file, training_data_of

    require("torch", "inspecting a .pt checkpoint")
    from ran_edge.model.checkpoint import load_checkpoint

    model, payload = load_checkpoint(path, trust=trust)
    cfg = model.config
    pp = cfg.preprocess
    info["lines"] = [f"format: ran-edge checkpoint (schema {payload.get('schema_version')}, ran-edge {payload.get('meta', {}).get('ran_edge_version', '?')})",
                     f"classes ({cfg.num_classes}): {', '.join(cfg.class_names)}",
                     f"preset: {cfg.preset.name} (K={cfg.preset.num_regions}); attention {cfg.attention.value}; trunk width {cfg.trunk_width}",
                     f"preprocess: {pp.color_order.value}, face {pp.face_size}px, regions {pp.region_size}px, scale {pp.scale:.6g}",
                     f"crops: {pp.describe_crop()}",
                     f"parameters: {sum(p.numel() for p in model.parameters()):,}",
                     f"sha256: {sha256_file(path)}"]
    metrics = payload.get("meta", {}).get("metrics")
    if metrics:
        info["lines"].append(f"metrics: {json.dumps(metrics)}")
    info["training_data"] = training_data_of(payload.get("meta") or {})


def describe_artifact(path: Path, trust: bool = False) -> ArtifactDescription:
    """Inspect ``path`` (checkpoint, ONNX, TorchScript or engine with its sidecar); :class:`RanEdgeError` for a
    missing, unknown or bad file. ``trust``: allow checkpoints that need arbitrary unpickling."""
    from ran_edge.artifact import sha256_file
    from ran_edge.errors import RanEdgeError

    path = Path(path)
    if not path.is_file():
        raise RanEdgeError(f"artifact not found: {path}")
    info: Dict[str, Any] = {"path": str(path), "size": path.stat().st_size, "lines": [], "notes": [], "graph": [],
                            "meta": None, "integrity": None}
    from ran_edge.artifact import KIND_BY_SUFFIX, ArtifactKind, artifact_kind

    kind = artifact_kind(path)
    if kind is ArtifactKind.CHECKPOINT:
        _checkpoint(path, info, trust)
    elif kind is None:
        raise RanEdgeError(f"{path}: unknown artifact type '{path.suffix.lower()}', expected one of {sorted(KIND_BY_SUFFIX)}")
    else:
        handler = {ArtifactKind.ONNX: _onnx, ArtifactKind.TORCHSCRIPT: _torchscript, ArtifactKind.ENGINE: _engine}[kind]
        handler(path, info)
        info["sha256"] = sha256_file(path)
    from ran_edge.artifact import synthetic_training_note, training_data_of

    record = info.pop("training_data", None) or (training_data_of(info["meta"]) if info["meta"] is not None else None)
    note = synthetic_training_note(path.name, record)
    if note:
        info["notes"].insert(0, note)
    return ArtifactDescription.from_info(info)


def format_description(desc: ArtifactDescription) -> str:
    """The description as ``ran-edge inspect`` prints it: a header line, indented facts, sha256, notes."""
    from ran_edge.artifact import TRAINING_DATA_KEY

    out = [f"{desc.path} ({desc.size:,} bytes)"]
    facts = tuple(m for m in meta_lines(desc.meta) if not m.startswith(f"{TRAINING_DATA_KEY}:")) \
        if desc.meta is not None else ()
    for line in desc.lines + facts + desc.graph:  # training data: said once, as a note
        out.append(f"  {line}")
    if desc.sha256:
        out.append(f"  sha256: {desc.sha256}" + (f" ({desc.integrity})" if desc.integrity else ""))
    for note in desc.notes:
        out.append(f"  note: {note}")
    return "\n".join(out)
