"""Training loop: SGD, CE + RB-loss (1:1), multi-step LR, best-by-validation, resumable.

Defaults follow the official FERPlus script (docs/model.md §7): SGD momentum 0.9, weight decay 1e-4,
LR ×0.1 at 30%, 50% and 80% of the epochs. The class-balanced sampler ("+" of the AffectNet result)
resamples the *training* split only; the validation split is never resampled (unlike the official
code, docs/model.md §10) and is never the test split.
"""

from __future__ import annotations

import enum
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from ran_edge.data.dataset import FaceDataset, dataset_labels
from ran_edge.errors import RanEdgeError
from ran_edge.model.checkpoint import load_checkpoint, read_checkpoint_file, save_checkpoint
from ran_edge.model.loss import ran_loss
from ran_edge.model.ran import RAN
from ran_edge.train.batches import PreparedFaces
from ran_edge.train.model_eval import evaluate

BEST_NAME = "best.pt"
LAST_NAME = "last.pt"


class Optimizer(str, enum.Enum):
    """``sgd``: the official recipe (momentum 0.9); ``adamw``: converges in few epochs (CPU demo)."""

    SGD = "sgd"
    ADAMW = "adamw"


class Schedule(str, enum.Enum):
    """``multistep``: ×gamma at the milestone fractions (official); ``cosine``: cosine decay to 0."""

    MULTISTEP = "multistep"
    COSINE = "cosine"


@dataclass(frozen=True)
class TrainConfig:
    """Training options (defaults: the official FERPlus recipe, docs/model.md §7)."""

    epochs: int = 60
    lr: float = 0.1
    batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[float, ...] = (0.3, 0.5, 0.8)  # fractions of the epochs
    gamma: float = 0.1
    balanced: bool = False
    rb_margin: float | None = None  # None: the preset's margin
    seed: int = 0
    device: str = "cpu"
    num_workers: int = 0
    eval_batch_size: int = 128
    optimizer: Optimizer = Optimizer.SGD
    schedule: Schedule = Schedule.MULTISTEP
    hflip: bool = False  # random horizontal flips (the official code has no augmentation, docs/model.md §7)

    def __post_init__(self) -> None:
        object.__setattr__(self, "optimizer", Optimizer(self.optimizer))
        object.__setattr__(self, "schedule", Schedule(self.schedule))
        if self.epochs < 1 or self.batch_size < 1 or not (self.lr > 0):
            raise RanEdgeError(f"epochs and batch size must be >= 1 and lr > 0; got {self.epochs}, {self.batch_size}, {self.lr}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise RanEdgeError(f"device '{self.device}' requested but CUDA is not available; use --device cpu")

    def milestone_epochs(self) -> list[int]:
        return sorted({max(1, int(f * self.epochs)) for f in self.milestones})


@dataclass
class TrainResult:
    best_path: Path
    last_path: Path
    best_val_accuracy: float
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def _sampler(labels: np.ndarray, num_classes: int, generator: torch.Generator) -> WeightedRandomSampler:
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = 1.0 / np.maximum(counts[labels], 1.0)
    return WeightedRandomSampler(torch.from_numpy(weights), num_samples=len(labels), replacement=True, generator=generator)


def _plain(value: Any) -> Any:
    """Checkpoint metadata must load with ``weights_only=True``: enums become their values, tuples lists."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _optimizer(model: RAN, cfg: TrainConfig) -> tuple[torch.optim.Optimizer, Any]:
    if cfg.optimizer is Optimizer.SGD:
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                                     weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.schedule is Schedule.MULTISTEP:
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=cfg.milestone_epochs(), gamma=cfg.gamma)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return opt, sched


def train(
    model: RAN,
    train_ds: FaceDataset,
    val_ds: FaceDataset,
    cfg: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    meta: dict[str, Any] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    max_epochs: int | None = None,
) -> TrainResult:
    """Train ``model`` and write ``best.pt`` (by validation accuracy) and ``last.pt`` into ``out_dir``.

    ``resume`` continues from ``out_dir/last.pt`` (same config), restoring optimizer, scheduler,
    epoch and RNG state, so an interrupted run ends where an uninterrupted one would.
    ``max_epochs`` stops this call after that many epochs (a time-boxed slice of the plan; resume later).
    """
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise RanEdgeError(f"training needs non-empty train and val splits; got {len(train_ds)} and {len(val_ds)} faces")
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    model.to(device)
    spec = model.config.preprocess
    train_set = PreparedFaces(train_ds, spec)
    val_set = PreparedFaces(val_ds, spec)
    gen = torch.Generator().manual_seed(cfg.seed)
    labels = dataset_labels(train_ds)
    sampler = _sampler(labels, model.config.num_classes, gen) if cfg.balanced else None
    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                        generator=gen, num_workers=cfg.num_workers, drop_last=len(train_set) > cfg.batch_size)
    opt, sched = _optimizer(model, cfg)
    meta = dict(meta or {})
    if meta.get("data"):  # checkpoints, and the sidecars of their exports, say what the model was trained on
        from ran_edge.artifact import TRAINING_DATA_KEY, training_data_record

        meta.setdefault(TRAINING_DATA_KEY, training_data_record(meta["data"]))
        model.training_data = meta[TRAINING_DATA_KEY]
    meta["training"] = {**{k: _plain(v) for k, v in asdict(cfg).items()}, **meta.get("training", {})}

    start_epoch, best_acc, best_epoch, history = 0, -1.0, 0, []
    last_path, best_path = out / LAST_NAME, out / BEST_NAME
    if resume and last_path.is_file():
        state = read_checkpoint_file(last_path).get("training_state")
        if not state:
            raise RanEdgeError(f"{last_path}: has no training state to resume from")
        resumed, _ = load_checkpoint(last_path)
        model.load_state_dict(resumed.state_dict())
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, best_acc, best_epoch = int(state["epoch"]), float(state["best_val_accuracy"]), int(state["best_epoch"])
        history = json.loads(state["history_json"])
        log(f"resuming from {last_path} at epoch {start_epoch + 1}/{cfg.epochs}")

    t0 = time.perf_counter()
    stop = cfg.epochs if max_epochs is None else min(cfg.epochs, start_epoch + max_epochs)
    for epoch in range(start_epoch, stop):
        model.train()
        tot_loss = tot_rb = 0.0
        correct = seen = 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, disable=not progress, unit="batch")
        for x, y in bar:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if cfg.hflip:
                flip = torch.rand(x.shape[0], generator=gen) < 0.5
                x = torch.where(flip.to(device)[:, None, None, None], x.flip(-1), x)
            out_ = model.run(x)
            loss, ce, rb = ran_loss(out_.logits, out_.self_weights, y, model.config.preset, cfg.rb_margin)
            if not math.isfinite(loss.item()):
                raise RanEdgeError(f"training diverged at epoch {epoch + 1} (loss {loss.item()}); lower --lr (now {cfg.lr})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n = y.numel()
            tot_loss += loss.item() * n
            tot_rb += rb.item() * n
            correct += int((out_.logits.argmax(1) == y).sum())
            seen += n
            bar.set_postfix(loss=f"{tot_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        sched.step()
        val = evaluate(model, val_set, batch_size=cfg.eval_batch_size, device=cfg.device)
        row = {"epoch": epoch + 1, "loss": tot_loss / max(seen, 1), "rb_loss": tot_rb / max(seen, 1),
               "train_accuracy": correct / max(seen, 1), "val_accuracy": val["accuracy"],
               "lr": opt.param_groups[0]["lr"]}
        history.append(row)
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {row['loss']:.4f} (rb {row['rb_loss']:.4f}) "
            f"train acc {row['train_accuracy']:.3f} val acc {val['accuracy']:.3f}")
        if val["accuracy"] > best_acc:
            best_acc, best_epoch = val["accuracy"], epoch + 1
            save_checkpoint(best_path, model, {**meta, "metrics": {"val_accuracy": best_acc, "epoch": best_epoch}})
        save_checkpoint(last_path, model, {**meta, "metrics": {"val_accuracy": val["accuracy"], "epoch": epoch + 1}},
                        training_state={"epoch": epoch + 1, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                                        "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                                        "best_val_accuracy": best_acc, "best_epoch": best_epoch,
                                        "history_json": json.dumps(history)})
    return TrainResult(best_path, last_path, best_acc, best_epoch, history, time.perf_counter() - t0)
