"""Small argument helpers shared by subcommands (no heavy imports)."""

from __future__ import annotations

import argparse
import copy
import enum
from typing import Any

from ran_edge.artifact import write_json_atomic  # noqa: F401  (re-exported for subcommands)
from ran_edge.errors import RanEdgeError


def render_default(value: Any) -> str:
    """How an option's default reads in ``--help``: ``(4, 8, 16)`` as ``4,8,16``, an enum by its value."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)):
        return ",".join(render_default(v) for v in value)
    return str(value)


def shows_default(action: argparse.Action) -> bool:
    """Whether ``--help`` must show ``action``'s default: any default but None, False and suppressed ones."""
    if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
        return False
    default = action.default
    return default is not None and default is not False and default != argparse.SUPPRESS and action.help != argparse.SUPPRESS


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """``--help`` shows every option's default: ``(default: X)`` is appended unless the help already names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not shows_default(action):
            return text
        value = render_default(action.default).replace("%", "%%")
        if "default" in text.lower() and value in text:
            return text
        return f"{text} (default: {value})".strip()

    def _format_action(self, action: argparse.Action) -> str:
        if not action.help and shows_default(action):  # argparse prints no help column for help=None
            action = copy.copy(action)
            action.help = f"(default: {render_default(action.default).replace('%', '%%')})"
        return super()._format_action(action)


def add_trust_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow checkpoints that need arbitrary unpickling (only for files you trust)")


def add_crop_flags(p: argparse.ArgumentParser, default: str) -> None:
    """``--crop`` (region crop convention, stored in the checkpoint and every sidecar) and ``--pil-filter``."""
    p.add_argument("--crop", choices=["exact", "official", "official-uint8"], default=default,
                   help=f"region crop convention (default {default}): 'official-uint8' = whole-pixel int() boxes + "
                        "Pillow's resize with Pillow's uint8 arithmetic, bit-exact with the official loader; "
                        "'official' = the same weights in float (cheaper, crops within ~1 grey level); "
                        "'exact' = fractional boxes, bilinear (ran-edge's training convention)")
    p.add_argument("--pil-filter", default="bicubic",
                   choices=["bicubic", "nearest", "bilinear", "box", "hamming", "lanczos"],
                   help="Pillow resize filter of the official crops: bicubic (Pillow >= 7, default) or nearest (2019)")


def parse_class_names(text: str) -> tuple[str, ...]:
    """A class-set name (rafdb, ferplus, affectnet8, affectnet7, synthetic) or a comma list."""
    from ran_edge.data.classes import CLASS_SETS

    if text in CLASS_SETS:
        return CLASS_SETS[text]
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if len(names) < 2:
        raise RanEdgeError(f"--classes: got '{text}', expected one of {sorted(CLASS_SETS)} or a comma-separated list of >= 2 names")
    return names
