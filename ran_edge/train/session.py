"""One ``ran-edge train`` run from its options: data, a new RAN (optionally with a pretrained trunk), training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from ran_edge.train.loop import TrainResult

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainJob:
    """Options of a training run (the ``ran-edge train`` flags; torch-free until :func:`run_training`).

    Data: ``data`` (a ``--data`` spec), ``seed``, ``val_fraction`` (share of train used for validation when the
    dataset has no val split). Model: ``preset``, ``attention`` (official | paper), ``face_size``,
    ``region_size``, ``crop`` (exact | official | official-uint8), ``pil_filter``, ``trunk_width``, ``init_backbone`` (pretrained
    ResNet-18 trunk) and ``trust_checkpoint``. Optimisation (:class:`~ran_edge.train.loop.TrainConfig`):
    ``epochs``, ``lr``, ``batch_size``, ``optimizer``, ``schedule``, ``weight_decay``, ``hflip``, ``balanced``,
    ``rb_margin``, ``device``, ``workers``. Output: ``out`` folder, ``resume`` from ``out/last.pt``, ``progress``.
    """

    out: str
    data: str = "synthetic"
    preset: str = "ferplus6"
    attention: str = "official"
    epochs: int = 60
    lr: float = 0.1
    batch_size: int = 128
    optimizer: str = "sgd"
    schedule: str = "multistep"
    weight_decay: float = 1e-4
    hflip: bool = False
    balanced: bool = False
    rb_margin: Optional[float] = None
    init_backbone: Optional[str] = None
    face_size: int = 224
    region_size: int = 224
    crop: str = "exact"
    pil_filter: str = "bicubic"
    trunk_width: int = 64
    seed: int = 0
    device: str = "cpu"
    workers: int = 0
    val_fraction: float = 0.1
    resume: bool = False
    progress: bool = True
    trust_checkpoint: bool = False


def run_training(job: TrainJob, log: Log = print) -> TrainResult:
    """Open the train/val splits, build the RAN, load the trunk weights if asked, train into ``job.out``
    (``best.pt``, ``last.pt``) and log the outcome. Needs torch."""
    from ran_edge._lazy import require

    require("torch", "training")
    from ran_edge.data.spec import Split, class_names_for, open_dataset, parse_data_spec
    from ran_edge.model.checkpoint import load_trunk_weights
    from ran_edge.model.ran import build_ran
    from ran_edge.preprocess import PreprocessSpec
    from ran_edge.train.loop import TrainConfig, train

    spec = parse_data_spec(job.data)
    cfg = TrainConfig(epochs=job.epochs, lr=job.lr, batch_size=job.batch_size, balanced=job.balanced,
                      rb_margin=job.rb_margin, seed=job.seed, device=job.device, num_workers=job.workers,
                      optimizer=job.optimizer, schedule=job.schedule, weight_decay=job.weight_decay, hflip=job.hflip)
    train_ds = open_dataset(spec, Split.TRAIN, seed=job.seed, val_fraction=job.val_fraction)
    val_ds = open_dataset(spec, Split.VAL, seed=job.seed, val_fraction=job.val_fraction)
    model = build_ran(class_names_for(spec), job.preset, job.attention,
                      PreprocessSpec(face_size=job.face_size, region_size=job.region_size, crop=job.crop,
                                     pil_filter=job.pil_filter), job.trunk_width)
    if job.init_backbone:
        skipped = load_trunk_weights(model, job.init_backbone, trust=job.trust_checkpoint)
        log(f"loaded trunk weights from {job.init_backbone} (skipped {len(skipped)} non-trunk keys)")
    log(f"training on {len(train_ds)} faces, validating on {len(val_ds)} ({job.data})")
    from ran_edge.outputs import FolderGuard

    with FolderGuard(job.out):  # a run that fails before its first checkpoint leaves no empty folder
        result = train(model, train_ds, val_ds, cfg, job.out, resume=job.resume, meta={"data": job.data},
                       progress=job.progress)
    log(f"best val accuracy {result.best_val_accuracy:.4f} at epoch {result.best_epoch}; "
        f"checkpoints: {result.best_path}, {result.last_path} ({result.seconds:.0f} s)")
    return result
