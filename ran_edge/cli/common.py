"""Small argument helpers shared by subcommands (no heavy imports)."""

from __future__ import annotations

import argparse
from ran_edge.artifact import write_json_atomic  # noqa: F401  (re-exported for subcommands)
from ran_edge.errors import RanEdgeError


def add_trust_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow checkpoints that need arbitrary unpickling (only for files you trust)")


def add_crop_flags(p: argparse.ArgumentParser, default: str) -> None:
    """``--crop`` (region crop convention, stored in the checkpoint and every sidecar) and ``--pil-filter``."""
    p.add_argument("--crop", choices=["exact", "official"], default=default,
                   help=f"region crop convention (default {default}): 'official' = whole-pixel int() boxes + "
                        "Pillow's resize as the official loader; 'exact' = fractional boxes, bilinear")
    p.add_argument("--pil-filter", default="bicubic",
                   choices=["bicubic", "nearest", "bilinear", "box", "hamming", "lanczos"],
                   help="Pillow resize filter of --crop official: bicubic (Pillow >= 7, default) or nearest (2019)")


def parse_class_names(text: str) -> tuple[str, ...]:
    """A class-set name (rafdb, ferplus, affectnet8, affectnet7, synthetic) or a comma list."""
    from ran_edge.data.classes import CLASS_SETS

    if text in CLASS_SETS:
        return CLASS_SETS[text]
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if len(names) < 2:
        raise RanEdgeError(f"--classes: got '{text}', expected one of {sorted(CLASS_SETS)} or a comma-separated list of >= 2 names")
    return names
