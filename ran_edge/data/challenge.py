"""The official RAN challenge subsets (docs/model.md §9): parse the list files, match them to a local dataset.

The lists come from the authors' repository (``kaiwang960112/Challenge-condition-FER-dataset``); pass its
checkout (or a folder holding the files) as ``--lists``. Formats, one entry per line:

=================  ======================================================  ==========================
list               line                                                     label
=================  ======================================================  ==========================
Occlusion-RAF-DB   ``test_2464_aligned 6 2`` (name, label, occlusion type)   2nd token (0-based)
Pose-RAF-DB        ``0/test_0004_aligned.jpg`` + label file (header         folder prefix; label file
                   ``"1247 7"``, then one label per line)                   must agree
Occlusion-FERPlus  ``1_fer0034656.png 8 0`` (``<label>_<fer>``, ?, type)     prefix
Pose-FERPlus       ``3/fer0035557.jpg``                                     prefix
val_ferplus_mn     ``1_fer0033615.txt 1_fer0033615_label.txt 4``            prefix
AffectNet          ``val/5/<hash>/`` or ``5/<hash>/8.jpg``                   folder
=================  ======================================================  ==========================

Known duplicates (test_2464 in Occlusion-RAF-DB, several in Pose-AffectNet, one in val_ferplus_mn) are
dropped, keeping the first occurrence; every dropped line is reported with its reason. A malformed line is
a :class:`DataError` naming the file and line, never silently skipped.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ran_edge.errors import DataError, RanEdgeError


class ChallengeSource(str, enum.Enum):
    """Which dataset a list belongs to (decides the line format and the label range)."""

    RAFDB = "rafdb"
    FERPLUS = "ferplus"
    AFFECTNET = "affectnet"


NUM_CLASSES = {ChallengeSource.RAFDB: 7, ChallengeSource.FERPLUS: 8, ChallengeSource.AFFECTNET: 8}

#: (dataset, suite) → (list file, label file or None), relative to the authors' repository root.
OFFICIAL_LISTS: Mapping[tuple[ChallengeSource, str], tuple[str, str | None]] = {
    (ChallengeSource.RAFDB, "occlusion"): ("RAF_DB_dir/rafdb_occlusion_list.txt", None),
    (ChallengeSource.RAFDB, "pose30"): ("RAF_DB_dir/val_raf_db_list.txt", "RAF_DB_dir/val_raf_db_label.txt"),
    (ChallengeSource.RAFDB, "pose45"): ("RAF_DB_dir/val_raf_db_list_45.txt", "RAF_DB_dir/val_raf_db_label_45.txt"),
    (ChallengeSource.FERPLUS, "occlusion"): ("FERplus_dir/jianfei_occlusion_list.txt", None),
    (ChallengeSource.FERPLUS, "pose30"): ("FERplus_dir/pose_30_ferplus_list.txt", None),
    (ChallengeSource.FERPLUS, "pose45"): ("FERplus_dir/pose_45_ferplus_list.txt", None),
    (ChallengeSource.AFFECTNET, "occlusion"): ("AffectNet_dir/occlusion_affectnet_list.txt", None),
    (ChallengeSource.AFFECTNET, "pose30"): ("AffectNet_dir/pose_30_affectnet_list.txt", None),
    (ChallengeSource.AFFECTNET, "pose45"): ("AffectNet_dir/pose_45_affectnet_list.txt", None),
}

_RAF = re.compile(r"^(?:(?P<dir>\d+)/)?(?P<key>test_\d+)(?:_aligned)?(?:\.\w+)?(?:\s+(?P<label>-?\d+))?(?:\s+(?P<occ>\d+))?\s*$")
_FER = re.compile(r"^(?P<label>\d+)[/_](?P<key>fer\d+)(?:\.\w+)?(?P<rest>(?:\s+\S+)*)\s*$")
_AFF = re.compile(r"^(?:val/)?(?P<label>\d+)/(?P<key>[0-9A-Fa-f]{16,})(?:\.\w+)?(?:/\S*)?\s*$")
_HEADER = re.compile(r"^\s*(\d+)\s+(\d+)\s*$")


@dataclass(frozen=True)
class ListEntry:
    """One kept entry: the face's key (``test_0004``, ``fer0035557``, AffectNet hash), 0-based label, line."""

    key: str
    label: int
    line: int
    occlusion_type: int | None = None


@dataclass(frozen=True)
class DroppedEntry:
    """A line that was not kept, and why."""

    line: int
    key: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "key": self.key, "reason": self.reason}


@dataclass(frozen=True)
class ChallengeList:
    """A parsed list: kept entries, dropped lines, and the count its header declares (if any)."""

    path: Path
    source: ChallengeSource
    entries: tuple[ListEntry, ...]
    dropped: tuple[DroppedEntry, ...] = ()
    lines: int = 0
    declared: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "source": self.source.value, "lines": self.lines, "kept": len(self.entries),
                "declared": self.declared, "dropped": [d.to_dict() for d in self.dropped], "notes": list(self.notes)}


def _read_lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise DataError(f"challenge list not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable challenge list ({exc})") from exc
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def read_label_file(path: Path) -> tuple[list[int], int | None]:
    """A Pose-RAF-DB label file: optional header ``"<count> <classes>"``, then one integer per line."""
    lines = _read_lines(path)
    declared = None
    if lines and _HEADER.match(lines[0][1]):
        declared = int(_HEADER.match(lines[0][1]).group(1))
        lines = lines[1:]
    labels = []
    for no, text in lines:
        if not re.fullmatch(r"-?\d+", text):
            raise DataError(f"{path}:{no}: malformed label {text!r}; expected one integer per line")
        labels.append(int(text))
    if declared is not None and declared != len(labels):
        raise DataError(f"{path}: header declares {declared} labels but the file has {len(labels)}")
    return labels, declared


def _parse_line(source: ChallengeSource, path: Path, no: int, text: str) -> tuple[str, int | None, int | None]:
    """(key, label or None, occlusion type or None) of one line, or DataError."""
    if source is ChallengeSource.RAFDB:
        m = _RAF.match(text)
        if not m:
            raise DataError(f"{path}:{no}: malformed RAF-DB list line {text!r}; expected 'test_NNNN_aligned <label> <type>' "
                            "or '<label>/test_NNNN_aligned.jpg'")
        label = m.group("label") if m.group("label") is not None else m.group("dir")
        occ = int(m.group("occ")) if m.group("occ") is not None else None
        return m.group("key"), (int(label) if label is not None else None), occ
    if source is ChallengeSource.FERPLUS:
        m = _FER.match(text)
        if not m:
            raise DataError(f"{path}:{no}: malformed FERPlus list line {text!r}; expected '<label>_ferNNNNNNN.png ...' "
                            "or '<label>/ferNNNNNNN.jpg'")
        rest = m.group("rest").split()
        occ = int(rest[1]) if len(rest) == 2 and rest[0] == "8" and rest[1].isdigit() else None
        return m.group("key"), int(m.group("label")), occ
    m = _AFF.match(text)
    if not m:
        raise DataError(f"{path}:{no}: malformed AffectNet list line {text!r}; expected 'val/<label>/<hash>/'")
    return m.group("key").lower(), int(m.group("label")), None


def parse_challenge_list(path: str | Path, source: ChallengeSource | str, label_file: str | Path | None = None) -> ChallengeList:
    """Parse one official list (and its label file, for Pose-RAF-DB).

    Raises:
        DataError: missing file, malformed line, label out of range, list/label-file disagreement.
    """
    path, source = Path(path), ChallengeSource(source)
    lines = _read_lines(path)
    labels_from_file, declared = (read_label_file(Path(label_file)) if label_file else (None, None))
    if labels_from_file is not None and len(labels_from_file) != len(lines):
        raise DataError(f"{path}: {len(lines)} entries but its label file {label_file} has {len(labels_from_file)} labels")
    n_classes = NUM_CLASSES[source]
    kept: list[ListEntry] = []
    dropped: list[DroppedEntry] = []
    first: dict[str, ListEntry] = {}
    for i, (no, text) in enumerate(lines):
        key, label, occ = _parse_line(source, path, no, text)
        if labels_from_file is not None:
            if label is not None and label != labels_from_file[i]:
                raise DataError(f"{path}:{no}: folder label {label} disagrees with label {labels_from_file[i]} "
                                f"in {label_file} (entry {i + 1})")
            label = labels_from_file[i]
        if label is None:
            raise DataError(f"{path}:{no}: no label in {text!r} and no label file given")
        if not 0 <= label < n_classes:
            raise DataError(f"{path}:{no}: label {label} out of range; expected 0..{n_classes - 1} for {source.value}")
        if key in first:
            prev = first[key]
            why = f"duplicate of line {prev.line}" + ("" if prev.label == label else f" with a different label ({prev.label} vs {label})")
            dropped.append(DroppedEntry(no, key, why))
            continue
        entry = ListEntry(key, label, no, occ)
        first[key] = entry
        kept.append(entry)
    notes = []
    if declared is not None and declared != len(kept):
        notes.append(f"header declares {declared} entries, {len(kept)} unique kept")
    return ChallengeList(path, source, tuple(kept), tuple(dropped), len(lines), declared, tuple(notes))


def find_official_list(lists_dir: str | Path, source: ChallengeSource | str, suite: str) -> tuple[Path, Path | None]:
    """Locate a suite's list (and label file) under ``lists_dir``: at its repository path or directly inside."""
    source = ChallengeSource(source)
    if (source, suite) not in OFFICIAL_LISTS:
        raise RanEdgeError(f"no official {suite} list for {source.value}; expected one of occlusion, pose30, pose45")
    rel_list, rel_label = OFFICIAL_LISTS[(source, suite)]
    root = Path(lists_dir)

    def locate(rel: str) -> Path:
        for cand in (root / rel, root / Path(rel).name):
            if cand.is_file():
                return cand
        raise DataError(f"challenge list {Path(rel).name} not found under {root} (looked for {rel}); "
                        "pass the authors' Challenge-condition-FER-dataset folder as --lists")

    return locate(rel_list), (locate(rel_label) if rel_label else None)


_SAMPLE_KEY = {
    ChallengeSource.RAFDB: re.compile(r"(test_\d+)"),
    ChallengeSource.FERPLUS: re.compile(r"(fer\d+)"),
    ChallengeSource.AFFECTNET: re.compile(r"([0-9A-Fa-f]{16,})(?:\.\w+)?$"),
}


def sample_key(source: ChallengeSource | str, meta: Mapping[str, Any]) -> str | None:
    """The list key of a local sample from its ``meta`` (``name`` or ``path``), or None."""
    source = ChallengeSource(source)
    for field_name in ("name", "path"):
        text = str(meta.get(field_name, ""))
        m = _SAMPLE_KEY[source].search(Path(text).name if source is ChallengeSource.AFFECTNET else text)
        if m:
            return m.group(1).lower() if source is ChallengeSource.AFFECTNET else m.group(1)
    return None


def sample_metas(ds: Any) -> Sequence[Mapping[str, Any]]:
    """Per-sample meta without decoding images where the dataset allows it."""
    if hasattr(ds, "entries"):
        return [dict(m, path=str(p)) for p, _, m in ds.entries]
    if hasattr(ds, "metas"):
        return list(ds.metas)
    if hasattr(ds, "samples"):
        return [s.meta for s in ds.samples]
    return [ds[i].meta for i in range(len(ds))]
