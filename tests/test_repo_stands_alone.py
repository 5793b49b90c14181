"""The repository stands alone: no tracked text file points at notes outside it.

Model facts live in docs/model.md, contracts in docs/architecture.md; code, comments, tests and READMEs
cite those. This test walks every tracked file (``git ls-files``), skips binary files, and fails listing
``file:line`` for each mention of an outside note or folder.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Built by concatenation so that this file does not match its own patterns.
FORBIDDEN: tuple[str, ...] = (
    "ran_" + "spec",
    "design" + ".md",
    "style" + ".md",
    "../" + "shared",
    "/work/" + "shared",
)


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (git ls-files unavailable)")
    res = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60)
    if res.returncode != 0:
        pytest.skip(f"git ls-files failed: {res.stderr.decode(errors='replace').strip()}")
    return [ROOT / p for p in res.stdout.decode().split("\0") if p]


def _text(path: Path) -> str | None:
    """The file's text, or None for a binary (NUL byte in the first 8 KiB) or missing file."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):  # deleted in the work tree, or a submodule
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def test_no_tracked_file_points_outside_the_repository():
    hits = []
    for path in _tracked_files():
        text = _text(path)
        if text is None:
            continue
        for no, line in enumerate(text.splitlines(), 1):
            low = line.lower()
            found = [p for p in FORBIDDEN if p in low]
            if found:
                hits.append(f"{path.relative_to(ROOT)}:{no}: {', '.join(found)}: {line.strip()[:120]}")
    assert not hits, (
        "tracked files refer to notes outside the repository; cite docs/model.md or docs/architecture.md "
        "instead:\n" + "\n".join(hits)
    )
