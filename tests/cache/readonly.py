"""A folder that cannot be written, for real: ``chmod`` for a normal user, a read-only bind mount for root
(root ignores permission bits); the test is skipped with the reason when neither is possible."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` (which exists) made read-only for the duration of the block."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
        for p in modes:
            p.chmod(0o555)
        try:
            yield folder
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot make a read-only folder as root here: {mounted.stderr.strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, text=True)
        if ro.returncode:
            pytest.skip(f"cannot remount read-only: {ro.stderr.strip()}")
        probe = folder / ".probe"
        with pytest.raises(OSError):
            probe.write_text("x")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)
