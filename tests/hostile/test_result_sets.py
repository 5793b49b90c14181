"""The one output mechanism (:mod:`ran_edge.outputs`): all there or not there, inputs never destroyed,
the user's umask, concurrent writers, SIGINT at random points (issue #15 findings 1, 3, 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.outputs import ResultSet, check_outputs
from tests.hostile.helpers import interrupt, staging_left


def _pair(folder: Path, tag: str) -> list:
    a, b = folder / "model.onnx", folder / "model.onnx.json"
    with ResultSet([a, b]) as rs:
        rs.path(a).write_text(tag * 1000)
        rs.path(b).write_text(json.dumps({"tag": tag}))
        rs.commit()
    return [a, b]


def test_an_exception_before_commit_leaves_the_previous_set(tmp_path):
    a, b = _pair(tmp_path, "old")
    with pytest.raises(KeyboardInterrupt):
        with ResultSet([a, b]) as rs:
            rs.path(a).write_text("new")
            raise KeyboardInterrupt
    assert a.read_text() == "old" * 1000 and json.loads(b.read_text())["tag"] == "old"
    assert not staging_left(tmp_path)


def test_a_failed_move_puts_every_previous_file_back(tmp_path, monkeypatch):
    a, b = _pair(tmp_path, "old")
    real_replace, calls = os.replace, []

    def flaky(src, dst):  # the move of the second file fails (disk full, EIO...)
        calls.append(dst)
        if Path(dst) == b and ".previous-" not in str(src) and ".previous-" not in str(dst):
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    with ResultSet([a, b]) as rs:
        rs.path(a).write_text("new")
        rs.path(b).write_text("{}")
        monkeypatch.setattr(os, "replace", flaky)
        with pytest.raises(RanEdgeError, match="No space left"):
            rs.commit()
        monkeypatch.setattr(os, "replace", real_replace)
    assert a.read_text() == "old" * 1000 and json.loads(b.read_text())["tag"] == "old"
    assert not staging_left(tmp_path)


def test_an_incomplete_set_is_never_committed(tmp_path):
    a, b = tmp_path / "x.onnx", tmp_path / "x.onnx.json"
    with ResultSet([a, b]) as rs:
        rs.path(a).write_text("x")
        rs.path(b)  # declared, never written
        with pytest.raises(RanEdgeError, match="incomplete"):
            rs.commit()
    assert not a.exists() and not b.exists() and not staging_left(tmp_path)


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "dotdot"])
def test_an_output_that_is_an_input_is_refused(tmp_path, how):
    src = tmp_path / "in.pt"
    src.write_bytes(b"precious")
    out = {"same": src, "dotdot": tmp_path / "sub" / ".." / "in.pt"}.get(how, tmp_path / "o.onnx")
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        out.symlink_to(src)
    elif how == "hardlink":
        os.link(src, out)
    with pytest.raises(RanEdgeError, match="is the input"):
        check_outputs([out], [src])
    assert src.read_bytes() == b"precious"


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
def test_files_and_folders_get_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        f, d = tmp_path / "f.json", tmp_path / "repo"
        with ResultSet([f], folders=[d]) as rs:
            rs.path(f).write_text("{}")
            (rs.path(d, folder=True) / "config.pbtxt").write_text("x")
            rs.commit()
    finally:
        os.umask(old)
    assert f.stat().st_mode & 0o777 == 0o666 & ~mask
    assert d.stat().st_mode & 0o777 == 0o777 & ~mask
    assert (d / "config.pbtxt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_concurrent_writers_leave_one_whole_set(tmp_path):
    errors = []

    def writer(tag: str) -> None:
        try:
            for _ in range(20):
                _pair(tmp_path, tag)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    tag = json.loads((tmp_path / "model.onnx.json").read_text())["tag"]
    assert (tmp_path / "model.onnx").read_text() in {t * 1000 for t in "abcd"}
    assert not staging_left(tmp_path)
    assert tag in "abcd"


_LOOP = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from ran_edge.outputs import ResultSet
    out = Path(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        a, b, c = out / "m.onnx", out / "m.onnx.json", out / "m.cache"
        with ResultSet([a, b, c]) as rs:
            for p in (a, b, c):
                rs.path(p).write_text(json.dumps({"i": i}) + " " * 20000)
            rs.commit()
""")


@pytest.mark.parametrize("delay", [0.05, 0.13, 0.31, 0.57])
def test_sigint_at_a_random_point_leaves_a_whole_set(tmp_path, delay):
    """A writer committing three-file sets in a loop, interrupted anywhere: the three files always agree."""
    proc = subprocess.Popen([sys.executable, "-c", _LOOP, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    interrupt(proc, 30)
    files = [tmp_path / n for n in ("m.onnx", "m.onnx.json", "m.cache")]
    present = [f.exists() for f in files]
    assert all(present) or not any(present)
    if all(present):
        assert len({f.read_text() for f in files}) == 1, "files of different sets"
