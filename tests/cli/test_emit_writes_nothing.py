"""``build-engine --dry-run`` / ``--emit-trtexec`` read files only (issue 26): inputs and sidecars byte-identical
(sha256 and mtime), no new file; every printed trtexec line reads a file that exists, or the command says what to
run first (``--prepare-only``, or ``ran-edge export --opset 13`` for a Jetson Nano's parser)."""

from __future__ import annotations

import hashlib
import shlex
import shutil
from pathlib import Path

import pytest

from ran_edge.cli.main import main


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from tests.runtime.artifacts import export_all, tiny_model

    return export_all(tiny_model(), tmp_path_factory.mktemp("emit_src"), torchscript=False)


@pytest.fixture
def folder(source, tmp_path):
    """A private copy of the model, its sidecar and the checkpoint (mtimes kept)."""
    for key in ("onnx", "pt"):
        shutil.copy2(source[key], tmp_path / source[key].name)
        if key == "onnx":
            shutil.copy2(str(source[key]) + ".json", tmp_path / (source[key].name + ".json"))
    return tmp_path


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(capsys, *argv):
    rc = main(["build-engine", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


PRECISIONS = [("fp32",), ("fp16",), ("int8", "--calib-data", "synthetic"), ("int8", "--calib-cache", "missing.cache")]
MODES = [("--dry-run",), ("--dry-run", "--emit-trtexec"), ("--emit-trtexec",)]
VERSIONS = [(), ("--trt-version", "8.2"), ("--trt-version", "8.6"), ("--trt-version", "11.0")]


@pytest.mark.parametrize("src", ["model.onnx", "model.pt"])
def test_dry_run_and_emit_write_nothing(folder, src, capsys, monkeypatch):
    monkeypatch.chdir(folder)  # missing.cache: relative to the folder, and absent
    before = _snapshot(folder)
    codes = set()
    for precision in PRECISIONS:
        for mode in MODES:
            for version in VERSIONS:
                rc, out, err = _run(capsys, folder / src, "--precision", *precision, *mode, *version,
                                    "--calib-num", "8", "--out", folder / "m.engine")
                assert "Traceback" not in err and rc in (0, 1), (precision, mode, version, err)
                codes.add(rc)
                assert _snapshot(folder) == before, (src, precision, mode, version)
                for line in out.splitlines():  # every trtexec command printed reads a file that exists
                    line = line.split("trtexec: ", 1)[-1]
                    if line.startswith("trtexec "):
                        read = [a.split("=", 1)[1] for a in shlex.split(line) if a.startswith(("--onnx=", "--calib="))]
                        assert read and all(Path(f).is_file() for f in read), (precision, mode, version, line)
    assert codes == {0, 1}  # some variants print commands, some say what to run first


def test_fp16_emit_names_the_prepare_step_and_then_reads_its_files(folder, capsys):
    onnx, engine = folder / "model.onnx", folder / "m.engine"
    rc, out, err = _run(capsys, onnx, "--precision", "fp16", "--emit-trtexec", "--trt-version", "10.3", "--calib-num", "8",
                        "--out", engine)
    assert rc == 1 and out == "" and len(err.strip().splitlines()) == 1 and "run first `ran-edge build-engine" in err
    prepare = shlex.split(err.split("run first `", 1)[1].split("`", 1)[0])
    assert prepare[:2] == ["ran-edge", "build-engine"] and "--prepare-only" in prepare
    assert main(prepare[1:]) == 0  # the named command works as printed
    capsys.readouterr()
    rc, out, _ = _run(capsys, onnx, "--precision", "fp16", "--emit-trtexec", "--trt-version", "10.3", "--calib-num", "8",
                      "--out", engine)
    assert rc == 0
    before = _snapshot(folder)
    line = out.strip().splitlines()[-1]
    assert line.startswith("trtexec --onnx=") and "--fp16" in line
    assert Path(shlex.split(line)[1][len("--onnx="):]).is_file()
    assert _snapshot(folder) == before


def _nano_refusal(capsys, onnx, engine):
    rc, out, err = _run(capsys, onnx, "--precision", "fp16", "--emit-trtexec", "--trt-version", "8.2", "--out", engine)
    lines = err.strip().splitlines()
    assert rc == 1 and out == "" and len(lines) == 1
    assert "reads opsets up to 13, but" in lines[0] and "has opset 17" in lines[0]
    return shlex.split(lines[0].split("re-export it first with `", 1)[1].split("`", 1)[0])


def test_nano_refuses_an_unreadable_opset_with_the_exact_re_export(folder, capsys):
    engine = folder / "m.engine"
    # a sidecar that does not name its checkpoint gets a placeholder
    assert _nano_refusal(capsys, folder / "model.onnx", engine)[2] == "CHECKPOINT.pt"
    assert main(["export", str(folder / "model.pt"), "--out", str(folder / "cli.onnx")]) == 0  # opset 17, the default
    capsys.readouterr()
    export = _nano_refusal(capsys, folder / "cli.onnx", engine)
    assert export[:3] == ["ran-edge", "export", str(folder / "model.pt")] and export[export.index("--opset") + 1] == "13"
    assert main(export[1:]) == 0  # the command runs as printed
    new = Path(export[export.index("--out") + 1])
    capsys.readouterr()
    rc, out, _ = _run(capsys, new, "--precision", "fp16", "--emit-trtexec", "--trt-version", "8.2", "--out", engine)
    line = out.strip().splitlines()[-1]
    assert rc == 0 and line.startswith(f"trtexec --onnx={new} --saveEngine={engine}") and "--fp16" in line
    assert not engine.exists()


def test_nano_from_a_checkpoint_prepares_an_opset_13_export(folder, capsys):
    engine = folder / "nano" / "m.engine"
    argv = [folder / "model.pt", "--precision", "fp32", "--trt-version", "8.2", "--out", engine]
    rc, out, err = _run(capsys, *argv[:1], "--emit-trtexec", *argv[1:])
    assert rc == 1 and "run first `ran-edge build-engine" in err and "--prepare-only" in err
    assert not (folder / "nano").exists()
    rc, _, _ = _run(capsys, *argv[:1], "--prepare-only", *argv[1:])
    from ran_edge.artifact import read_sidecar

    assert rc == 0 and read_sidecar(folder / "nano" / "m.onnx").extra["opset"] == 13  # what the Nano's parser reads
    rc, out, _ = _run(capsys, *argv[:1], "--emit-trtexec", *argv[1:])
    assert rc == 0 and out.strip().splitlines()[-1].startswith(f"trtexec --onnx={folder / 'nano' / 'm.onnx'} ")
