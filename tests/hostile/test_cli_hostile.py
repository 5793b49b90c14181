"""Every command under hostile paths, files and options: exit 1, one line, no traceback, inputs unchanged,
nothing written (issue #15 findings 1, 2, 4, 5, 6, 11)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple

import pytest

from tests.hostile.helpers import assert_one_line_failure, digest, run_cli, staging_left

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

SYN = "synthetic:n_train=8,n_val=8,n_test=8,size=32"


class Case(NamedTuple):
    argv: List[str]
    inputs: List[Path]  # hashed before and after: must not change
    absent: List[Path]  # must not exist afterwards
    needle: str  # what the one line must say


Builder = Callable[[Dict[str, Path], Path], Case]


def _link(t: Path, target: Path, name: str) -> Path:
    link = t / name
    link.symlink_to(target)
    return link


def _file(t: Path, name: str, data: bytes) -> Path:
    p = t / name
    p.write_bytes(data)
    return p


def _with_sidecar_of(t: Path, name: str, data: bytes, donor: Path, hashed: bool = True) -> Path:
    """``data`` as ``name`` with ``donor``'s sidecar (without its sha256 when not ``hashed``: an older sidecar)."""
    import json

    p = _file(t, name, data)
    side = json.loads(Path(str(donor) + ".json").read_text())
    if not hashed:
        side.get("extra", {}).pop("onnx_sha256", None)
    Path(str(p) + ".json").write_text(json.dumps(side))
    return p


# finding 1: same path for input and output (also through a link) ------------------------------------------------
SAME_PATH: Dict[str, Builder] = {
    "export pt->pt": lambda w, t: Case(["export", str(w["pt"]), "--out", str(w["pt"])], [w["pt"]], [], "is the input"),
    "export via link": lambda w, t: Case(["export", str(w["pt"]), "--out", str(_link(t, w["pt"], "l.onnx"))], [w["pt"]], [],
                                         "is the input"),
    "export sidecar onto input": lambda w, t: Case(  # the checkpoint is named like the sidecar the export would write
        ["export", str(_file(t, "e.onnx.json", w["pt"].read_bytes())), "--out", str(t / "e.onnx")],
        [t / "e.onnx.json"], [t / "e.onnx"], "is the input"),
    "calibrate onnx->onnx": lambda w, t: Case(["calibrate", str(w["onnx"]), "--out", str(w["onnx"])],
                                              [w["onnx"], Path(str(w["onnx"]) + ".json")], [], "is the input"),
    "calibrate manifest onto input": lambda w, t: Case(["calibrate", str(w["onnx"]), "--out", str(t / "q.onnx"),
                                                        "--manifest", str(w["onnx"])], [w["onnx"]], [t / "q.onnx"], "is the input"),
    "calibrate cache onto sidecar": lambda w, t: Case(["calibrate", str(w["onnx"]), "--out", str(t / "q.onnx"),
                                                       "--trt-cache", str(w["onnx"]) + ".json"],
                                                      [Path(str(w["onnx"]) + ".json")], [t / "q.onnx"], "is the input"),
    "calibrate report onto input": lambda w, t: Case(["calibrate", str(w["onnx"]), "--out", str(t / "q.onnx"),
                                                      "--report", str(w["onnx"])], [w["onnx"]], [t / "q.onnx"], "is the input"),
    "run video->video": lambda w, t: Case(["run", str(w["video"]), "--model", str(w["onnx"]), "--out", str(w["video"])],
                                          [w["video"]], [], "is the input"),
    "run jsonl onto model": lambda w, t: Case(["run", str(w["video"]), "--model", str(w["onnx"]), "--jsonl", str(w["onnx"])],
                                              [w["onnx"]], [], "is the input"),
    "eval json onto checkpoint": lambda w, t: Case(["eval", str(w["pt"]), "--json", str(w["pt"])], [w["pt"]], [], "is the input"),
    "import-checkpoint in place": lambda w, t: Case(["import-checkpoint", str(w["pt"]), "--out", str(w["pt"])], [w["pt"]], [],
                                                    "is the input"),
    "bench out is the artifact": lambda w, t: Case(["bench", str(w["onnx"]), "--out", str(w["onnx"])], [w["onnx"]], [],
                                                   "is the input"),
    "export-triton repo is the artifact": lambda w, t: Case(["export-triton", str(w["onnx"]), "--repo", str(w["onnx"])],
                                                            [w["onnx"]], [], "is the input"),
}

# finding 2: file-system errors ------------------------------------------------------------------------------------
BAD_PATHS: Dict[str, Builder] = {
    "export out is a folder": lambda w, t: Case(["export", str(w["pt"]), "--out", str(t)], [w["pt"]], [], "is a folder"),
    "export under a file": lambda w, t: Case(["export", str(w["pt"]), "--out", str(w["pt"]) + "/x.onnx"], [w["pt"]], [],
                                             "not a folder"),
    "export into /proc": lambda w, t: Case(["export", str(w["pt"]), "--out", "/proc/ran-edge-x.onnx"], [w["pt"]], [],
                                           "cannot write"),
    "calibrate into /proc": lambda w, t: Case(["calibrate", str(w["onnx"]), "--out", "/proc/q.onnx"], [w["onnx"]], [],
                                              "cannot write"),
    "calibrate out is a folder": lambda w, t: Case(["calibrate", str(w["onnx"]), "--out", str(t)], [w["onnx"]], [], "is a folder"),
    "eval json into /sys": lambda w, t: Case(["eval", str(w["pt"]), "--data", SYN, "--json", "/sys/ran-edge.json"], [w["pt"]], [],
                                             "cannot write"),
    "eval json is a folder": lambda w, t: Case(["eval", str(w["pt"]), "--data", SYN, "--json", str(t)], [w["pt"]], [],
                                               "is a folder"),
    "bench into /proc": lambda w, t: Case(["bench", str(w["onnx"]), "--out", "/proc/ran-edge-bench"], [w["onnx"]], [],
                                          "cannot write"),
    "train out is a file": lambda w, t: Case(["train", "--data", SYN, "--out", str(w["pt"])], [w["pt"]], [], "is a file"),
    "train into /proc": lambda w, t: Case(["train", "--data", SYN, "--out", "/proc/ran-edge-train"], [], [], "cannot write"),
    "export-triton into /proc": lambda w, t: Case(["export-triton", str(w["onnx"]), "--repo", "/proc/ran-edge-repo"],
                                                  [w["onnx"]], [], "cannot write"),
    "run out into /proc": lambda w, t: Case(["run", str(w["video"]), "--model", str(w["onnx"]), "--out", "/proc/x.mp4"],
                                            [w["video"]], [], "cannot write"),
}

# findings 4 and 7: options checked before any work ----------------------------------------------------------------
BAD_OPTIONS: Dict[str, Builder] = {
    "export --fp16-num 0": lambda w, t: Case(["export", str(w["pt"]), "--out", str(t / "e.onnx"), "--check-fp16", "--fp16-num", "0"],
                                             [w["pt"]], [t / "e.onnx", t / "e.onnx.json"], "--fp16-num"),
    "export --check-fp16, fp16 data missing": lambda w, t: Case(
        ["export", str(w["pt"]), "--out", str(t / "e.onnx"), "--check-fp16", "--fp16-data", str(t / "missing")],
        [w["pt"]], [t / "e.onnx", t / "e.onnx.json", t / "e.fp16.onnx"], "missing"),
    "export --batch 1e9": lambda w, t: Case(["export", str(w["pt"]), "--out", str(t / "e.onnx"), "--batch", "1000000000"],
                                            [w["pt"]], [t / "e.onnx"], "--batch"),
    "calibrate --trt-version garbage": lambda w, t: Case(["calibrate", str(w["onnx"]), "--out", str(t / "q.onnx"), "--trt-version",
                                                          "garbage"], [w["onnx"]], [t / "q.onnx"], "garbage"),
    "calibrate --batch-size 0": lambda w, t: Case(["calibrate", str(w["onnx"]), "--out", str(t / "q.onnx"), "--batch-size", "0"],
                                                  [w["onnx"]], [t / "q.onnx"], "--batch-size"),
    "run --fps 0": lambda w, t: Case(["run", str(t), "--model", str(w["onnx"]), "--fps", "0", "--jsonl", str(t / "e.jsonl")],
                                     [w["onnx"]], [t / "e.jsonl"], "--fps"),
    "run --detect-every 0": lambda w, t: Case(["run", str(w["video"]), "--model", str(w["onnx"]), "--detect-every", "0"],
                                              [w["video"]], [], "--detect-every"),
    "train --trunk-width 0": lambda w, t: Case(["train", "--data", SYN, "--trunk-width", "0", "--out", str(t / "tr")], [],
                                               [t / "tr"], "--trunk-width"),
    "train --device tpu": lambda w, t: Case(["train", "--data", SYN, "--device", "tpu", "--out", str(t / "tr")], [], [t / "tr"],
                                            "--device"),
    "train --workers -1": lambda w, t: Case(["train", "--data", SYN, "--workers", "-1", "--out", str(t / "tr")], [], [t / "tr"],
                                            "--workers"),
    "train --rb-margin -1": lambda w, t: Case(["train", "--data", SYN, "--rb-margin", "-1", "--out", str(t / "tr")], [], [t / "tr"],
                                              "--rb-margin"),
    "train --epochs 0": lambda w, t: Case(["train", "--data", SYN, "--epochs", "0", "--out", str(t / "tr")], [], [t / "tr"],
                                          "--epochs"),
    "bench --iters 0": lambda w, t: Case(["bench", str(w["onnx"]), "--iters", "0", "--out", str(t / "b")], [w["onnx"]], [t / "b"],
                                         "--iters"),
    "bench --threads 1e6": lambda w, t: Case(["bench", str(w["onnx"]), "--threads", "1000000", "--out", str(t / "b")], [w["onnx"]],
                                             [t / "b"], "--threads"),
    "eval --batch-size 0": lambda w, t: Case(["eval", str(w["pt"]), "--batch-size", "0"], [w["pt"]], [], "--batch-size"),
    "export-triton --instances 0": lambda w, t: Case(["export-triton", str(w["onnx"]), "--repo", str(t / "r"), "--instances", "0"],
                                                     [w["onnx"]], [t / "r"], "--instances"),
    "argparse: unknown option": lambda w, t: Case(["export", str(w["pt"]), "--out", str(t / "e.onnx"), "--bogus"], [w["pt"]],
                                                  [t / "e.onnx"], "unrecognized"),
    "argparse: bad int": lambda w, t: Case(["bench", str(w["onnx"]), "--iters", "many"], [w["onnx"]], [], "--iters"),
    "argparse: missing --out": lambda w, t: Case(["export", str(w["pt"])], [w["pt"]], [], "--out"),
}

# findings 5 and 11: bad or mismatched files ----------------------------------------------------------------------
RANDOM = bytes(range(256)) * 40
BAD_FILES: Dict[str, Builder] = {
    "export random bytes": lambda w, t: Case(["export", str(_file(t, "r.pt", RANDOM)), "--out", str(t / "e.onnx")], [], [t / "e.onnx"],
                                             "not a PyTorch checkpoint"),
    "export an ONNX as checkpoint": lambda w, t: Case(["export", str(w["onnx"]), "--out", str(t / "e.onnx")], [w["onnx"]],
                                                      [t / "e.onnx"], "an ONNX model?"),
    "export empty checkpoint": lambda w, t: Case(["export", str(_file(t, "empty.pt", b"")), "--out", str(t / "e.onnx")], [],
                                                 [t / "e.onnx"], "empty file"),
    "eval truncated checkpoint": lambda w, t: Case(["eval", str(_file(t, "cut.pt", w["pt"].read_bytes()[:1000])), "--data", SYN], [],
                                                   [], "truncated"),
    "calibrate random bytes with a sidecar": lambda w, t: Case(["calibrate", str(_with_sidecar_of(t, "r.onnx", RANDOM, w["onnx"])),
                                                                "--out", str(t / "q.onnx")], [], [t / "q.onnx"], "not an ONNX"),
    "calibrate another model's sidecar": lambda w, t: Case(["calibrate", str(_with_sidecar_of(t, "o.onnx", w["regions"].read_bytes(),
                                                                                              w["onnx"])),
                                                            "--out", str(t / "q.onnx")], [], [t / "q.onnx"], "sha256"),
    "export-triton random bytes": lambda w, t: Case(["export-triton", str(_with_sidecar_of(t, "r.onnx", RANDOM, w["onnx"])), "--repo",
                                                     str(t / "repo")], [], [t / "repo"], "sha256"),
    "inspect tampered .ts": lambda w, t: Case(["inspect", str(_with_sidecar_of(t, "x.ts", w["ts"].read_bytes() + b"JUNK", w["ts"]))],
                                              [], [], "sha256"),
    "build-engine --dry-run corrupt": lambda w, t: Case(["build-engine", str(_with_sidecar_of(t, "c.onnx", RANDOM, w["onnx"])),
                                                         "--dry-run", "--out", str(t / "c.engine")], [], [t / "c.engine"], "sha256"),
    "engine without sidecar": lambda w, t: Case(["inspect", str(_file(t, "m.engine", RANDOM))], [], [], "build-engine"),
    "bench random bytes without a hash": lambda w, t: Case(["bench", str(_with_sidecar_of(t, "r.onnx", RANDOM, w["onnx"], hashed=False)),
                                                           "--batch", "1", "--iters", "1", "--warmup", "0", "--suites", "none",
                                                           "--no-plots", "--no-progress", "--out", str(t / "b")],
                                                          [], [], "not an ONNX model"),
}

ALL = {**{f"same-path: {k}": v for k, v in SAME_PATH.items()}, **{f"bad path: {k}": v for k, v in BAD_PATHS.items()},
       **{f"bad option: {k}": v for k, v in BAD_OPTIONS.items()}, **{f"bad file: {k}": v for k, v in BAD_FILES.items()}}


@pytest.mark.parametrize("name", sorted(ALL))
def test_hostile_command_is_one_line_exit_1_and_changes_nothing(name, work, tmp_path, capsys):
    case = ALL[name](work, tmp_path)
    watched = list(case.inputs) + [p for p in tmp_path.iterdir() if p.is_file()]
    before = digest(watched)
    code, err = run_cli(case.argv, capsys)
    assert_one_line_failure(code, err, case.needle)
    assert digest(watched) == before, "an input changed"
    for p in case.absent:
        assert not p.exists(), f"{p} was written by a failed command"
    assert not staging_left(tmp_path), staging_left(tmp_path)


def test_verbose_shows_the_traceback(work, tmp_path, capsys):
    code, _ = run_cli(["export", "-v", str(work["pt"]), "--out", str(work["pt"])], capsys)
    assert code == 1
    # -v is also accepted after the command; the traceback goes to stderr with the one line last
    from ran_edge.cli.main import main

    assert main(["export", "-v", str(work["pt"]), "--out", str(work["pt"])]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("ran-edge export: error:")


# finding 10: outputs get the user's umask -------------------------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_outputs_get_the_users_umask(mask, work, tmp_path, capsys):
    old = os.umask(mask)
    try:
        code, err = run_cli(["eval", str(work["pt"]), "--data", SYN, "--json", str(tmp_path / "eval.json")], capsys)
        assert code == 0, err
        from ran_edge.model.checkpoint import load_checkpoint, save_checkpoint

        save_checkpoint(tmp_path / "copy.pt", load_checkpoint(work["pt"])[0])
    finally:
        os.umask(old)
    for f in ("eval.json", "copy.pt"):
        assert (tmp_path / f).stat().st_mode & 0o777 == 0o666 & ~mask, f
