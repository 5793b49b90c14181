"""The on-disk build cache: entries keyed by sha256, built once under a file lock, verified at every use.

Layout under the cache folder (:mod:`ran_edge.cache.location`)::

    v1/<digest>/            one entry: the artifact, its sidecar, any side files, and entry.json
    v1/<digest>/entry.json  the key's fields, the source, and the sha256 and size of every file
    locks/<digest>.lock     held while the entry is built (or removed)
    staging/<digest>-*/     an entry being built; renamed to v1/<digest> when complete

An entry appears by one directory rename, so a reader sees a whole entry or none. Every use re-hashes the
entry's files against ``entry.json`` and compares the stored key with the one asked for: a truncated, edited
or foreign entry is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ran_edge import __version__
from ran_edge.cache.location import CacheLocation, locate, os_reason, unwritable_error, writable
from ran_edge.errors import RanEdgeError

Log = Callable[[str], None]

LAYOUT = "v1"
MANIFEST = "entry.json"
#: seconds to wait for another process's build before saying so (the wait itself has no limit)
WAIT_NOTE_S = 1.0


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """What an entry was built from and how: its ``kind`` (``onnx``, ``fp16``, ``int8``, ``torchscript``,
    ``engine``), the sha256 of its source file, the options of the step (for engines also the TensorRT version,
    compute capability, precision and batch profile) and the ran-edge version."""

    kind: str
    source_sha256: str
    options: Mapping[str, Any] = field(default_factory=dict)
    ran_edge_version: str = __version__

    def fields(self) -> Dict[str, Any]:
        """The key as plain JSON data (stored in the entry and compared at every use)."""
        return json.loads(json.dumps({"kind": self.kind, "source_sha256": self.source_sha256,
                                      "options": dict(self.options), "ran_edge_version": self.ran_edge_version},
                                     sort_keys=True, default=str))

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of :meth:`fields`: the entry's folder name."""
        text = json.dumps(self.fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """A complete entry: its folder, the artifact in it, what it was built from, size and times."""

    digest: str
    folder: Path
    artifact: Path
    key: Mapping[str, Any]
    source: str
    size_bytes: int
    created: float
    last_used: float

    @property
    def kind(self) -> str:
        return str(self.key.get("kind", "?"))


@dataclass(frozen=True)
class EntryStatus:
    """One folder under the cache as ``cache list`` shows it: the entry, or why it cannot be used."""

    digest: str
    folder: Path
    entry: Optional[CacheEntry]
    problem: str = ""
    size_bytes: int = 0  # on disk, entry.json included


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def read_entry(folder: Path, key: Optional[CacheKey] = None) -> Tuple[Optional[CacheEntry], str]:
    """``(entry, "")`` when ``folder`` holds a complete entry (for ``key``, if given), else ``(None, why not)``:
    no or unreadable ``entry.json``, another key, a file missing, or a size or sha256 that differs."""
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files: Mapping[str, Mapping[str, Any]] = manifest["files"]
        stored_key = manifest["key"]
        artifact = folder / str(manifest["artifact"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"entry {folder.name[:12]}: {MANIFEST} missing or unreadable ({type(exc).__name__})"
    if key is not None and stored_key != key.fields():
        return None, f"entry {folder.name[:12]}: built for another source or options than asked"
    if not isinstance(files, Mapping) or str(manifest["artifact"]) not in files:
        return None, f"entry {folder.name[:12]}: {MANIFEST} does not list its artifact"
    for name, rec in files.items():
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            return None, f"entry {folder.name[:12]}: {name} is missing"
        if size != rec.get("size"):
            return None, f"entry {folder.name[:12]}: {name} has {size} bytes, expected {rec.get('size')} (truncated?)"
        if _sha256(path) != rec.get("sha256"):
            return None, f"entry {folder.name[:12]}: {name} does not match its sha256 (corrupt)"
    try:
        last_used = manifest_path.stat().st_mtime
    except OSError:
        last_used = 0.0
    entry = CacheEntry(folder.name, folder, artifact, stored_key, str(manifest.get("source", "")),
                       int(sum(int(r.get("size", 0)) for r in files.values())), float(manifest.get("created", 0.0)),
                       last_used)
    return entry, ""


def _remove(folder: Path) -> None:
    """Remove an entry or staging folder (renamed aside first, so no reader sees it half-removed)."""
    if not folder.exists():
        return
    aside = folder.with_name(f".removing-{folder.name}-{os.getpid()}")
    try:
        os.replace(folder, aside)
    except OSError:
        aside = folder
    shutil.rmtree(aside, ignore_errors=True)


class BuildCache:
    """The build cache in one folder (``cache_dir``, else ``$RAN_EDGE_CACHE_DIR``, else the user's cache folder).

    Reading works in a read-only folder; building needs a writable one (see
    :func:`ran_edge.cache.location.writable` for the error or the fallback).
    """

    def __init__(self, cache_dir: Union[str, Path, CacheLocation, None] = None, log: Log = print):
        self.location = cache_dir if isinstance(cache_dir, CacheLocation) else locate(cache_dir)
        self.log = log

    @property
    def root(self) -> Path:
        return self.location.path

    def folder(self, digest: str) -> Path:
        """The folder of entry ``digest``."""
        return self.root / LAYOUT / digest

    def _lock(self, digest: str) -> Any:
        from filelock import FileLock

        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        return FileLock(str(locks / f"{digest}.lock"))

    def lookup(self, key: CacheKey) -> Tuple[Optional[CacheEntry], str]:
        """The verified entry for ``key`` (its use time updated when the folder allows), or ``(None, why)``;
        ``why`` is empty when there is simply no entry."""
        folder = self.folder(key.digest)
        if not folder.is_dir():
            return None, ""
        entry, problem = read_entry(folder, key)
        if entry is not None:
            try:
                os.utime(folder / MANIFEST)
            except OSError:
                pass  # a read-only cache serves entries, it only cannot record their use
        return entry, problem

    def get_or_build(self, key: CacheKey, artifact_name: str, build: Callable[[Path], None],
                     source: str) -> Tuple[CacheEntry, bool]:
        """The entry for ``key``, built by ``build(folder)`` (which writes ``folder/artifact_name`` and any side
        files) when it is missing or fails its check. Returns ``(entry, built)``; two processes asking for the
        same key at once build it once (the second waits, then reads the first one's entry).

        Raises:
            RanEdgeError: the folder cannot be written (names ``$RAN_EDGE_CACHE_DIR``), or ``build`` failed
                (nothing is left behind).
        """
        entry, problem = self.lookup(key)
        if entry is not None:
            return entry, False
        located = writable(self.location)
        if located.path != self.location.path:
            self.log(located.note)
            self.location = located
            entry, problem = self.lookup(key)
            if entry is not None:
                return entry, False
        try:
            lock = self._lock(key.digest)
            from filelock import Timeout

            try:
                lock.acquire(timeout=WAIT_NOTE_S)
            except Timeout:
                self.log(f"build cache: another process is building {source} ({key.kind}); waiting for it")
                lock.acquire()
        except OSError as exc:
            raise unwritable_error(self.location, os_reason(exc)) from exc
        try:
            entry, problem = self.lookup(key)
            if entry is not None:
                return entry, False
            if problem:
                self.log(f"build cache: {problem}; rebuilding it")
                _remove(self.folder(key.digest))
            return self._build(key, artifact_name, build, source), True
        finally:
            lock.release()

    def _build(self, key: CacheKey, artifact_name: str, build: Callable[[Path], None], source: str) -> CacheEntry:
        digest = key.digest
        for stale in (self.root / "staging").glob(f"{digest}-*"):  # left by a build that died (we hold its lock)
            _remove(stale)
        try:
            (self.root / "staging").mkdir(parents=True, exist_ok=True)
            (self.root / LAYOUT).mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f"{digest}-", dir=self.root / "staging"))
        except OSError as exc:
            raise unwritable_error(self.location, os_reason(exc)) from exc
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(staging, 0o777 & ~umask)
            build(staging)
            if not (staging / artifact_name).is_file():
                raise RanEdgeError(f"build cache: building {key.kind} from {source} wrote no {artifact_name}")
            files = {p.relative_to(staging).as_posix(): {"sha256": _sha256(p), "size": p.stat().st_size}
                     for p in sorted(staging.rglob("*")) if p.is_file()}
            manifest = {"key": key.fields(), "digest": digest, "artifact": artifact_name, "source": source,
                        "created": time.time(), "files": files}
            with open(staging / MANIFEST, "w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(staging, self.folder(digest))
        except OSError as exc:
            raise unwritable_error(self.location, os_reason(exc)) from exc
        finally:
            _remove(staging)
        entry, problem = read_entry(self.folder(digest), key)
        if entry is None:
            raise RanEdgeError(f"build cache: the entry just built does not verify ({problem})")
        return entry

    def entries(self) -> List[EntryStatus]:
        """Every entry folder, newest use first, each verified (a broken one carries its problem)."""
        base = self.root / LAYOUT
        out: List[EntryStatus] = []
        if not base.is_dir():
            return out
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            entry, problem = read_entry(folder)
            out.append(EntryStatus(folder.name, folder, entry, problem, _folder_size(folder)))
        return sorted(out, key=lambda s: -(s.entry.last_used if s.entry else 0.0))

    def clear(self) -> Tuple[int, int]:
        """Remove every entry and leftover staging folder that no process is building. Returns ``(entries
        removed, bytes freed)``; an entry being built is left alone."""
        from filelock import Timeout

        removed, freed = 0, 0
        for status in self.entries():
            lock = self._lock(status.digest)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                self.log(f"build cache: entry {status.digest[:12]} is being built by another process; left")
                continue
            try:
                _remove(status.folder)
                removed, freed = removed + 1, freed + status.size_bytes
            finally:
                lock.release()
        staging = self.root / "staging"
        if staging.is_dir():
            for folder in staging.iterdir():
                lock = self._lock(folder.name.split("-")[0])
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    continue
                try:
                    freed += _folder_size(folder) if folder.is_dir() else 0
                    _remove(folder)
                finally:
                    lock.release()
        return removed, freed
