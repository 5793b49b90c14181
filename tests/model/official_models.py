"""Official-format RAN models and the official pipeline, independent of ran-edge's RAN class (parity tests).

* :func:`official_state`: an official-format state dict (``module.`` keys, full-size ResNet-18, random head) in one
  of two kinds: ``"trained"`` (trained-looking BN running statistics) or ``"sensitive"`` (BN scales and biases
  perturbed, so small input changes move the logits more);
* :func:`spread_attention`: α/β Linears whose attention spreads over the regions, by a chosen amount;
* :func:`centre_classes`: ``fc`` biases that centre each class's logits over the faces (the logit std is then the
  face-to-face variation only, as for a trained classifier, so a crop difference weighs more against it);
* :func:`official_regions`: ``part_attentioon_sample_fly.py``'s crops with Pillow (``int()`` box, ``crop``,
  ``resize``, ``ToTensor``);
* :func:`official_features` and :func:`official_head`: the released forward (trunk once per region, sigmoid then
  softmax on α and β).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ran_edge.model.trunk import build_trunk

WIDTH = 64  # the released ResNet-18


def official_state(num_classes: int, seed: int, kind: str = "trained") -> dict:
    """Official-format trunk weights (``module.`` keys) and a random ``fc``; α/β come from :func:`spread_attention`.

    ``trained``: the official init (He normal convs) with BN running statistics from a pass over random images.
    ``sensitive``: the same, then every BN scale multiplied by ``exp(N(0, 0.35))`` and every BN bias shifted by
    ``N(0, 0.3)``.
    """
    torch.manual_seed(seed)
    trunk = build_trunk(WIDTH)
    trunk.train()
    with torch.no_grad():
        trunk(torch.rand(16, 3, 64, 64))  # non-trivial BN running statistics
        if kind == "sensitive":
            for m in trunk.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.mul_(torch.exp(torch.randn_like(m.weight) * 0.35))
                    m.bias.add_(torch.randn_like(m.bias) * 0.3)
        elif kind != "trained":
            raise ValueError(f"kind: got {kind!r}, expected 'trained' or 'sensitive'")
    state = {f"module.{k}": v for k, v in trunk.state_dict().items()}
    d = 8 * WIDTH
    state.update({"module.fc.weight": torch.randn(num_classes, 2 * d) * 0.5,
                  "module.fc.bias": torch.randn(num_classes) * 0.1})
    return state


def official_features(state: dict, per_region: list) -> torch.Tensor:
    """The official structure: the trunk called once per region type → ``[N, K, D]``."""
    trunk = build_trunk(WIDTH)
    trunk.load_state_dict({k[7:]: v for k, v in state.items() if k.split(".")[1] not in ("alpha", "beta", "fc")})
    trunk.eval()
    return torch.stack([trunk(r) for r in per_region], dim=1)


def spread_attention(state: dict, feats: torch.Tensor, spread: float = 2.0) -> None:
    """Random α/β Linears scaled so their pre-activations vary by ``spread`` across regions, centred on 0."""
    def linear(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = torch.randn(1, x.shape[-1])
        pre = (x @ w.T).squeeze(-1)  # [N, K]
        scale = spread / float(pre.std(1).mean())
        return w * scale, -(pre * scale).mean().reshape(1)

    state["module.alpha.0.weight"], state["module.alpha.0.bias"] = linear(feats)
    mu = torch.softmax(torch.sigmoid((feats @ state["module.alpha.0.weight"].T).squeeze(-1)
                                     + state["module.alpha.0.bias"]), 1)
    fm = (mu.unsqueeze(-1) * feats).sum(1) / mu.sum(1, keepdim=True)
    state["module.beta.0.weight"], state["module.beta.0.bias"] = linear(torch.cat([feats, fm.unsqueeze(1).expand_as(feats)], -1))


def official_head(state: dict, feats: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The released forward after the trunk (docs/model.md §2-4): sigmoid then softmax on α and β → logits, weights."""
    sd = {k[7:]: v for k, v in state.items()}
    vs = [feats[:, i] for i in range(feats.shape[1])]
    alphas = torch.softmax(torch.cat([torch.sigmoid(f @ sd["alpha.0.weight"].T + sd["alpha.0.bias"]) for f in vs], 1), 1)
    fm = sum(alphas[:, i:i + 1] * f for i, f in enumerate(vs)) / alphas.sum(1, keepdim=True)
    cats = [torch.cat([f, fm], 1) for f in vs]
    betas = torch.softmax(torch.cat([torch.sigmoid(c @ sd["beta.0.weight"].T + sd["beta.0.bias"]) for c in cats], 1), 1)
    w = alphas * betas
    p = sum(w[:, i:i + 1] * c for i, c in enumerate(cats)) / w.sum(1, keepdim=True)
    logits = p @ sd["fc.weight"].T + sd["fc.bias"]
    return logits.numpy(), (w / w.sum(1, keepdim=True)).numpy()


def official_regions(face_rgb: np.ndarray, preset, resample: int = Image.BICUBIC) -> list:
    """``part_attentioon_sample_fly.py``: ``height = img.size[0]``, ``width = img.size[1]`` (sic), ``int()`` boxes,
    ``img.crop(box)``, then ``CaffeCrop('test')`` = ``img.resize((224, 224))`` (Pillow's default filter: BICUBIC
    since Pillow 7, NEAREST before), ``ToTensor``; the full face is not cropped."""
    out = []
    for k, b in enumerate(preset.boxes):
        img = Image.fromarray(face_rgb)
        height, width = img.size[0], img.size[1]
        if k != preset.full_face_index:
            img = img.crop((int(b.x0 * width), int(b.y0 * height), int(b.x1 * width), int(b.y1 * height)))
        img = img.resize((224, 224), resample)
        out.append(torch.from_numpy(np.asarray(img).astype(np.float32) / 255.0).permute(2, 0, 1))
    return out


def centre_classes(state: dict, logits: np.ndarray) -> None:
    """Shift ``fc.bias`` so each class's logit averages 0 over the faces: the logits then vary only with the face
    (as a trained classifier's), which makes the model as sensitive to the crops as a model can be made by its head."""
    state["module.fc.bias"] = state["module.fc.bias"] - torch.from_numpy(logits.mean(0))
