"""ran-edge inspect: what an artifact is (.pt, .onnx, .ts, .engine + its JSON), and optional checks.

Bad files (random bytes, truncated, wrong type) give a one-line error and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional

HELP = "show I/O, shapes, precision, classes, preset, versions and sha256 of an artifact (.pt .onnx .ts .engine)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ran_edge.cli.common import add_trust_flag

    p.add_argument("artifact", nargs="?", help="model.pt, model.onnx, model.ts or model.engine (its .json next to it)")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.add_argument("--check", action="store_true", help=".onnx: structure, TensorRT-lint (+ parity with --checkpoint) checks")
    p.add_argument("--checkpoint", help="with --check: the .pt the ONNX came from, for the ONNX Runtime vs torch parity check")
    p.add_argument("--fp16", action="store_true",
                   help=".onnx: FP16 range analysis on 64 synthetic faces (layers that must stay FP32); writes nothing")
    p.add_argument("--kernels", action="store_true", help="which region-batch kernel implementation is active")
    add_trust_flag(p)


def _meta_lines(meta: Any) -> List[str]:
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
        agree = ", ".join(f"{k} {100 * v:.2f}%" for k, v in quality.get("agreement", {}).items())
        verdict = "meets the target" if quality.get("meets_target") else "MISSES the target: " + "; ".join(quality.get("misses", []))
        lines.append(f"INT8 quality (held-out agreement with FP32): {agree}; {verdict}")
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
    from ran_edge.artifact import sha256_file

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


def describe(path: Path, trust: bool = False) -> Dict[str, Any]:
    """Inspect ``path`` → ``{"lines", "meta", "graph", "notes", "integrity"}``; RanEdgeError for a bad file."""
    from ran_edge.artifact import sha256_file
    from ran_edge.errors import RanEdgeError

    if not path.is_file():
        raise RanEdgeError(f"artifact not found: {path}")
    info: Dict[str, Any] = {"path": str(path), "size": path.stat().st_size, "lines": [], "notes": [], "graph": [],
                            "meta": None, "integrity": None}
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth", ".tar"):
        _checkpoint(path, info, trust)
        return info
    handler = {".onnx": _onnx, ".ts": _torchscript, ".torchscript": _torchscript, ".engine": _engine, ".plan": _engine}.get(suffix)
    if handler is None:
        raise RanEdgeError(f"{path}: unknown artifact type '{suffix}', expected .pt, .onnx, .ts or .engine")
    handler(path, info)
    info["sha256"] = sha256_file(path)
    return info


def _print(info: Dict[str, Any], as_json: bool) -> None:
    meta = info["meta"]
    if as_json:
        out = {k: v for k, v in info.items() if k != "meta"}
        out["meta"] = meta.to_dict() if meta is not None else None
        print(json.dumps(out, indent=2))
        return
    print(f"{info['path']} ({info['size']:,} bytes)")
    for line in info["lines"] + (_meta_lines(meta) if meta is not None else []) + info["graph"]:
        print(f"  {line}")
    if info.get("sha256"):
        print(f"  sha256: {info['sha256']}" + (f" ({info['integrity']})" if info.get("integrity") else ""))
    for note in info["notes"]:
        print(f"  note: {note}")


def _extras(args: argparse.Namespace, path: Optional[Path]) -> int:
    from ran_edge.errors import RanEdgeError

    rc = 0
    if (args.check or args.fp16) and (path is None or path.suffix.lower() != ".onnx"):
        raise RanEdgeError("--check and --fp16 apply to an .onnx file")
    if args.check:
        from ran_edge.export.checks import check_onnx_file

        torch_model = None
        if args.checkpoint:
            from ran_edge.model.checkpoint import load_checkpoint

            torch_model = load_checkpoint(args.checkpoint, trust=args.trust_checkpoint)[0]
        result = check_onnx_file(path, torch_model)
        print(result.summary())
        rc = 0 if result.ok else 1
    if args.fp16:
        from ran_edge.engine.prepare import fp16_analysis

        report = fp16_analysis(path, 64, print)
        print(json.dumps({k: v for k, v in report.to_dict().items() if k != "flagged"}, indent=2))
    if args.kernels:
        try:
            from ran_edge.kernels import describe as kernels_describe
        except ImportError as exc:
            print(f"kernels: ran_edge.kernels is not available ({exc})")
        else:
            print(kernels_describe())
    return rc


def run(args: argparse.Namespace) -> int:
    from ran_edge.errors import RanEdgeError

    path = Path(args.artifact) if args.artifact else None
    if path is None and not args.kernels:
        raise RanEdgeError("got no artifact, expected a .pt, .onnx, .ts or .engine file (or --kernels)")
    if path is not None:
        _print(describe(path, args.trust_checkpoint), args.json)
    return _extras(args, path)
