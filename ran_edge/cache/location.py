"""Where the build cache lives: an argument, else ``$RAN_EDGE_CACHE_DIR``, else the user's cache directory.

A folder the user named (argument or variable) that cannot be written is an error naming the variable; the
default folder falls back to a per-user temporary folder and says so (:func:`writable`).
"""

from __future__ import annotations

import enum
import errno
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Union

from ran_edge.errors import RanEdgeError

#: the environment variable that names the cache folder
ENV_VAR = "RAN_EDGE_CACHE_DIR"


class CacheOrigin(str, enum.Enum):
    """Who chose the cache folder."""

    ARGUMENT = "argument"
    ENVIRONMENT = "environment"
    DEFAULT = "default"
    FALLBACK = "fallback"


@dataclass(frozen=True)
class CacheLocation:
    """The cache folder, who chose it, and (for a fallback) why the first choice was not used."""

    path: Path
    origin: CacheOrigin
    note: str = ""

    def describe(self) -> str:
        """``/home/u/.cache/ran-edge (default)``."""
        return f"{self.path} ({self.origin.value})"


def default_cache_dir() -> Path:
    """The user's cache directory for ran-edge (``platformdirs``; ``$XDG_CACHE_HOME`` or ``~/.cache`` without it)."""
    try:
        from platformdirs import user_cache_path
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "ran-edge"
    return Path(user_cache_path("ran-edge", appauthor=False))


def fallback_cache_dir() -> Path:
    """A per-user folder under the temporary directory (used when the default folder cannot be written)."""
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    return Path(tempfile.gettempdir()) / f"ran-edge-cache-{uid}"


def locate(cache_dir: Union[str, Path, None] = None) -> CacheLocation:
    """The cache folder to use (nothing is created): ``cache_dir``, else ``$RAN_EDGE_CACHE_DIR``, else the default."""
    if cache_dir is not None and str(cache_dir) != "":
        return CacheLocation(Path(cache_dir).expanduser(), CacheOrigin.ARGUMENT)
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return CacheLocation(Path(env).expanduser(), CacheOrigin.ENVIRONMENT)
    return CacheLocation(default_cache_dir(), CacheOrigin.DEFAULT)


def _why_not_writable(path: Path) -> Optional[str]:
    """None when ``path`` can be created and written; else the reason, as one phrase."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return os_reason(exc)
    return None


def os_reason(exc: OSError) -> str:
    """``read-only`` / ``permission denied`` / ``disk full`` / the OS message."""
    names = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
             errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded"}
    return names.get(exc.errno or 0, exc.strerror or type(exc).__name__)


def unwritable_error(location: CacheLocation, reason: str) -> RanEdgeError:
    """The one-line error for a cache folder that cannot take a new entry."""
    named = {CacheOrigin.ARGUMENT: "the cache_dir given", CacheOrigin.ENVIRONMENT: f"${ENV_VAR}"}.get(location.origin,
                                                                                                    "the cache folder")
    return RanEdgeError(f"build cache {location.path} ({named}) cannot be written: {reason}; expected a writable folder: "
                        f"set {ENV_VAR} to one (or free space there)")


def writable(location: CacheLocation) -> CacheLocation:
    """``location`` when a new entry can be written there. A folder the user chose that cannot be written is a
    one-line :class:`RanEdgeError` naming :data:`ENV_VAR`; the default folder falls back to
    :func:`fallback_cache_dir`, with a ``note`` saying so."""
    reason = _why_not_writable(location.path)
    if reason is None:
        return location
    if location.origin in (CacheOrigin.ARGUMENT, CacheOrigin.ENVIRONMENT):
        raise unwritable_error(location, reason)
    fallback = fallback_cache_dir()
    again = _why_not_writable(fallback)
    if again is not None:
        raise unwritable_error(replace(location, path=fallback, origin=CacheOrigin.FALLBACK), again)
    note = (f"build cache: {location.path} cannot be written ({reason}); using {fallback} for now "
            f"(set {ENV_VAR} to a writable folder to keep builds)")
    return CacheLocation(fallback, CacheOrigin.FALLBACK, note)
