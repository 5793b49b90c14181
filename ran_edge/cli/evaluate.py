"""ran-edge eval: accuracy, per-class accuracy and confusion of a checkpoint on a dataset split."""

from __future__ import annotations

import argparse

HELP = "evaluate a checkpoint on a dataset split (accuracy, per-class accuracy, confusion)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ran_edge.cli.common import add_trust_flag

    p.add_argument("checkpoint", help="ran-edge checkpoint (.pt)")
    p.add_argument("--data", default="synthetic", help="dataset spec (see 'ran-edge train --help')")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--suite", default="clean", help="synthetic suite: clean, occlusion or pose (default clean)")
    p.add_argument("--path", default="region-batch", choices=["region-batch", "per-region"],
                   help="execution path: one trunk pass over the region batch, or one call per region")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val carve-out (use the training seed)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="write the report as JSON here")
    add_trust_flag(p)


def run(args: argparse.Namespace) -> int:
    from ran_edge import option_checks as checks

    checks.int_range("--batch-size", args.batch_size, 1, checks.MAX_BATCH)
    checks.device("--device", args.device)
    checks.outputs([args.json], inputs=[args.checkpoint])
    from ran_edge._lazy import require

    require("torch", "evaluation")
    from ran_edge.cli.common import write_json_atomic
    from ran_edge.data.spec import open_dataset
    from ran_edge.model.checkpoint import load_checkpoint
    from ran_edge.artifact import RegionPath
    from ran_edge.train.model_eval import evaluate

    model, _ = load_checkpoint(args.checkpoint, trust=args.trust_checkpoint)
    ds = open_dataset(args.data, args.split, seed=args.seed, suite=args.suite)
    report = evaluate(model.to(args.device), ds, RegionPath(args.path), args.batch_size, args.device)
    report.update({"checkpoint": str(args.checkpoint), "data": args.data, "split": args.split, "suite": args.suite})
    print(f"accuracy {report['accuracy']:.4f} on {report['n']} faces ({args.data}, {args.split}, {args.suite}, {args.path})")
    for name, acc in report["per_class_accuracy"].items():
        print(f"  {name:>12s}: {'n/a' if acc is None else f'{acc:.3f}'}")
    if args.json:
        write_json_atomic(args.json, report)
        print(f"wrote {args.json}")
    return 0
