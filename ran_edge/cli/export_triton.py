"""ran-edge export-triton: a Triton model repository (and optionally a DeepStream nvinfer config)."""

from __future__ import annotations

import argparse
from typing import Tuple

HELP = "write a Triton model repository (config.pbtxt, labels, metadata; optional preprocessing ensemble) for an artifact"


def _sizes(text: str) -> Tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"got '{text}', expected comma-separated integers like 4,8,16") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("artifact", help="model.engine (tensorrt_plan) or model.onnx (onnxruntime_onnx), with its .json")
    p.add_argument("--repo", required=True, help="model repository folder (created)")
    p.add_argument("--name", default="ran", help="model name (default: ran)")
    p.add_argument("--max-batch", type=int, default=None,
                   help="max_batch_size in faces (default 32; a 'regions' model gets 0: its batch axis is N*K rows)")
    p.add_argument("--instances", type=int, default=1, help="instance_group count (default 1)")
    p.add_argument("--preferred-batch", type=_sizes, default=(4, 8, 16), help="dynamic batching preferred sizes (default 4,8,16)")
    p.add_argument("--queue-delay-us", type=int, default=500, help="dynamic batching max queue delay (default 500 us)")
    p.add_argument("--no-dynamic-batching", action="store_true", help="write no dynamic_batching block")
    p.add_argument("--with-preprocess", action="store_true",
                   help="add a Python-backend preprocessing model and an ensemble taking uint8 face crops")
    p.add_argument("--deepstream", action="store_true",
                   help="also write a DeepStream nvinfer secondary-classifier config for an .engine (unverified here)")
    p.add_argument("--force", action="store_true", help="replace existing model folders of the same names")


def run(args: argparse.Namespace) -> int:
    from ran_edge.artifact import sidecar_path
    from ran_edge import option_checks as checks

    checks.int_range("--max-batch", args.max_batch, 0, checks.MAX_BATCH)
    checks.int_range("--instances", args.instances, 1, 64)
    checks.int_range("--queue-delay-us", args.queue_delay_us, 0, 10_000_000)
    for b in args.preferred_batch:
        checks.int_range("--preferred-batch", b, 1, checks.MAX_BATCH)
    checks.outputs([], inputs=[args.artifact, sidecar_path(args.artifact)], folders=[args.repo])
    from ran_edge.serve.repository import export_triton
    from ran_edge.serve.triton_config import TritonOptions

    options = TritonOptions(name=args.name, max_batch=args.max_batch, instances=args.instances,
                            preferred_batch=args.preferred_batch, queue_delay_us=args.queue_delay_us,
                            dynamic_batching=not args.no_dynamic_batching)
    if args.deepstream:  # checked before writing anything
        from ran_edge.artifact import read_sidecar
        from ran_edge.serve.deepstream import check_deepstream

        check_deepstream(read_sidecar(args.artifact))
    result = export_triton(args.artifact, args.repo, options, with_preprocess=args.with_preprocess, overwrite=args.force)
    print(f"wrote Triton repository {result.repo}: models {', '.join(result.models)}")
    for note in result.notes:
        print(f"note: {note}")
    if args.deepstream:
        from ran_edge.serve.deepstream import write_deepstream

        cfg = write_deepstream(args.artifact, result.repo / "deepstream")
        print(f"wrote DeepStream nvinfer config {cfg} (UNVERIFIED: no DeepStream on this machine)")
    return 0
