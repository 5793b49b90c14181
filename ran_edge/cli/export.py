"""ran-edge export: checkpoint → ONNX (simplified, checked) or TorchScript, with a metadata sidecar."""

from __future__ import annotations

import argparse

HELP = "export a checkpoint to ONNX or TorchScript (named I/O, dynamic batch, simplified, checked, sidecar JSON)"


def _batch(text: str) -> int | None:
    if text == "dynamic":
        return None
    from ran_edge.option_checks import MAX_BATCH

    if text.isdigit() and 0 < int(text) <= MAX_BATCH:
        return int(text)
    raise argparse.ArgumentTypeError(f"got {text!r}, expected 'dynamic' or an integer 1..{MAX_BATCH}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ran_edge.cli.common import add_trust_flag

    p.add_argument("checkpoint", help="ran-edge checkpoint (.pt)")
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    p.add_argument("--input", choices=["faces", "regions"], default="faces",
                   help="faces: aligned faces [N,3,S,S], regions cropped in graph; regions: region batch [N*K,3,R,R] (fused kernel)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17: the highest TensorRT 8.6 reads)")
    p.add_argument("--batch", type=_batch, default=None, metavar="dynamic|N", help="batch axis (default dynamic)")
    p.add_argument("--out", required=True, help="output file (.onnx or .ts); the sidecar goes to OUT.json")
    p.add_argument("--no-simplify", action="store_true", help="skip onnx-simplifier")
    p.add_argument("--check-fp16", action="store_true",
                   help="also run the FP16 range analysis, record flagged layers in the sidecar and write OUT with .fp16.onnx")
    p.add_argument("--fp16-data", default="synthetic", help="data for the FP16 analysis: synthetic or a folder of faces")
    p.add_argument("--fp16-num", type=int, default=64, help="faces for the FP16 analysis (default 64)")
    add_trust_flag(p)


def run(args: argparse.Namespace) -> int:
    from ran_edge import artifact
    from ran_edge import option_checks as checks

    if args.check_fp16:
        checks.int_range("--fp16-num", args.fp16_num, 1, 100_000)
        checks.face_folder("--fp16-data", args.fp16_data)
    outs = [args.out, artifact.sidecar_path(args.out)]
    if args.check_fp16:
        from ran_edge.export.fp16 import fp16_path

        outs += [fp16_path(args.out), artifact.sidecar_path(fp16_path(args.out))]
    checks.existing_file("checkpoint", args.checkpoint, "a .pt file from 'ran-edge train' or 'ran-edge import-checkpoint'")
    checks.outputs(outs, inputs=[args.checkpoint, args.fp16_data if args.check_fp16 else None])
    from ran_edge._lazy import require

    require("torch", "export")
    from ran_edge.artifact import InputKind
    from ran_edge.errors import RanEdgeError
    from ran_edge.export import DEFAULT_OPSET, export_onnx, export_torchscript
    from ran_edge.model.checkpoint import load_checkpoint

    if args.format == "torchscript" and (args.opset is not None or args.batch is not None or args.check_fp16):
        raise RanEdgeError("--opset, --batch and --check-fp16 apply to --format onnx only; TorchScript is traced with a dynamic batch")
    model, _ = load_checkpoint(args.checkpoint, trust=args.trust_checkpoint)
    kind = InputKind(args.input)
    if args.format == "torchscript":
        export_torchscript(model, args.out, input_kind=kind, checkpoint_path=args.checkpoint)
        return 0
    if not args.check_fp16:
        export_onnx(model, args.out, input_kind=kind, opset=args.opset or DEFAULT_OPSET, batch=args.batch,
                    simplify=not args.no_simplify, checkpoint_path=args.checkpoint)
        return 0
    from ran_edge.export.pair import export_onnx_with_fp16

    fp16 = export_onnx_with_fp16(model, args.out, outs, checkpoint=args.checkpoint, input_kind=kind,
                                 opset=args.opset or DEFAULT_OPSET, batch=args.batch, simplify=not args.no_simplify,
                                 fp16_data=args.fp16_data, fp16_num=args.fp16_num)
    print(f"wrote {args.out} and {fp16} with their sidecars")
    return 0
