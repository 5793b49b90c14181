"""The build cache on its own: keys, one build, verification at every use, foreign and corrupt entries,
unwritable folders, list/clear, and two real processes asking for the same entry at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ran_edge.cache import BuildCache, CacheKey, CacheOrigin, ENV_VAR, locate
from ran_edge.cache.location import writable
from ran_edge.errors import RanEdgeError
from tests.cache.readonly import read_only

ROOT = Path(__file__).resolve().parents[2]


def _writer(payload: bytes, calls: list):
    def build(folder: Path) -> None:
        calls.append(folder)
        (folder / "model.bin").write_bytes(payload)
        (folder / "model.bin.json").write_text("{}")
    return build


def test_key_digest_is_stable_and_covers_every_field():
    k = CacheKey("onnx", "a" * 64, {"opset": 17, "input_kind": "faces"}, "0.1.0")
    assert k.digest == CacheKey("onnx", "a" * 64, {"input_kind": "faces", "opset": 17}, "0.1.0").digest
    others = [CacheKey("fp16", "a" * 64, {"opset": 17, "input_kind": "faces"}, "0.1.0"),
              CacheKey("onnx", "b" * 64, {"opset": 17, "input_kind": "faces"}, "0.1.0"),
              CacheKey("onnx", "a" * 64, {"opset": 13, "input_kind": "faces"}, "0.1.0"),
              CacheKey("onnx", "a" * 64, {"opset": 17, "input_kind": "faces"}, "0.2.0")]
    assert len({k.digest, *(o.digest for o in others)}) == 5


def test_built_once_then_served_and_verified(tmp_path):
    cache, calls = BuildCache(tmp_path / "c", log=lambda s: None), []
    key = CacheKey("onnx", "s" * 64, {"opset": 17})
    entry, built = cache.get_or_build(key, "model.bin", _writer(b"x" * 1000, calls), "model.pt")
    assert built and entry.artifact.read_bytes() == b"x" * 1000 and entry.source == "model.pt"
    again, built2 = cache.get_or_build(key, "model.bin", _writer(b"y", calls), "model.pt")
    assert not built2 and len(calls) == 1 and again.artifact == entry.artifact
    assert not any((tmp_path / "c" / "staging").iterdir())  # nothing left from the build


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_a_damaged_entry_is_detected_and_rebuilt(tmp_path, damage):
    logs, calls = [], []
    cache = BuildCache(tmp_path, log=logs.append)
    key = CacheKey("onnx", "s" * 64)
    entry, _ = cache.get_or_build(key, "model.bin", _writer(b"0123456789" * 100, calls), "m.pt")
    if damage == "truncate":
        entry.artifact.write_bytes(b"0123456789" * 50)
    elif damage == "flip":
        entry.artifact.write_bytes(b"0123456789" * 99 + b"012345678X")
    elif damage == "delete":
        (entry.folder / "model.bin.json").unlink()
    else:
        (entry.folder / "entry.json").write_text("{not json")
    assert cache.lookup(key)[0] is None
    fresh, built = cache.get_or_build(key, "model.bin", _writer(b"0123456789" * 100, calls), "m.pt")
    assert built and len(calls) == 2 and fresh.artifact.read_bytes() == b"0123456789" * 100
    assert any("rebuilding" in line for line in logs), logs


def test_a_dead_builds_staging_folder_is_cleared_by_the_next_build(tmp_path):
    cache, calls = BuildCache(tmp_path, log=lambda s: None), []
    key = CacheKey("onnx", "s" * 64)
    dead = tmp_path / "staging" / f"{key.digest}-killed"
    dead.mkdir(parents=True)
    (dead / "model.bin").write_bytes(b"half")
    cache.get_or_build(key, "model.bin", _writer(b"whole", calls), "m.pt")
    assert not dead.exists() and cache.lookup(key)[0].artifact.read_bytes() == b"whole"


def test_an_entry_is_never_used_for_another_key(tmp_path):
    """An entry whose stored key differs from the one asked for (copied, edited) is refused, not served."""
    cache, calls = BuildCache(tmp_path, log=lambda s: None), []
    a, b = CacheKey("engine", "s" * 64, {"compute_capability": "8.7"}), CacheKey("engine", "s" * 64, {"compute_capability": "8.9"})
    ea, _ = cache.get_or_build(a, "model.bin", _writer(b"for 8.7", calls), "m.onnx")
    (tmp_path / "v1" / b.digest).mkdir(parents=True)
    for p in ea.folder.iterdir():
        (tmp_path / "v1" / b.digest / p.name).write_bytes(p.read_bytes())
    entry, problem = cache.lookup(b)
    assert entry is None and "another source or options" in problem
    eb, built = cache.get_or_build(b, "model.bin", _writer(b"for 8.9", calls), "m.onnx")
    assert built and eb.artifact.read_bytes() == b"for 8.9"


def test_location_order_argument_env_default(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert locate(tmp_path / "arg").origin is CacheOrigin.ARGUMENT
    assert locate().path == tmp_path / "env" and locate().origin is CacheOrigin.ENVIRONMENT
    monkeypatch.delenv(ENV_VAR)
    assert locate().origin is CacheOrigin.DEFAULT and locate().path.name == "ran-edge"


def test_read_only_folder_serves_entries_but_refuses_a_build_in_one_line(tmp_path):
    folder = tmp_path / "ro"
    cache, calls = BuildCache(folder, log=lambda s: None), []
    key = CacheKey("onnx", "s" * 64)
    cache.get_or_build(key, "model.bin", _writer(b"ok", calls), "m.pt")
    with read_only(folder):
        entry, built = BuildCache(folder, log=lambda s: None).get_or_build(key, "model.bin", _writer(b"no", calls), "m.pt")
        assert not built and entry.artifact.read_bytes() == b"ok"
        with pytest.raises(RanEdgeError) as err:
            BuildCache(folder).get_or_build(CacheKey("onnx", "t" * 64), "model.bin", _writer(b"no", calls), "m.pt")
    msg = str(err.value)
    assert "\n" not in msg and ENV_VAR in msg and str(folder) in msg and "cannot be written" in msg
    assert len(calls) == 1


def test_unwritable_default_falls_back_to_a_temp_folder_and_says_so(tmp_path, monkeypatch):
    import ran_edge.cache.location as location

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(location, "default_cache_dir", lambda: Path("/proc/ran-edge-cache-test"))
    monkeypatch.setattr(location, "fallback_cache_dir", lambda: tmp_path / "fallback")
    logs, calls = [], []
    cache = BuildCache(log=logs.append)
    entry, built = cache.get_or_build(CacheKey("onnx", "s" * 64), "model.bin", _writer(b"ok", calls), "m.pt")
    assert built and entry.folder.is_relative_to(tmp_path / "fallback")
    assert len(logs) == 1 and "/proc/ran-edge-cache-test cannot be written" in logs[0] and ENV_VAR in logs[0]
    assert cache.location.origin is CacheOrigin.FALLBACK


def test_unwritable_named_folder_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "/proc/ran-edge-cache-test")
    with pytest.raises(RanEdgeError, match=f"\\${ENV_VAR}.*cannot be written.*set {ENV_VAR}"):
        writable(locate())


def test_a_full_disk_during_a_build_leaves_nothing_and_names_the_variable(tmp_path):
    import errno

    def full(folder: Path) -> None:
        (folder / "model.bin").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    cache = BuildCache(tmp_path, log=lambda s: None)
    with pytest.raises(RanEdgeError, match=f"disk full.*{ENV_VAR}"):
        cache.get_or_build(CacheKey("onnx", "s" * 64), "model.bin", full, "m.pt")
    assert not list((tmp_path / "v1").iterdir()) and not list((tmp_path / "staging").iterdir())


def test_list_and_clear(tmp_path):
    cache, calls = BuildCache(tmp_path, log=lambda s: None), []
    a, _ = cache.get_or_build(CacheKey("onnx", "a" * 64), "model.bin", _writer(b"a" * 10, calls), "a.pt")
    b, _ = cache.get_or_build(CacheKey("fp16", "b" * 64), "model.bin", _writer(b"b" * 20, calls), "b.onnx")
    a.artifact.write_bytes(b"A" * 10)  # corrupt, same size
    listed = {s.digest: s for s in cache.entries()}
    on_disk = {d: sum(p.stat().st_size for p in s.folder.iterdir()) for d, s in listed.items()}
    assert listed[b.digest].entry is not None and listed[b.digest].entry.size_bytes == 22  # model.bin + "{}"
    assert listed[b.digest].size_bytes == on_disk[b.digest] > 22  # entry.json counts on disk
    assert listed[a.digest].entry is None and "sha256" in listed[a.digest].problem
    removed, freed = cache.clear()
    assert removed == 2 and freed == sum(on_disk.values()) and cache.entries() == []


RACE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from ran_edge.cache import BuildCache, CacheKey
    root, start = Path(sys.argv[1]), float(sys.argv[2])
    def build(folder):
        with open(root / "builds.log", "a") as f:
            f.write("build\\n")
        time.sleep(1.5)  # long enough that the other process arrives while this one builds
        (folder / "model.bin").write_bytes(b"z" * 4096)
    while time.time() < start:
        time.sleep(0.005)
    entry, built = BuildCache(root / "cache", log=lambda s: None).get_or_build(CacheKey("onnx", "r" * 64), "model.bin", build, "m.pt")
    print(built, len(entry.artifact.read_bytes()))
""")


def test_two_processes_build_once_and_both_get_the_whole_entry(tmp_path):
    import time

    start = str(time.time() + 2.0)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(tmp_path), start], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    results = sorted(o[0].split() for o in outs)
    assert results == [["False", "4096"], ["True", "4096"]]
    assert (tmp_path / "builds.log").read_text() == "build\n"
