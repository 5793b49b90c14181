"""RAN checkpoints: one ``.pt`` with the state_dict and everything needed to use the model.

Format (a plain dict, loadable with ``torch.load(weights_only=True)``)::

    {"format": "ran-edge-checkpoint", "schema_version": 1,
     "config": RanConfig.to_dict(),          # classes, preset, attention mode, preprocessing, trunk width
     "state_dict": {...},
     "meta": {"ran_edge_version", "training": {...args...}, "metrics": {...}, ...},
     "training_state": {...}                 # optional: optimizer, epoch, RNG (for --resume)
    }

Also imports the official RAN checkpoints (docs/model.md §8).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Mapping

import torch

from ran_edge import __version__
from ran_edge.errors import CheckpointError
from ran_edge.model.ran import RAN, AttentionMode, RanConfig
from ran_edge.crop import CropConvention, PilFilter
from ran_edge.preprocess import ColorOrder, PreprocessSpec
from ran_edge.presets import RegionPreset

FORMAT = "ran-edge-checkpoint"
SCHEMA_VERSION = 1


def save_checkpoint(
    path: str | Path,
    model: RAN,
    meta: Mapping[str, Any] | None = None,
    training_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (a one-file :class:`~ran_edge.outputs.ResultSet`). Returns the path."""
    path = Path(path)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": {"ran_edge_version": __version__, **dict(meta or {})},
    }
    if training_state is not None:
        payload["training_state"] = dict(training_state)
    from ran_edge.outputs import ResultSet

    with ResultSet([path]) as rs:
        torch.save(payload, rs.path(path))
        rs.commit()
    return path


def read_checkpoint_file(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """``torch.load`` with safe defaults and one-line errors.

    Only ``weights_only=True`` loading is used unless ``trust`` is set; a file that needs arbitrary
    unpickling is refused with an explanation (arbitrary unpickling can run code).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    _check_magic(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as exc:
        if trust:
            raise CheckpointError(f"{path}: not a readable checkpoint ({_first_line(exc)})") from exc
        raise CheckpointError(
            f"{path}: refused, the file needs arbitrary unpickling, which can run code "
            f"({_first_line(exc)}); if you trust its source, pass --trust-checkpoint"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError, KeyError) as exc:
        raise CheckpointError(f"{path}: truncated or not a PyTorch checkpoint ({_first_line(exc)})") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(obj).__name__}")
    return obj


def _check_magic(path: Path) -> None:
    """Refuse files that are not a PyTorch checkpoint at all (zip archive or pickle), before unpickling."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({exc.strerror})") from exc
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return  # torch.save zip archive, or a legacy pickle (protocol 2+)
    what = "empty file" if not head else "an ONNX model?" if head[:1] == b"\x08" else "unknown content"
    raise CheckpointError(f"{path}: not a PyTorch checkpoint ({what}); expected a .pt file from 'ran-edge train' "
                          f"or 'ran-edge import-checkpoint'")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


#: the checkpoint fields whose values must be mappings, and the config fields that must be mappings too
_MAPPINGS = ("config", "state_dict")
_CONFIG_MAPPINGS = ("preset", "preprocess")


def _check_payload_types(path: str | Path, obj: dict[str, Any]) -> None:
    """The payload's fields have the types the loader reads (a hand-edited file gets one line, never a traceback)."""
    def bad(field: str, value: Any, expected: str) -> CheckpointError:
        return CheckpointError(f"{path}: corrupt ran-edge checkpoint ({field}: got {type(value).__name__} "
                               f"{str(value)[:40]!r}, expected {expected})")

    version = obj.get("schema_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise bad("schema_version", version, "an integer")
    for key in _MAPPINGS:
        if not isinstance(obj.get(key), dict):
            raise bad(key, obj.get(key), "a mapping")
    if obj.get("meta") is not None and not isinstance(obj["meta"], dict):
        raise bad("meta", obj["meta"], "a mapping")
    for key in _CONFIG_MAPPINGS:
        if key in obj["config"] and not isinstance(obj["config"][key], dict):
            raise bad(f"config.{key}", obj["config"][key], "a mapping")
    names = obj["config"].get("class_names")
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise bad("config.class_names", names, "a list of names")


def load_checkpoint(path: str | Path, trust: bool = False) -> tuple[RAN, dict[str, Any]]:
    """Load a ran-edge checkpoint → ``(model in eval mode, payload)``."""
    obj = read_checkpoint_file(path, trust)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        official = isinstance(obj, dict) and "state_dict" in obj
        hint = " (an official RAN checkpoint? use 'ran-edge import-checkpoint')" if official else ""
        raise CheckpointError(f"{path}: not a ran-edge checkpoint{hint}")
    _check_payload_types(path, obj)
    if int(obj.get("schema_version", 0)) > SCHEMA_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint schema {obj['schema_version']} is newer than this ran-edge supports ({SCHEMA_VERSION}); upgrade ran-edge"
        )
    try:
        model = RAN(RanConfig.from_dict(obj["config"]))
        model.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: corrupt ran-edge checkpoint ({_first_line(exc)})") from exc
    model.eval()
    from ran_edge.artifact import training_data_of

    model.training_data = training_data_of(obj.get("meta") or {})  # what the exports record in their sidecars
    return model, obj


# -- official RAN checkpoints (docs/model.md §8) ---------------------------------------------------

def official_preprocess(face_size: int = 224, crop: CropConvention | str = CropConvention.OFFICIAL_UINT8,
                        pil_filter: PilFilter | str = PilFilter.BICUBIC) -> PreprocessSpec:
    """The official pipeline: RGB, ToTensor scaling to [0,1], no mean/std, every region at 224.

    ``crop``: ``official-uint8`` (default) cuts regions as the official loader does, bit for bit (whole-pixel
    ``int()`` boxes, ``Image.resize`` with ``pil_filter`` and Pillow's uint8 arithmetic, see :mod:`ran_edge.crop`);
    ``official`` the same weights in float (cheaper, not bit-exact); ``exact`` keeps ran-edge's bilinear crops.
    """
    return PreprocessSpec(face_size=face_size, region_size=224, color_order=ColorOrder.RGB,
                          scale=1.0 / 255.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
                          crop=CropConvention(crop), pil_filter=PilFilter(pil_filter))


def _strip_module(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()
            if isinstance(v, torch.Tensor)}


def _state_dict_of(obj: Mapping[str, Any], path: Path) -> dict[str, torch.Tensor]:
    state = obj.get("state_dict", obj)
    if not isinstance(state, Mapping) or not any(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: no state_dict of tensors found")
    return _strip_module(state)


def load_trunk_weights(model: RAN, path: str | Path, trust: bool = False) -> list[str]:
    """Load a pretrained trunk (e.g. the official ``ijba_res18_naive.pth.tar``, MS-Celeb-1M).

    Copies every ResNet key (``module.`` stripped) into the trunk, skipping ``fc.*`` and
    ``feature.*``. Unlike the official ``strict=False`` load, a missing trunk key or a shape
    mismatch is an error, so a wrong file never fails silently. Returns the skipped keys.
    """
    path = Path(path)
    state = _state_dict_of(read_checkpoint_file(path, trust), path)
    trunk_state = model.trunk.state_dict()
    picked: dict[str, torch.Tensor] = {}
    skipped = []
    for key, value in state.items():
        if key in trunk_state:
            if tuple(value.shape) != tuple(trunk_state[key].shape):
                raise CheckpointError(
                    f"{path}: trunk weight '{key}' has shape {tuple(value.shape)}, expected {tuple(trunk_state[key].shape)}"
                )
            picked[key] = value
        else:
            skipped.append(key)
    missing = [k for k in trunk_state if k not in picked and not k.endswith("num_batches_tracked")]
    if missing:
        raise CheckpointError(f"{path}: not a ResNet-18 trunk for this model; missing {len(missing)} keys, e.g. '{missing[0]}'")
    model.trunk.load_state_dict(picked, strict=False)
    return skipped


def import_official(
    path: str | Path,
    preset: RegionPreset,
    class_names: tuple[str, ...],
    trust: bool = False,
    face_size: int = 224,
    crop: CropConvention | str = CropConvention.OFFICIAL_UINT8,
    pil_filter: PilFilter | str = PilFilter.BICUBIC,
) -> RAN:
    """Convert an official RAN checkpoint (``module.`` keys, ``alpha.0``/``beta.0``/``fc``) into a RAN.

    The model uses the ``official`` attention mode (``self-only`` for the official self-attention-only
    variant, ``FERplus_dir/part_attention.py``, recognised by its 512-input ``fc``) and the official
    preprocessing including, by default, the ``official-uint8`` crop convention (whole-pixel boxes + Pillow's
    resize with Pillow's uint8 arithmetic), so the exported graph computes what the official code computes from
    the same face (tests/model/test_official_parity.py).
    """
    path = Path(path)
    state = _state_dict_of(read_checkpoint_file(path, trust), path)
    if "fc.weight" not in state or "alpha.0.weight" not in state or "beta.0.weight" not in state:
        raise CheckpointError(f"{path}: not an official RAN checkpoint (expected alpha.0.*, beta.0.*, fc.* keys)")
    num_classes, fused_dim = state["fc.weight"].shape
    self_only = _is_self_attention_only(state, int(fused_dim))
    width = int(fused_dim) // (8 if self_only else 16)
    if len(class_names) != num_classes:
        raise CheckpointError(
            f"{path}: the checkpoint has {num_classes} classes, but {len(class_names)} class names were given ({', '.join(class_names)})"
        )
    attention = AttentionMode.SELF_ONLY if self_only else AttentionMode.OFFICIAL
    cfg = RanConfig(class_names=tuple(class_names), preset=preset, attention=attention,
                    preprocess=official_preprocess(face_size, crop, pil_filter), trunk_width=width)
    model = RAN(cfg)
    ours = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        target = key if key.split(".")[0] in ("alpha", "beta", "fc") else f"trunk.{key}"
        if target in ours:
            if tuple(value.shape) != tuple(ours[target].shape):
                raise CheckpointError(f"{path}: '{key}' has shape {tuple(value.shape)}, expected {tuple(ours[target].shape)}")
            mapped[target] = value
    missing = [k for k in ours if k not in mapped and not k.endswith("num_batches_tracked")]
    if missing:
        raise CheckpointError(f"{path}: official checkpoint is missing {len(missing)} keys, e.g. '{missing[0]}'")
    model.load_state_dict(mapped, strict=False)
    model.eval()
    return model


def _is_self_attention_only(state: Mapping[str, torch.Tensor], fused_dim: int) -> bool:
    """The official self-attention-only variant (``FERplus_dir/part_attention.py``) has ``fc`` on F_m alone:
    its input is the trunk's feature dimension (8 x the stem width, 512), not twice that."""
    conv1 = state.get("conv1.weight")
    return conv1 is not None and conv1.ndim == 4 and fused_dim == 8 * int(conv1.shape[0])
