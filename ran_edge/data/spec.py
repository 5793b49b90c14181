"""The ``--data SPEC`` string: parse it, open a split, name its classes.

Grammar (options are ``key=value`` pairs separated by commas)::

    synthetic                                   synthetic faces, default sizes
    synthetic:n_train=3500,n_val=700,n_test=1400,size=64,seed=0
    rafdb:/path/to/basic                        RAF-DB basic (EmoLabel/ + Image/aligned/)
    ferplus:/dir[,votes=1]                      fer2013.csv + fer2013new.csv
    affectnet:/dir[,classes=7][,crop=0]         training.csv / validation.csv + images
    imagefolder:/dir                            root/<split>/<class>/*.jpg|png
    /an/existing/dir                            same as imagefolder:/an/existing/dir

A known kind always wins over a directory of the same name (``synthetic`` is the synthetic set even
if ``./synthetic`` exists). Option values are validated when the spec is parsed, so a bad spec
fails before any file is read. Splits are :class:`Split`; the test split is never used for
validation: each reader carves its val split from train (or uses the dataset's own val split).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

from ran_edge.bounds import SYNTHETIC, check_synthetic_spec
from ran_edge.data.classes import (
    AFFECTNET7_CLASSES,
    AFFECTNET8_CLASSES,
    FERPLUS_CLASSES,
    RAFDB_CLASSES,
)
from ran_edge.data.dataset import FaceDataset
from ran_edge.data.splits import Split, as_split, check_val_fraction, suggestion
from ran_edge.errors import DataError, RanEdgeError


#: Defaults of the synthetic set (also the values used when an option is not given).
SYNTHETIC_DEFAULTS: Mapping[str, int] = MappingProxyType(
    {"n_train": 3500, "n_val": 700, "n_test": 1400, "size": 64}
)


def _bounded_int(key: str, value: str) -> None:
    """An integer within the bounds of ``ran_edge.bounds.SYNTHETIC`` (docs/bounds.md)."""
    try:
        check_synthetic_spec("--data", f"synthetic:{key}={value}")
    except ValueError as exc:
        raise RanEdgeError(str(exc).split(": ", 1)[1]) from None


def _choice(*allowed: str) -> Callable[[str, str], None]:
    def check(key: str, value: str) -> None:
        if value not in allowed:
            raise RanEdgeError(f"data option {key}={value!r} is invalid; expected one of {', '.join(allowed)}")

    return check


#: Allowed options per kind, each with its value check.
_OPTIONS: Mapping[str, Mapping[str, Callable[[str, str], None]]] = {
    "synthetic": {key: _bounded_int for key in SYNTHETIC},
    "rafdb": {},
    "ferplus": {"votes": _choice("0", "1")},
    "affectnet": {"classes": _choice("7", "8"), "crop": _choice("0", "1")},
    "imagefolder": {},
}
KINDS: tuple[str, ...] = tuple(_OPTIONS)


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` value: dataset ``kind``, its ``root`` folder (None for synthetic), options."""

    kind: str
    root: Path | None
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __str__(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in self.options.items())
        head = self.kind if self.root is None else f"{self.kind}:{self.root}"
        sep = ":" if self.root is None else ","
        return f"{head}{sep}{opts}" if opts else head


def _parse_options(kind: str, pieces: Sequence[str]) -> Mapping[str, str]:
    allowed = _OPTIONS[kind]
    options: dict[str, str] = {}
    for piece in pieces:
        key, eq, value = piece.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise RanEdgeError(f"data option {piece!r} for {kind} is malformed; expected key=value")
        if key not in allowed:
            known = ", ".join(allowed) if allowed else "none"
            raise RanEdgeError(
                f"unknown data option {key!r} for {kind}{suggestion(key, list(allowed))}; known options: {known}"
            )
        if key in options:
            raise RanEdgeError(f"data option {key!r} is given twice in the {kind} spec")
        allowed[key](key, value)
        options[key] = value
    return MappingProxyType(options)


def _split_path_and_options(rest: str) -> tuple[str, list[str]]:
    """``/a,b/dir,votes=1`` -> (``/a,b/dir``, [``votes=1``]): options are the trailing key=value parts."""
    parts = rest.split(",")
    n_opts = 0
    for part in reversed(parts[1:]):
        if not re.match(r"^\s*\w+\s*=", part):
            break
        n_opts += 1
    cut = len(parts) - n_opts
    return ",".join(parts[:cut]), parts[cut:]


def _existing_root(kind: str, text: str) -> Path:
    if not text.strip():
        raise RanEdgeError(f"the {kind} data spec has no path; expected {kind}:/path/to/dataset")
    root = Path(text.strip()).expanduser()
    if not root.exists():
        raise DataError(f"data path not found: {root} (from the {kind} data spec)")
    if not root.is_dir():
        raise DataError(f"data path is not a directory: {root}; expected the {kind} dataset folder")
    return root


def parse_data_spec(text: str) -> DataSpec:
    """Parse a ``--data`` value (see the module docstring for the grammar).

    Raises:
        RanEdgeError: unknown kind (with a close-match suggestion), unknown or invalid option.
        DataError: the dataset path does not exist or is not a directory.
    """
    text = text.strip()
    if not text:
        raise RanEdgeError(f"empty data spec; expected one of {', '.join(KINDS)} or a directory path")
    head, colon, rest = text.partition(":")
    if head in KINDS:
        if head == "synthetic":
            pieces = [p for p in rest.split(",") if p.strip()] if colon else []
            return DataSpec("synthetic", None, _parse_options("synthetic", pieces))
        path_text, pieces = _split_path_and_options(rest)
        return DataSpec(head, _existing_root(head, path_text), _parse_options(head, pieces))
    path = Path(text).expanduser()
    if path.is_dir():
        return DataSpec("imagefolder", path, MappingProxyType({}))
    if path.exists():
        raise DataError(f"data path is not a directory: {path}; expected a dataset folder or KIND:PATH")
    if colon and re.fullmatch(r"[A-Za-z_][\w-]*", head) and len(head) > 1:
        raise RanEdgeError(f"unknown data kind {head!r}{suggestion(head, KINDS)}; expected one of {', '.join(KINDS)}")
    close = suggestion(text, KINDS) if re.fullmatch(r"[A-Za-z_][\w-]*", text) else ""
    if close:
        raise RanEdgeError(f"unknown data spec {text!r}{close}; expected one of {', '.join(KINDS)} or a directory")
    raise DataError(f"data path not found: {path}")


def _as_spec(spec: str | DataSpec) -> DataSpec:
    return spec if isinstance(spec, DataSpec) else parse_data_spec(spec)


def _root_of(spec: DataSpec) -> Path:
    if spec.root is None:
        raise RanEdgeError(f"the {spec.kind} data spec has no path; expected {spec.kind}:/path/to/dataset")
    return Path(spec.root)


def _open_synthetic(spec: DataSpec, split: Split, seed: int, suite: str) -> FaceDataset:
    from ran_edge.data.synthetic.faces import SyntheticSuite, make_split

    try:
        suite_value = SyntheticSuite(suite)
    except ValueError:
        names = [s.value for s in SyntheticSuite]
        raise RanEdgeError(f"unknown synthetic suite {suite!r}{suggestion(suite, names)}; expected one of {', '.join(names)}") from None
    sizes = {k: int(spec.options.get(k, v)) for k, v in SYNTHETIC_DEFAULTS.items()}
    n = sizes[f"n_{split.value}"]
    seed = int(spec.options.get("seed", seed))
    return make_split(split, n, suite=suite_value, seed=seed, size=sizes["size"])


def open_dataset(
    spec: str | DataSpec,
    split: Split | str,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    suite: str = "clean",
) -> FaceDataset:
    """Open one split of a dataset.

    Args:
        spec: a ``--data`` string or a parsed :class:`DataSpec`.
        split: train, val or test. Val is carved from train (stratified, by ``seed``) where the
            dataset has no val split of its own; it is never the test split.
        seed: seed of the val carve-out; for synthetic data the seed of generation (a ``seed=``
            option in the spec takes precedence).
        val_fraction: fraction of train carved out as val (RAF-DB, AffectNet, ImageFolder without val/).
        suite: synthetic robustness suite; only ``"clean"`` is valid for real datasets.

    Raises:
        RanEdgeError / DataError: bad spec, bad split, missing or malformed dataset files.
    """
    spec = _as_spec(spec)
    split = as_split(split)
    if spec.kind == "synthetic":
        return _open_synthetic(spec, split, seed, suite)
    if suite != "clean":
        raise RanEdgeError(f"suite {suite!r} is only available for synthetic data; {spec.kind} data has only 'clean'")
    check_val_fraction(val_fraction)
    root = _root_of(spec)
    if spec.kind == "rafdb":
        from ran_edge.data.readers.rafdb import rafdb_dataset

        return rafdb_dataset(root, split, seed=seed, val_fraction=val_fraction)
    if spec.kind == "ferplus":
        from ran_edge.data.readers.ferplus import ferplus_dataset

        return ferplus_dataset(root, split, votes=spec.options.get("votes", "0") == "1")
    if spec.kind == "affectnet":
        from ran_edge.data.readers.affectnet import affectnet_dataset

        return affectnet_dataset(
            root, split, n_classes=int(spec.options.get("classes", "8")),
            crop=spec.options.get("crop", "1") == "1", seed=seed, val_fraction=val_fraction,
        )
    if spec.kind == "imagefolder":
        from ran_edge.data.readers.imagefolder import imagefolder_dataset

        return imagefolder_dataset(root, split, seed=seed, val_fraction=val_fraction)
    raise RanEdgeError(f"unknown data kind {spec.kind!r}; expected one of {', '.join(KINDS)}")


def class_names_for(spec: str | DataSpec) -> tuple[str, ...]:
    """Class names of a dataset, in label-id order, without reading its images.

    ImageFolder names are the sorted sub-folders of ``root/train``; the others are fixed lists.
    """
    spec = _as_spec(spec)
    if spec.kind in ("synthetic", "rafdb"):
        return RAFDB_CLASSES
    if spec.kind == "ferplus":
        return FERPLUS_CLASSES
    if spec.kind == "affectnet":
        return AFFECTNET7_CLASSES if spec.options.get("classes", "8") == "7" else AFFECTNET8_CLASSES
    if spec.kind == "imagefolder":
        from ran_edge.data.readers.imagefolder import imagefolder_classes

        return imagefolder_classes(_root_of(spec))
    raise RanEdgeError(f"unknown data kind {spec.kind!r}; expected one of {', '.join(KINDS)}")
