"""Assertions shared by the hostile-input tests: one line, exit 1, inputs unchanged, outputs complete or absent."""

from __future__ import annotations

import hashlib
import signal
import subprocess
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple


def digest(paths: Iterable[Path]) -> Dict[str, str]:
    """sha256 (or 'absent') of each path; folders hash their sorted files."""
    out = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            h = hashlib.sha256()
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                h.update(str(f.relative_to(p)).encode() + f.read_bytes())
            out[str(p)] = "dir:" + h.hexdigest()
        else:
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "absent"
    return out


def run_cli(argv: Sequence[str], capsys) -> tuple:
    """``ran-edge ARGV`` in this process → ``(exit code, stderr lines)``; argparse's SystemExit is its code."""
    from ran_edge.cli.main import main

    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, err


def assert_one_line_failure(code: int, err: List[str], needle: str = "") -> None:
    """Exit 1, exactly one stderr line, no traceback, the line says what was wrong."""
    assert code == 1, (code, err)
    assert len(err) == 1, err
    assert "Traceback" not in err[0] and "error:" in err[0], err
    assert needle.lower() in err[0].lower(), (needle, err[0])


def staging_left(folder: Path) -> List[Path]:
    """Hidden staging/probe folders left behind (there must be none after a command ends)."""
    return [p for p in Path(folder).rglob(".ran-edge-*")]


def interrupt(proc: subprocess.Popen, timeout: float) -> Tuple[str, str]:
    """Send SIGINT (Ctrl-C) to ``proc`` and collect (stdout, stderr); a process still running ``timeout`` s later is
    killed (no orphan keeps a core busy for the rest of the run) and the test fails saying so."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"still running {timeout:g} s after SIGINT (killed): {proc.args!r:.200}") from None
