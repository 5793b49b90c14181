"""Region-Biased loss (RB-loss), docs/model.md §5, vectorised.

L_RB = mean_n max(0, α − (max_{i ∈ crops} μ_{n,i} − μ_{n,full})): at least one crop's self-attention
weight should exceed the full face's by the margin α. The maximum runs over the *crops only* (every
index except the preset's full-face index), which avoids the reimplementation's index bug
(docs/model.md §10). The total training loss is CE + L_RB, 1:1 as the official code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ran_edge.presets import RegionPreset


def rb_loss(self_weights: torch.Tensor, preset: RegionPreset, margin: float | None = None) -> torch.Tensor:
    """RB-loss for self-attention weights ``[N,K]`` (μ as the model uses them).

    Args:
        self_weights: μ, ``[N,K]``, region order of ``preset``.
        preset: gives the full-face index and the default margin.
        margin: α; ``None`` → ``preset.rb_margin``.
    """
    if self_weights.ndim != 2 or self_weights.shape[1] != preset.num_regions:
        raise ValueError(f"self_weights: got shape {tuple(self_weights.shape)}, expected [N, {preset.num_regions}]")
    alpha = preset.rb_margin if margin is None else margin
    crops = self_weights[:, list(preset.crop_indices)]
    full = self_weights[:, preset.full_face_index]
    return F.relu(alpha - (crops.max(dim=1).values - full)).mean()


def ran_loss(
    logits: torch.Tensor, self_weights: torch.Tensor, targets: torch.Tensor, preset: RegionPreset,
    margin: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(total, ce, rb)`` with total = CE + RB (weight 1:1, docs/model.md §5)."""
    ce = F.cross_entropy(logits, targets)
    rb = rb_loss(self_weights, preset, margin)
    return ce + rb, ce, rb
