"""``ran-edge cache list|clear``: what is in the build cache (kind, size, source, last use, broken entries) and
emptying it; an unwritable named folder at build time is one line naming RAN_EDGE_CACHE_DIR."""

from __future__ import annotations

from pathlib import Path

from ran_edge.cache import BuildCache, CacheKey
from ran_edge.cli.main import main


def _fill(root: Path) -> BuildCache:
    cache = BuildCache(root, log=lambda s: None)

    def writer(payload: bytes):
        return lambda folder: (folder / "model.onnx").write_bytes(payload)

    cache.get_or_build(CacheKey("onnx", "a" * 64, {"opset": 17}), "model.onnx", writer(b"a" * 3000), "/models/best.pt")
    e, _ = cache.get_or_build(CacheKey("engine", "b" * 64, {"precision": "fp16", "tensorrt_version": "10.3.0",
                                                             "compute_capability": "8.7"}),
                              "model.onnx", writer(b"b" * 5000), "/models/best.pt (its ONNX export)")
    return cache


def test_list_shows_entries_and_broken_ones(tmp_path, capsys):
    cache = _fill(tmp_path)
    broken = next(s for s in cache.entries() if s.entry.kind == "onnx")
    (broken.folder / "model.onnx").write_bytes(b"x")
    assert main(["cache", "list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"build cache: {tmp_path} (argument)"
    engine = next(line for line in out if " engine " in line)
    folder = next(s.folder for s in cache.entries() if s.entry and s.entry.kind == "engine")
    on_disk = sum(p.stat().st_size for p in folder.iterdir())  # the artifact and entry.json
    assert f"{on_disk / 1024:.1f} KiB" in engine and on_disk > 5000
    assert "/models/best.pt (its ONNX export)" in engine and "tensorrt_version 10.3.0" in engine
    bad = next(line for line in out if "BROKEN" in line)
    assert bad.startswith(broken.digest[:12]) and "model.onnx has 1 bytes" in bad
    assert out[-1].startswith("2 entries,")


def test_clear_empties_it(tmp_path, capsys):
    _fill(tmp_path)
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert main(["cache", "list", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no entries"


def test_env_variable_names_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAN_EDGE_CACHE_DIR", str(tmp_path / "env"))
    assert main(["cache", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"build cache: {tmp_path / 'env'} (environment)"
