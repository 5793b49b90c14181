"""RAN: Region Attention Network (Wang et al. 2019), docs/model.md §1-4.

One shared ResNet-18 trunk runs over K face regions (the full face is one of them); self-attention
μ_i = σ(α·F_i), a global feature F_m = Σμ_i F_i / Σμ_i, relation attention ν_i = σ(β·[F_i : F_m]),
and the fused representation P = Σ μ_i ν_i [F_i : F_m] / Σ μ_i ν_i feeds ``fc``. No dropout.

Three execution paths, equal in eval mode (tests/model/test_ran.py):

1. :meth:`RAN.forward_per_region` — the official structure, the trunk called once per region;
2. :meth:`RAN.forward` — the *region batch in graph*: the aligned face ``[N,3,S,S]`` is cropped into
   all K regions inside the graph and the trunk runs once over ``[N*K,3,R,R]``;
3. :meth:`RAN.forward_regions` — the region batch given directly (made by the fused kernel).

**In-graph crops.** Each region crop+resize is a fixed linear map of the face, separable in rows and
columns: region k of a channel ``X`` is ``Ay[k] @ X @ Ax[k]ᵀ`` with constant interpolation matrices
from :func:`ran_edge.preprocess.region_matrices`. In ONNX this is two broadcast ``MatMul`` ops with
constant initialisers. Why not Slice + Resize or GridSample/RoiAlign: MatMul parses in every TensorRT
version (8.0+) and in every ONNX Runtime/DLA-fallback path, needs no integer snapping of fractional
boxes (0.05·224 = 11.2 px), and reproduces *exactly* the sampling convention of the fused kernel and
of the numpy preprocessing, so all three paths agree. The matrices follow the crop convention of the
preprocessing spec (``exact`` bilinear, or ``official`` whole-pixel boxes with Pillow's resize weights,
:mod:`ran_edge.crop`): a fixed filter on fixed integer boxes is linear, so the official crops are MatMuls too.
``official-uint8`` adds Pillow's integer rounding after each pass (:mod:`ran_edge.model.pillow_crop`).
The cost is small: R·S·(S+R)·3 MACs per region, 3.7% of the ResNet-18 trunk at S=R=224 (``official-uint8``:
twice that, plus its elementwise rounding steps; ``benchmarks/pillow_crop_latency.py``).

**BatchNorm note** (docs/model.md §10): the official code trains with one trunk call per region
type, so BN batch statistics are per region; training through the region batch mixes region types
in one BN batch. Eval mode (running statistics) is identical for all paths.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple

import torch
from torch import nn

from ran_edge.model.pillow_crop import PillowCrop
from ran_edge.model.trunk import build_trunk, trunk_feature_dim
from ran_edge.preprocess import PreprocessSpec, region_matrices
from ran_edge.presets import RegionPreset, get_preset


class AttentionMode(str, enum.Enum):
    """How the sigmoid attention weights are used.

    ``paper``: μ and ν are used as they are (sigmoid outputs), normalised in the weighted sums.
    ``official``: as the released code, μ and ν are additionally softmax-ed across the K regions
    (docs/model.md §3-4); the RB-loss margins of §5 were tuned for this scale.
    ``self-only``: the official self-attention-only variant (``FERplus_dir/part_attention.py``): sigmoid μ,
    F_m = Σμ F / Σμ, ``fc`` on F_m (512 → C); no relation attention (``beta`` is kept, unused, as in its
    checkpoints). The region weights are μ / Σμ.
    """

    PAPER = "paper"
    OFFICIAL = "official"
    SELF_ONLY = "self-only"


@dataclass(frozen=True)
class RanConfig:
    """Everything needed to rebuild a RAN and use it correctly; stored in every checkpoint."""

    class_names: tuple[str, ...]
    preset: RegionPreset
    attention: AttentionMode = AttentionMode.OFFICIAL
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)
    trunk_width: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "attention", AttentionMode(self.attention))
        if len(self.class_names) < 2:
            raise ValueError(f"need at least 2 classes, got {self.class_names}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_names": list(self.class_names),
            "preset": self.preset.to_dict(),
            "attention": self.attention.value,
            "preprocess": self.preprocess.to_dict(),
            "trunk_width": self.trunk_width,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RanConfig":
        return cls(
            class_names=tuple(data["class_names"]),
            preset=RegionPreset.from_dict(data["preset"]),
            attention=AttentionMode(data["attention"]),
            preprocess=PreprocessSpec.from_dict(data["preprocess"]),
            trunk_width=int(data["trunk_width"]),
        )


class RanOutput(NamedTuple):
    """``logits [N,C]``, ``region_weights [N,K]`` (final fused weights, sum to 1) and
    ``self_weights [N,K]`` (μ as used by the model, the input of the RB loss)."""

    logits: torch.Tensor
    region_weights: torch.Tensor
    self_weights: torch.Tensor


class RAN(nn.Module):
    """Region Attention Network over a shared ResNet-18 trunk.

    ``forward(faces) -> (logits, region_weights)`` is the exported signature.
    """

    def __init__(self, config: RanConfig):
        super().__init__()
        self.config = config
        self.num_regions = config.preset.num_regions
        self.full_face_index = config.preset.full_face_index
        dim = trunk_feature_dim(config.trunk_width)
        self.feature_dim = dim
        self.trunk = build_trunk(config.trunk_width)
        # Names match the official checkpoint: alpha.0 / beta.0 are the Linears, index 1 the Sigmoid.
        self.alpha = nn.Sequential(nn.Linear(dim, 1), nn.Sigmoid())
        self.beta = nn.Sequential(nn.Linear(2 * dim, 1), nn.Sigmoid())
        self_only = config.attention is AttentionMode.SELF_ONLY
        self.fc = nn.Linear(dim if self_only else 2 * dim, config.num_classes)
        pp = config.preprocess
        # official-uint8: Pillow's integer passes in float32 ops (ran_edge/model/pillow_crop.py); else two MatMuls.
        self.pillow_crop = PillowCrop(config.preset, pp) if pp.crop.uint8 else None
        rows, cols = region_matrices(config.preset, pp.face_size, pp.region_size, pp)
        # [1,K,1,R,S] and [1,K,1,S,R]: broadcast over the batch and the colour channels.
        self.register_buffer("crop_rows", torch.from_numpy(rows)[None, :, None], persistent=False)
        self.register_buffer("crop_cols_t", torch.from_numpy(cols).transpose(1, 2)[None, :, None].contiguous(), persistent=False)

    # -- region batch -------------------------------------------------------------------------
    def crop_regions(self, faces: torch.Tensor) -> torch.Tensor:
        """``[N,3,S,S]`` aligned faces → ``[N*K,3,R,R]`` region batch (face-major)."""
        if self.pillow_crop is not None:
            return self.pillow_crop(faces)
        r = self.config.preprocess.region_size
        crops = torch.matmul(torch.matmul(self.crop_rows, faces.unsqueeze(1)), self.crop_cols_t)
        return crops.reshape(-1, 3, r, r)

    def head(self, features: torch.Tensor) -> RanOutput:
        """Attention fusion and classifier over region features ``[N,K,D]``."""
        mu = self.alpha(features).squeeze(-1)  # [N,K] sigmoid
        if self.config.attention is AttentionMode.SELF_ONLY:
            w = mu / mu.sum(1, keepdim=True)
            return RanOutput(self.fc((w.unsqueeze(-1) * features).sum(1)), w, mu)
        if self.config.attention is AttentionMode.OFFICIAL:
            mu = torch.softmax(mu, dim=1)
        mu_w = mu.unsqueeze(-1)
        global_feat = (mu_w * features).sum(1) / mu_w.sum(1)  # F_m [N,D]
        pair = torch.cat([features, global_feat.unsqueeze(1).expand_as(features)], dim=-1)  # [N,K,2D]
        nu = self.beta(pair).squeeze(-1)
        if self.config.attention is AttentionMode.OFFICIAL:
            nu = torch.softmax(nu, dim=1)
        weights = mu * nu
        weights = weights / weights.sum(1, keepdim=True)
        fused = (weights.unsqueeze(-1) * pair).sum(1)  # P_RAN [N,2D]
        return RanOutput(self.fc(fused), weights, mu)

    def run_regions(self, regions: torch.Tensor) -> RanOutput:
        """Full output for a region batch ``[N*K,3,R,R]``."""
        feats = self.trunk(regions).reshape(-1, self.num_regions, self.feature_dim)
        return self.head(feats)

    def run(self, faces: torch.Tensor) -> RanOutput:
        """Full output for aligned faces through the region batch (the training path)."""
        return self.run_regions(self.crop_regions(faces))

    def run_per_region(self, faces: torch.Tensor) -> RanOutput:
        """Full output through the official structure: one trunk call per region type."""
        r, k = self.config.preprocess.region_size, self.num_regions
        crops = self.crop_regions(faces).reshape(-1, k, 3, r, r)
        feats = torch.stack([self.trunk(crops[:, i]) for i in range(k)], dim=1)
        return self.head(feats)

    # -- exported signatures --------------------------------------------------------------------
    def forward(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.run(faces)
        return out.logits, out.region_weights

    def forward_regions(self, regions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.run_regions(regions)
        return out.logits, out.region_weights

    def forward_per_region(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.run_per_region(faces)
        return out.logits, out.region_weights


class RegionsInput(nn.Module):
    """Wrapper whose ``forward`` takes the region batch ``[N*K,3,R,R]`` (export of the fused-kernel path)."""

    def __init__(self, model: RAN):
        super().__init__()
        self.model = model

    def forward(self, regions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_regions(regions)


class PerRegionInput(nn.Module):
    """Wrapper whose ``forward`` is the per-region reference path (for benchmarks and parity)."""

    def __init__(self, model: RAN):
        super().__init__()
        self.model = model

    def forward(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_per_region(faces)


def build_ran(
    class_names: tuple[str, ...] | list[str],
    preset: str | RegionPreset = "ferplus6",
    attention: AttentionMode | str = AttentionMode.OFFICIAL,
    preprocess: PreprocessSpec | None = None,
    trunk_width: int = 64,
) -> RAN:
    """Convenience constructor: ``build_ran(RAFDB_CLASSES, "ferplus6")`` is the full-size model."""
    cfg = RanConfig(
        class_names=tuple(class_names),
        preset=get_preset(preset),
        attention=AttentionMode(attention),
        preprocess=preprocess or PreprocessSpec(),
        trunk_width=trunk_width,
    )
    return RAN(cfg)
