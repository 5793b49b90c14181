"""ran-edge train: train a RAN with CE + RB-loss on a dataset."""

from __future__ import annotations

import argparse

HELP = "train a RAN (CE + Region-Biased loss) on a dataset; writes best.pt and last.pt"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ran_edge.cli.common import add_crop_flags, add_trust_flag

    p.add_argument("--data", default="synthetic",
                   help="dataset: synthetic[:opts] | rafdb:DIR | ferplus:DIR | affectnet:DIR | imagefolder:DIR | DIR (default: synthetic)")
    p.add_argument("--preset", default="ferplus6", help="region preset: ferplus6, affectnet8 or a JSON file (default: ferplus6)")
    p.add_argument("--attention", choices=["official", "paper"], default="official",
                   help="official: sigmoid then softmax across regions (released code); paper: sigmoid only")
    p.add_argument("--epochs", type=int, default=60, help="epochs (default 60, the official FERPlus recipe)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1; x0.1 at 30/50/80%% of the epochs)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd", help="sgd (official, momentum 0.9) or adamw")
    p.add_argument("--schedule", choices=["multistep", "cosine"], default="multistep",
                   help="multistep: x0.1 at 30/50/80%% of the epochs (official); cosine: decay to 0")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--hflip", action="store_true", help="random horizontal flips (the official code has no augmentation)")
    p.add_argument("--balanced", action="store_true", help="class-balanced sampling of the training split")
    p.add_argument("--rb-margin", type=float, default=None, help="RB-loss margin (default: the preset's, 0.1 for 6 regions)")
    p.add_argument("--init-backbone", default=None, help="pretrained ResNet-18 trunk (e.g. the official ijba_res18_naive.pth.tar)")
    p.add_argument("--face-size", type=int, default=224, help="aligned face side S (default 224)")
    p.add_argument("--region-size", type=int, default=224, help="region crop side R (default 224)")
    add_crop_flags(p, "exact")
    p.add_argument("--trunk-width", type=int, default=64, help="ResNet-18 base width (64 = standard)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--workers", type=int, default=0, help="data-loader worker processes")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of train carved out for validation when the dataset has no val split")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_trust_flag(p)
    p.add_argument("--out", required=True, help="output directory")


def _check(args: argparse.Namespace) -> None:
    """Every option before any data is read or anything written."""
    from ran_edge import option_checks as checks

    checks.int_range("--epochs", args.epochs, 1, 100_000)
    checks.float_range("--lr", args.lr, 0.0, low_open=True)
    checks.int_range("--batch-size", args.batch_size, 1, checks.MAX_BATCH)
    checks.float_range("--weight-decay", args.weight_decay, 0.0)
    checks.float_range("--rb-margin", args.rb_margin, 0.0, 1.0)
    checks.int_range("--face-size", args.face_size, 8, 4096)
    checks.int_range("--region-size", args.region_size, 8, 4096)
    checks.int_range("--trunk-width", args.trunk_width, 4, 1024)
    checks.int_range("--workers", args.workers, 0, 256)
    checks.float_range("--val-fraction", args.val_fraction, 0.0, 1.0, low_open=True)
    checks.device("--device", args.device)
    checks.outputs([], inputs=[args.init_backbone], folders=[args.out])
    if args.init_backbone:
        checks.existing_file("--init-backbone", args.init_backbone, "a ResNet-18 checkpoint file")


def run(args: argparse.Namespace) -> int:
    _check(args)
    from ran_edge.train.session import TrainJob, run_training

    a = args
    run_training(TrainJob(out=a.out, data=a.data, preset=a.preset, attention=a.attention, epochs=a.epochs, lr=a.lr,
                          batch_size=a.batch_size, optimizer=a.optimizer, schedule=a.schedule, weight_decay=a.weight_decay,
                          hflip=a.hflip, balanced=a.balanced, rb_margin=a.rb_margin, init_backbone=a.init_backbone,
                          face_size=a.face_size, region_size=a.region_size, crop=a.crop, pil_filter=a.pil_filter,
                          trunk_width=a.trunk_width, seed=a.seed, device=a.device, workers=a.workers,
                          val_fraction=a.val_fraction, resume=a.resume, progress=not a.no_progress,
                          trust_checkpoint=a.trust_checkpoint))
    return 0
