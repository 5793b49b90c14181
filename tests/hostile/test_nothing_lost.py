"""Issue 24: the hostile-input gaps that remained, one test group per class (bounds and the serve drain have their own
files, ``test_bounds.py`` and ``test_serve_live.py``).

1. an output onto an input's companion (sidecar, calibration manifest) or onto another output is refused first;
3. a run that processed nothing is a failure, and writes nothing;
4. one artifact validation: a pair that one command refuses, every command refuses, with the same line;
5. a failed or interrupted command leaves no folder behind;
7. hand-edited checkpoints and sidecars of the wrong types are one line, never a traceback;
8. ``build-engine --dry-run`` / ``--emit-trtexec`` refuse the outputs a build would refuse.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Dict, List

import pytest

from tests.hostile.helpers import assert_one_line_failure, digest, run_cli, staging_left

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

SYN = "synthetic:n_train=8,n_val=8,n_test=8,size=32"


def _side(p: Path) -> Path:
    return Path(str(p) + ".json")


def _unchanged_and_absent(work: Dict[str, Path], tmp_path: Path, argv: List[str], needle: str, absent: List[Path],
                          capsys) -> None:
    watched = [p for p in tmp_path.iterdir() if p.is_file()]
    before = digest(watched)
    code, err = run_cli(argv, capsys)
    assert_one_line_failure(code, err, needle)
    assert digest(watched) == before, "an input (or its companion) changed"
    for p in absent:
        assert not p.exists(), f"{p} was written by a refused command"
    assert not staging_left(tmp_path)


# 1 + 8: outputs against inputs, their companions and each other, before any work ---------------------------------
def _manifest(w: Dict[str, Path]) -> Path:
    """A calibration manifest beside the model (as ``calibrate`` writes one beside its INT8 file)."""
    m = w["onnx"].with_name("model.calibration.json")
    m.write_text(json.dumps({"files": ["face0.png"]}))
    return m


def _copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    shutil.copy(_side(src), _side(dst))
    return dst


COMPANION_CASES: Dict[str, Callable[[Dict[str, Path], Path], tuple]] = {
    "calibrate --report onto the input's sidecar (the issue's case)": lambda w, t: (
        ["calibrate", str(w["onnx"]), "--data", "synthetic", "--num", "8", "--report", str(_side(w["onnx"])),
         "--out", str(t / "q.onnx")], "belongs to the input", [t / "q.onnx"]),
    "calibrate --report onto the output's sidecar": lambda w, t: (
        ["calibrate", str(w["onnx"]), "--num", "8", "--report", str(t / "q.onnx.json"), "--out", str(t / "q.onnx")],
        "given twice", [t / "q.onnx", t / "q.onnx.json"]),
    "calibrate --trt-cache onto the output": lambda w, t: (
        ["calibrate", str(w["onnx"]), "--num", "8", "--trt-cache", str(t / "q.onnx"), "--out", str(t / "q.onnx")],
        "given twice", [t / "q.onnx"]),
    "calibrate --manifest onto the input's calibration manifest": lambda w, t: (
        ["calibrate", str(w["onnx"]), "--num", "8", "--manifest", str(_manifest(w)), "--out", str(t / "q.onnx")],
        "belongs to the input", [t / "q.onnx"]),
    "run --jsonl onto the model's calibration manifest": lambda w, t: (
        ["run", str(w["video"]), "--model", str(w["onnx"]), "--detector", "hog", "--no-progress",
         "--jsonl", str(_manifest(w))], "belongs to the input", []),
    "qat --out onto the model's sidecar": lambda w, t: (
        ["qat", str(w["onnx"]), "--out", str(_side(w["onnx"]))], "belongs to the input", []),
    "qat --out whose fine-tuned FP32 file is the input": lambda w, t: (
        ["qat", str(_copy(w["onnx"], t / "m.fp32.onnx")), "--out", str(t / "m.onnx")], "is the input", [t / "m.onnx"]),
    "build-engine --dry-run --out is the input": lambda w, t: (
        ["build-engine", str(w["onnx"]), "--dry-run", "--trt-version", "8.6", "--out", str(w["onnx"])], "is the input", []),
    "build-engine --dry-run --out onto the input's sidecar": lambda w, t: (
        ["build-engine", str(w["onnx"]), "--dry-run", "--trt-version", "8.6", "--out", str(_side(w["onnx"]))],
        "belongs to the input", []),
    "build-engine --dry-run --out under a regular file": lambda w, t: (
        ["build-engine", str(w["onnx"]), "--dry-run", "--trt-version", "8.6", "--out", str(w["onnx"]) + "/m.engine"],
        "not a folder", []),
    "build-engine --emit-trtexec --out onto the checkpoint": lambda w, t: (
        ["build-engine", str(w["pt"]), "--emit-trtexec", "--trt-version", "8.6", "--out", str(w["pt"])], "is the input", []),
    "build-engine --dry-run --out onto the timing cache": lambda w, t: (
        ["build-engine", str(w["onnx"]), "--dry-run", "--trt-version", "8.6", "--timing-cache", str(w["pt"]),
         "--out", str(w["pt"])], "is the input", []),
}


@pytest.mark.parametrize("name", sorted(COMPANION_CASES))
def test_an_output_onto_an_input_companion_or_another_output_is_refused_first(name, work, tmp_path, capsys):
    argv, needle, absent = COMPANION_CASES[name](work, tmp_path)
    _unchanged_and_absent(work, tmp_path, argv, needle, absent, capsys)


def test_a_refused_companion_output_loses_nothing_of_the_model(work, tmp_path, capsys):
    """The issue's case end to end: after the refusal the FP32 model still loads."""
    from ran_edge.runtime import load

    run_cli(["calibrate", str(work["onnx"]), "--report", str(_side(work["onnx"])), "--out", str(tmp_path / "q.onnx")],
            capsys)
    with load(work["onnx"]) as clf:
        assert len(clf.class_names) >= 2


# 3: processed nothing ---------------------------------------------------------------------------------------------
def _folder(t: Path, files: Dict[str, bytes]) -> Path:
    d = t / "frames"
    d.mkdir()
    for name, data in files.items():
        (d / name).write_bytes(data)
    return d


NOTHING = {
    "broken images": {"a.jpg": b"not a jpeg", "b.png": bytes(range(256)) * 4},
    "empty image files": {"a.png": b"", "b.jpg": b""},
    "an image that is a truncated PNG": {"a.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
}


@pytest.mark.parametrize("name", sorted(NOTHING))
def test_run_that_processed_no_frame_fails_and_writes_nothing(name, work, tmp_path, capsys):
    src = _folder(tmp_path, NOTHING[name])
    jsonl, video = tmp_path / "events.jsonl", tmp_path / "out.mp4"
    code, err = run_cli(["run", str(src), "--model", str(work["onnx"]), "--detector", "hog", "--no-progress",
                         "--jsonl", str(jsonl), "--out", str(video)], capsys)
    assert_one_line_failure(code, err, "no frame could be processed")
    assert not jsonl.exists() and not video.exists()
    assert not staging_left(tmp_path)


# 4: one artifact validation -----------------------------------------------------------------------------------------
def _edited(w: Dict[str, Path], t: Path, edit: Callable[[dict], None]) -> Path:
    p = t / "edited.onnx"
    shutil.copy(w["onnx"], p)
    side = json.loads(_side(w["onnx"]).read_text())
    edit(side)
    _side(p).write_text(json.dumps(side))
    return p


def _two_classes(d: dict) -> None:
    d["class_names"] = ["a", "b"]


def _two_classes_and_shape(d: dict) -> None:  # the sidecar made self-consistent: only the graph tells
    d["class_names"] = ["a", "b"]
    for o in d["outputs"]:
        if o["name"] == "logits":
            o["shape"] = [-1, 2]


def _three_regions(d: dict) -> None:
    for o in d["outputs"]:
        if o["name"] == "region_weights":
            o["shape"] = [-1, 3]


COMMANDS: Dict[str, Callable[[Path, Path, Dict[str, Path]], List[str]]] = {
    "inspect --check": lambda a, t, w: ["inspect", "--check", str(a)],
    "export-triton": lambda a, t, w: ["export-triton", str(a), "--repo", str(t / "repo")],
    "bench": lambda a, t, w: ["bench", str(a), "--batch", "1", "--iters", "1", "--warmup", "0", "--suites", "none",
                           "--no-plots", "--no-progress", "--out", str(t / "b")],
    "calibrate": lambda a, t, w: ["calibrate", str(a), "--num", "8", "--holdout-num", "8", "--out", str(t / "q.onnx")],
    "build-engine --dry-run": lambda a, t, w: ["build-engine", str(a), "--dry-run", "--trt-version", "8.6",
                                            "--out", str(t / "m.engine")],
    "run": lambda a, t, w: ["run", str(w["video"]), "--model", str(a), "--detector", "hog", "--max-frames", "1",
                            "--no-progress"],
}


@pytest.mark.parametrize("edit", [_two_classes, _two_classes_and_shape, _three_regions], ids=lambda f: f.__name__)
def test_every_command_refuses_a_mismatched_pair_with_the_same_line(edit, work, tmp_path, capsys):
    from ran_edge.errors import RanEdgeError
    from ran_edge.runtime import load

    artifact = _edited(work, tmp_path, edit)
    with pytest.raises(RanEdgeError) as info:
        load(artifact)
    lines = {}
    for name, argv in COMMANDS.items():
        code, err = run_cli(argv(artifact, tmp_path, work), capsys)
        assert_one_line_failure(code, err)
        lines[name] = err[0].split("error: ", 1)[1]
    assert set(lines.values()) == {str(info.value)}, lines
    assert not (tmp_path / "repo").exists() and not (tmp_path / "b").exists() and not (tmp_path / "q.onnx").exists()


def test_serve_validates_through_the_same_check(work, tmp_path):
    """``serve`` loads each instance with ``runtime.load``, which is the one validation (no Triton needed to see it)."""
    import inspect

    from ran_edge.runtime import classifier
    from ran_edge.serve import server

    assert "validate_artifact(" in inspect.getsource(classifier.load)
    assert "load(self.artifact" in inspect.getsource(server.TritonServer.start)


# 5: nothing left behind ---------------------------------------------------------------------------------------------
def test_export_with_missing_fp16_data_creates_no_folder(work, tmp_path, capsys):
    out = tmp_path / "new" / "sub" / "e.onnx"
    code, err = run_cli(["export", str(work["pt"]), "--out", str(out), "--check-fp16", "--fp16-data",
                         str(tmp_path / "nonexistent")], capsys)
    assert_one_line_failure(code, err, "nonexistent")
    assert not (tmp_path / "new").exists()


def test_calibration_that_fails_late_creates_no_folder(work, tmp_path, capsys, monkeypatch):
    from ran_edge.errors import RanEdgeError

    def late(*a, **k):
        raise RanEdgeError("the held-out check failed late")

    monkeypatch.setattr("ran_edge.quantize.calibrate.search_int8", late)
    out = tmp_path / "new" / "q.onnx"
    code, err = run_cli(["calibrate", str(work["onnx"]), "--num", "8", "--holdout-num", "8", "--out", str(out)], capsys)
    assert code == 1 and err[-1] == "ran-edge calibrate: error: the held-out check failed late", err  # (after progress)
    assert not (tmp_path / "new").exists()


def test_bench_interrupted_after_its_exports_leaves_no_folder(work, tmp_path, capsys, monkeypatch):
    """A checkpoint is exported into OUT/artifacts first; Ctrl-C right after that leaves neither the exports nor OUT."""
    import ran_edge.bench.loaders as loaders

    real = loaders.export_variant

    def export_then_ctrl_c(*a, **k):
        real(*a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(loaders, "export_variant", export_then_ctrl_c)
    out = tmp_path / "b"
    code, err = run_cli(["bench", str(work["pt"]), "--backend", "onnxruntime", "--paths", "region-batch", "--batch", "1",
                         "--iters", "1", "--warmup", "0", "--suites", "none", "--no-plots", "--no-progress",
                         "--out", str(out)], capsys)
    assert code == 130, err
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))


def test_train_that_fails_before_its_first_checkpoint_creates_no_folder(tmp_path, capsys, monkeypatch):
    from ran_edge.errors import RanEdgeError

    def fail(*a, **k):
        raise RanEdgeError("the data loader failed")

    monkeypatch.setattr("ran_edge.train.loop.PreparedFaces", fail)
    out = tmp_path / "runs" / "t"
    code, err = run_cli(["train", "--data", SYN, "--epochs", "1", "--trunk-width", "4", "--face-size", "32",
                         "--region-size", "16", "--no-progress", "--out", str(out)], capsys)
    assert_one_line_failure(code, err, "data loader failed")
    assert not (tmp_path / "runs").exists()


def test_result_set_removes_the_folders_it_created_unless_committed(tmp_path):
    from ran_edge.outputs import ResultSet

    target = tmp_path / "a" / "b" / "x.json"
    with pytest.raises(KeyboardInterrupt):
        with ResultSet([target]) as rs:
            rs.path(target).write_text("{}")
            raise KeyboardInterrupt
    assert not (tmp_path / "a").exists()
    with ResultSet([target]) as rs:
        rs.path(target).write_text("{}")
        rs.commit()
    assert target.read_text() == "{}" and not staging_left(tmp_path)


# 7: wrong-typed fields are one line ----------------------------------------------------------------------------------
CHECKPOINT_EDITS = {
    "schema_version a string": lambda c: c.update(schema_version="x"),
    "meta a string": lambda c: c.update(meta="nope"),
    "config.preprocess a string": lambda c: c["config"].update(preprocess="x"),
    "config.preset a list": lambda c: c["config"].update(preset=[1, 2]),
}


@pytest.mark.parametrize("name", sorted(CHECKPOINT_EDITS))
@pytest.mark.parametrize("command", ["inspect", "export", "eval"])
def test_a_checkpoint_with_wrong_typed_fields_is_one_line(name, command, work, tmp_path, capsys):
    import torch

    payload = torch.load(work["pt"], weights_only=True)
    payload["config"] = dict(payload["config"])
    CHECKPOINT_EDITS[name](payload)
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    argv = {"inspect": ["inspect", str(bad)], "export": ["export", str(bad), "--out", str(tmp_path / "e.onnx")],
            "eval": ["eval", str(bad), "--data", SYN]}[command]
    code, err = run_cli(argv, capsys)
    assert_one_line_failure(code, err, "checkpoint")
    assert not (tmp_path / "e.onnx").exists()


SIDECAR_EDITS = {
    "preprocess a string": lambda d: d.update(preprocess="x"),
    "one class": lambda d: d.update(class_names=["only"]),
    "inputs renamed": lambda d: d["inputs"][0].update(name="images"),
}


SIDECAR_CASES = [(n, c) for n in sorted(SIDECAR_EDITS) for c in ("inspect", "calibrate")
                 if (n, c) != ("inputs renamed", "calibrate")]  # (calibrate compared the input names already)


@pytest.mark.parametrize("name,command", SIDECAR_CASES)
def test_a_sidecar_with_wrong_fields_is_one_line(name, command, work, tmp_path, capsys):
    artifact = _edited(work, tmp_path, SIDECAR_EDITS[name])
    argv = {"inspect": ["inspect", "--check", str(artifact)],
            "calibrate": ["calibrate", str(artifact), "--num", "8", "--out", str(tmp_path / "q.onnx")]}[command]
    code, err = run_cli(argv, capsys)
    assert_one_line_failure(code, err, "edited.onnx")
    assert not (tmp_path / "q.onnx").exists()
