"""What ``ran-edge cache list`` prints: one line per entry (size, kind, last use, source, state) and a total."""

from __future__ import annotations

import time
from typing import List, Sequence

from ran_edge.cache.store import BuildCache, EntryStatus


def human_size(n: int) -> str:
    """``1536`` → ``1.5 KiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def listing_lines(cache: BuildCache, statuses: Sequence[EntryStatus]) -> List[str]:
    """The cache folder, one line per entry (newest use first) and the total size on disk."""
    lines = [f"build cache: {cache.location.describe()}"]
    if not statuses:
        return lines + ["no entries"]
    lines.append(f"{'entry':<12}  {'kind':<11}  {'size':>10}  {'last used':<16}  source")
    for s in statuses:
        if s.entry is None:
            lines.append(f"{s.digest[:12]:<12}  {'?':<11}  {human_size(s.size_bytes):>10}  {'-':<16}  BROKEN: {s.problem} "
                         "(rebuilt on next use; 'ran-edge cache clear' removes it)")
            continue
        e = s.entry
        extra = {k: v for k, v in e.key.get("options", {}).items() if k in ("precision", "tensorrt_version", "compute_capability")}
        note = (" (" + ", ".join(f"{k} {v}" for k, v in extra.items()) + ")") if extra else ""
        lines.append(f"{s.digest[:12]:<12}  {e.kind:<11}  {human_size(s.size_bytes):>10}  {_when(e.last_used):<16}  {e.source}{note}")
    total = sum(s.size_bytes for s in statuses)
    lines.append(f"{len(statuses)} entries, {human_size(total)} on disk")
    return lines
