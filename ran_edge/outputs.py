"""One output mechanism for every command: result sets that are all there or not there.

A :class:`ResultSet` is the files (or folders) of one result, e.g. ``model.onnx`` + ``model.onnx.json``,
or the six files of a calibration. Each is written into a hidden staging folder beside its target
(same file system, so the final moves are renames), fsynced, given the user's umask (``0666 & ~umask``
for files, ``0777 & ~umask`` for folders — never the ``0600`` of a temp file) and moved into place
together by :meth:`ResultSet.commit`, with SIGINT/SIGTERM held back during the moves. If a move fails,
the ones already made are undone and the previous files put back. An exception (or no commit) before
that removes the staging folders: nothing half-written ever reaches a target path.

Paths are checked before any work starts (:func:`check_outputs`): an output that is, or resolves to
through links, one of the command's inputs *or one of their companions* (:func:`companions`: the sidecar
``X.json``, the calibration manifest and cache beside an INT8 model) is refused (it would destroy the
input, or make it unloadable), as are an output
that is an existing folder where a file is expected and a parent that is not a writable folder.
File-system errors become one-line :class:`~ran_edge.errors.RanEdgeError` messages.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterable, Sequence

from ran_edge.errors import RanEdgeError

def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def os_error_line(exc: OSError, action: str = "") -> str:
    """``<path>: <reason>`` for an OSError, e.g. ``/proc/x.onnx: Permission denied (errno 13)``."""
    where = exc.filename if exc.filename is not None else "?"
    why = exc.strerror or str(exc)
    verb = f"cannot {action} " if action else ""
    return f"{verb}{where}: {why}" + (f" (errno {exc.errno})" if exc.errno else "")


def _real(p: Path) -> str:
    return os.path.realpath(os.path.expanduser(str(p)))


def _same_file(a: Path, b: Path) -> bool:
    if _real(a) == _real(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


#: suffixes of model files whose companions (sidecar, manifest, cache) belong to them
MODEL_SUFFIXES = (".onnx", ".engine", ".plan", ".trt", ".ts", ".torchscript", ".pt", ".pth", ".tar")


def companions(path: Any) -> list[Path]:
    """The files that belong to the input ``path`` and are read with it: its sidecar ``X.json`` (every input),
    and for a model file the calibration manifest ``<stem>.calibration.json`` and TensorRT calibration cache
    ``<stem>.calibration.cache`` that ``calibrate`` and ``build-engine`` write beside it. A sidecar's companion is
    its model. Existing or not (the caller filters)."""
    p = Path(os.path.expanduser(str(path)))
    out = [p.with_name(p.name + ".json")]
    name = p.name
    if name.endswith(".json") and len(name) > 5:
        out.append(p.with_name(name[:-5]))
    low = name.lower()
    for suffix in MODEL_SUFFIXES:
        if low.endswith(suffix) and len(name) > len(suffix):
            stem = name[:-len(suffix)]
            out += [p.with_name(stem + ".calibration.json"), p.with_name(stem + ".calibration.cache")]
            break
    return out


def with_companions(inputs: Iterable[Any]) -> dict[Path, str]:
    """``inputs`` and each one's existing companions (:func:`companions`) → how to name each in an error."""
    out: dict[Path, str] = {}
    for p in inputs:
        if p is None or str(p) == "":
            continue
        out.setdefault(Path(p), f"the input {p}")
        if os.path.isfile(os.path.expanduser(str(p))):
            for c in companions(p):
                if os.path.lexists(c):
                    out.setdefault(c, f"the input {c} (it belongs to the input {p})")
    return out


def check_outputs(outputs: Iterable[Any], inputs: Iterable[Any] = (), *, folders: Iterable[Any] = ()) -> None:
    """Refuse, before any work, outputs that would destroy an input or cannot be written.

    Args:
        outputs: file paths the command will write.
        inputs: paths the command reads (files or folders); an output equal to one or to one of its companions
            (through a symlink, a hard link or ``..`` too) is refused. Inputs that do not exist are ignored
            (nothing to destroy).
        folders: output paths that are folders (an existing folder there is fine).

    Raises:
        RanEdgeError: one line naming the path, what is wrong and what is expected.
    """
    ins = {p: what for p, what in with_companions(inputs).items() if os.path.lexists(os.path.expanduser(str(p)))}
    dirs = {_real(Path(p)) for p in folders if p is not None}
    outs = [Path(p) for p in outputs if p is not None] + [Path(p) for p in folders if p is not None]
    seen: dict[str, Path] = {}
    for out in outs:
        real = _real(out)
        if real in seen:
            also = "" if seen[real] == out else f" (also as {seen[real]})"
            raise RanEdgeError(f"{out}: the same output path is given twice{also}, one output would overwrite another; "
                               f"expected distinct paths")
        seen[real] = out
        for inp, what in ins.items():
            if _same_file(out, inp):
                raise RanEdgeError(f"{out}: output path is {what}; writing it would destroy the input, "
                                   f"expected a different output path")
        if real not in dirs and Path(real).is_dir():
            raise RanEdgeError(f"{out}: is a folder; expected a file path to write")
        if real in dirs and Path(real).exists() and not Path(real).is_dir():
            raise RanEdgeError(f"{out}: is a file; expected a folder path")
        parent = Path(real).parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise RanEdgeError(f"{out}: {parent} is not a folder; expected a writable folder for the output")
        _probe_writable(out, parent)


def _probe_writable(out: Path, parent: Path) -> None:
    """Create and remove a hidden folder in ``parent`` (``os.access`` is not enough: root, ``/proc``, read-only mounts)."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".ran-edge-probe-", dir=parent))
    except OSError as exc:
        raise RanEdgeError(f"{out}: cannot write in folder {parent} ({exc.strerror}); expected a writable output folder") from exc


class _HeldSignals:
    """Defer SIGINT/SIGTERM while the moves run (main thread only; elsewhere a no-op)."""

    def __enter__(self) -> "_HeldSignals":
        self._on = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask")
        if self._on:
            self._old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._on:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)


class _FolderLocks:
    """Exclusive ``flock`` on the target folders (sorted, so two writers never deadlock): concurrent
    ran-edge writers of the same result commit one whole set after the other, never interleaved."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self._folders = sorted({_real(f) for f in folders})
        self._fds: list[int] = []

    def __enter__(self) -> "_FolderLocks":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            return self
        for f in self._folders:
            try:
                fd = os.open(f, os.O_RDONLY)
            except OSError:
                continue
            self._fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: Any) -> None:
        for fd in reversed(self._fds):
            os.close(fd)  # releases the lock
        self._fds = []


def _fsync_tree(path: Path) -> None:
    if path.is_dir():
        for child in path.iterdir():
            _fsync_tree(child)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _chmod_tree(path: Path, mask: int) -> None:
    if path.is_dir():
        os.chmod(path, 0o777 & ~mask)
        for child in path.iterdir():
            _chmod_tree(child, mask)
    else:
        mode = path.stat().st_mode
        os.chmod(path, (0o777 if mode & 0o100 else 0o666) & ~mask)


class ResultSet:
    """Stage the files of one result beside their targets; :meth:`commit` moves them as a set.

    ``with ResultSet(inputs=[src]) as rs: write(rs.path(out)); write(rs.path(sidecar)); rs.commit()``.
    A staged path has the target's name inside a hidden staging folder of the target's folder, so
    ``sidecar_path(rs.path(x)) == rs.path(sidecar_path(x))``.
    """

    def __init__(self, targets: Sequence[Any] = (), *, inputs: Sequence[Any] = (), folders: Sequence[Any] = ()) -> None:
        """Check ``targets`` (files) and ``folders`` (folder targets) against ``inputs`` now (see :func:`check_outputs`)."""
        self._inputs = [Path(p) for p in inputs if p is not None]
        check_outputs(targets, self._inputs, folders=folders)
        self._staging: dict[str, Path] = {}
        self._targets: dict[Path, Path] = {}  # staged → target
        self._scratch: list[Path] = []
        self._created: list[Path] = []  # folders this set made for its targets: removed again unless committed
        self._done = False

    def _stage_dir(self, parent: Path) -> Path:
        key = _real(parent)
        if key not in self._staging:
            try:
                self._created += created_folders(parent)
                parent.mkdir(parents=True, exist_ok=True)
                self._staging[key] = Path(tempfile.mkdtemp(prefix=".ran-edge-stage-", dir=parent))
            except OSError as exc:
                raise RanEdgeError(f"cannot write in folder {parent} ({exc.strerror}); expected a writable output folder") from exc
        return self._staging[key]

    def path(self, target: Any, folder: bool = False) -> Path:
        """The staged path of ``target`` (created as an empty folder when ``folder``); moved onto it by commit."""
        target = Path(target)
        if target.name in ("", ".", ".."):
            raise RanEdgeError(f"{target}: expected a file or folder name, not {target.name or '/'!r}")
        for staged, t in self._targets.items():
            if t == target:
                return staged
        check_outputs([] if folder else [target], self._inputs, folders=[target] if folder else [])
        staged = self._stage_dir(target.parent) / target.name
        if staged in self._targets:
            raise RanEdgeError(f"{target}: two outputs of one result have the same name in one folder")
        if folder:
            staged.mkdir()
        self._targets[staged] = target
        return staged

    def drop(self, target: Any) -> None:
        """Leave ``target`` out of this result (e.g. a video that got no frame); its staged file is removed."""
        for staged, t in list(self._targets.items()):
            if t == Path(target):
                del self._targets[staged]
                shutil.rmtree(staged, ignore_errors=True) if staged.is_dir() else staged.unlink(missing_ok=True)

    def temp_for(self, target: Any, commit: bool = True) -> Path:
        """Compatibility with the former ``StagedFiles``: a staged path, or a scratch file when not ``commit``."""
        if commit:
            return self.path(target)
        target = Path(target)
        scratch = self._stage_dir(target.parent) / f".scratch-{len(self._scratch)}-{target.name}"
        self._scratch.append(scratch)
        return scratch

    def commit(self) -> list[Path]:
        """Move every staged file into place as a set (all or, on failure, none: previous files restored)."""
        missing = [t for s, t in self._targets.items() if not s.exists()]
        if missing:
            raise RanEdgeError(f"{missing[0]}: incomplete result, this part was never written; nothing was replaced")
        for s in self._scratch:
            shutil.rmtree(s, ignore_errors=True) if s.is_dir() else s.unlink(missing_ok=True)
        mask = current_umask()
        for staged in self._targets:
            _chmod_tree(staged, mask)
            _fsync_tree(staged)
        moved: list[tuple[Path, Path, Path | None]] = []
        with _HeldSignals(), _FolderLocks({t.parent for t in self._targets.values()}):
            try:
                for staged, target in self._targets.items():
                    backup = staged.with_name(f".previous-{target.name}")
                    try:
                        os.replace(target, backup)
                    except FileNotFoundError:
                        backup = None  # nothing there before
                    try:
                        os.replace(staged, target)
                    except BaseException:
                        if backup is not None:
                            os.replace(backup, target)
                        raise
                    moved.append((staged, target, backup))
            except OSError as exc:
                for staged, target, backup in reversed(moved):
                    os.replace(target, staged)
                    if backup is not None:
                        os.replace(backup, target)
                raise RanEdgeError(os_error_line(exc, "write") + "; nothing was replaced") from exc
            for folder in {t.parent for t in self._targets.values()}:
                _fsync_tree_dir(folder)
        self._done = True
        self._cleanup()
        return list(self._targets.values())

    def _cleanup(self) -> None:
        for d in self._staging.values():
            shutil.rmtree(d, ignore_errors=True)
        self._staging.clear()
        if not self._done:  # a failed or interrupted result leaves the file system as it found it
            remove_created(self._created)
        self._created = []

    def __enter__(self) -> "ResultSet":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cleanup()


def created_folders(folder: Any) -> list[Path]:
    """The folders that ``mkdir -p folder`` would create, outermost first (none when it exists)."""
    missing: list[Path] = []
    p = Path(os.path.abspath(os.path.expanduser(str(folder))))
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    return list(reversed(missing))


def remove_created(folders: Iterable[Path]) -> None:
    """Remove ``folders`` (as listed by :func:`created_folders`), innermost first, each only while it is empty."""
    for f in sorted(set(folders), key=lambda p: len(p.parts), reverse=True):
        try:
            os.rmdir(f)
        except OSError:
            pass  # not empty (another writer's files, or ours committed), or already gone


class FolderGuard:
    """The output folder of a job that writes into it step by step (``train``, ``bench``, ``demo``): on an exception
    or Ctrl-C, the folders this job created are removed again while empty, and each ``scratch`` subfolder it created
    (intermediate files only, e.g. bench's exports) is removed with its contents: a failed command leaves the file
    system as it found it. ``with FolderGuard(out, scratch=[out / "artifacts"]): ...``."""

    def __init__(self, folder: Any, scratch: Sequence[Any] = ()) -> None:
        self.created = created_folders(folder)
        self.scratch = [Path(s) for s in scratch if not os.path.lexists(os.path.expanduser(str(s)))]

    def __enter__(self) -> "FolderGuard":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            return
        for s in self.scratch:
            shutil.rmtree(s, ignore_errors=True)
        remove_created(self.created)


def _fsync_tree_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_result(path: Any, data: Any, *, inputs: Sequence[Any] = ()) -> Path:
    """Write one JSON file through a :class:`ResultSet` (atomic, fsynced, umask permissions)."""
    path = Path(path)
    with ResultSet([path], inputs=inputs) as rs:
        with open(rs.path(path), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        rs.commit()
    return path


def write_text_result(path: Any, text: str, *, inputs: Sequence[Any] = ()) -> Path:
    """Write one text file through a :class:`ResultSet`."""
    path = Path(path)
    with ResultSet([path], inputs=inputs) as rs:
        rs.path(path).write_text(text, encoding="utf-8")
        rs.commit()
    return path
