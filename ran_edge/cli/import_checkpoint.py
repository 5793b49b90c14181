"""ran-edge import-checkpoint: convert an official RAN checkpoint into a ran-edge checkpoint."""

from __future__ import annotations

import argparse

HELP = "convert an official RAN checkpoint (.pth.tar, module.-prefixed) into a ran-edge .pt"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ran_edge.cli.common import add_crop_flags, add_trust_flag

    p.add_argument("checkpoint", help="official checkpoint, e.g. model_best.pth.tar")
    p.add_argument("--preset", default="ferplus6", help="region preset the model was trained with (ferplus6, affectnet8, JSON)")
    p.add_argument("--classes", default="ferplus", help="class set (ferplus, rafdb, affectnet8, affectnet7) or comma list")
    p.add_argument("--face-size", type=int, default=224, help="aligned face side S fed to the exported graph (default 224)")
    add_crop_flags(p, "official-uint8")
    add_trust_flag(p)
    p.add_argument("--out", required=True, help="output .pt")


def run(args: argparse.Namespace) -> int:
    from ran_edge import option_checks as checks

    checks.int_range("--face-size", args.face_size, 8, 4096)
    checks.outputs([args.out], inputs=[args.checkpoint])
    from ran_edge._lazy import require

    require("torch", "checkpoint import")
    from ran_edge.cli.common import parse_class_names
    from ran_edge.model.checkpoint import import_official, save_checkpoint
    from ran_edge.presets import get_preset

    model = import_official(args.checkpoint, get_preset(args.preset), parse_class_names(args.classes),
                            trust=args.trust_checkpoint, face_size=args.face_size, crop=args.crop,
                            pil_filter=args.pil_filter)
    save_checkpoint(args.out, model, {"imported_from": str(args.checkpoint), "source": "official RAN code",
                                      "crop": model.config.preprocess.to_dict()["interpolation"]})
    cfg = model.config
    print(f"wrote {args.out}: {cfg.num_classes} classes, preset {cfg.preset.name}, attention {cfg.attention.value}, "
          f"trunk width {cfg.trunk_width}, preprocessing RGB [0,1] 224, crops {cfg.preprocess.describe_crop()}")
    return 0
