"""ran-edge inspect: what an artifact is (.pt, .onnx, .ts, .engine + its JSON; :mod:`ran_edge.describe`), and
optional checks. Bad files (random bytes, truncated, wrong type) give a one-line error and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional

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
        from ran_edge.describe import describe_artifact, format_description

        desc = describe_artifact(path, args.trust_checkpoint)
        print(json.dumps(desc.to_dict(), indent=2) if args.json else format_description(desc))
    return _extras(args, path)
