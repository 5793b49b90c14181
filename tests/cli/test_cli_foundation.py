"""CLI behaviour of the foundation commands: one-line errors, exit codes, eval paths agree."""

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from ran_edge.cli.main import main  # noqa: E402
from ran_edge.model.checkpoint import save_checkpoint  # noqa: E402


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ran_edge", *args], capture_output=True, text=True, timeout=300)


def test_train_nonexistent_data_is_one_line_exit_1():
    proc = _run_cli("train", "--data", "/nonexistent", "--out", "/tmp/never")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_truncated_checkpoint_is_one_line_exit_1(tiny_ran, tmp_path):
    good = save_checkpoint(tmp_path / "m.pt", tiny_ran)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:1000])
    proc = _run_cli("eval", str(cut), "--data", "synthetic:n_train=7,n_val=7,n_test=14,size=32")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "truncated" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for cmd in ("train", "eval", "import-checkpoint", "demo"):
        assert cmd in out


def test_eval_both_paths_same_accuracy(tiny_ran, tmp_path):
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny_ran)
    data = "synthetic:n_train=7,n_val=7,n_test=42,size=32"
    reports = {}
    for path in ("region-batch", "per-region"):
        out = tmp_path / f"{path}.json"
        assert main(["eval", str(ckpt), "--data", data, "--path", path, "--json", str(out)]) == 0
        reports[path] = json.loads(out.read_text())
    a, b = reports["region-batch"], reports["per-region"]
    assert a["n"] == b["n"] == 42
    assert a["accuracy"] == b["accuracy"] and a["confusion"] == b["confusion"]
    assert set(a) >= {"accuracy", "per_class_accuracy", "confusion", "n"}
    assert 0.0 <= a["accuracy"] <= 1.0


def test_import_checkpoint_cli(tmp_path):
    from tests.model.test_checkpoint import _official_state

    path = tmp_path / "official.pth.tar"
    torch.save({"epoch": 1, "arch": "resnet18", "state_dict": _official_state(4, 8)}, path)
    out = tmp_path / "imported.pt"
    assert main(["import-checkpoint", str(path), "--preset", "ferplus6", "--classes", "ferplus", "--out", str(out)]) == 0
    from ran_edge.model.checkpoint import load_checkpoint

    model, payload = load_checkpoint(out)
    assert model.config.attention.value == "official" and model.config.num_classes == 8
    pp = model.config.preprocess
    assert pp.crop.value == "official-uint8" and pp.pil_filter.value == "bicubic"  # the default, recorded
    assert "bit-exact with Pillow" in payload["meta"]["crop"]
    out_float = tmp_path / "imported_float.pt"
    assert main(["import-checkpoint", str(path), "--preset", "ferplus6", "--classes", "ferplus", "--crop", "official",
                 "--out", str(out_float)]) == 0
    assert load_checkpoint(out_float)[0].config.preprocess.crop.value == "official"
    out2 = tmp_path / "imported_exact.pt"
    assert main(["import-checkpoint", str(path), "--preset", "ferplus6", "--classes", "ferplus", "--crop", "exact",
                 "--out", str(out2)]) == 0
    assert load_checkpoint(out2)[0].config.preprocess.crop.value == "exact"
    out3 = tmp_path / "imported_2019.pt"
    assert main(["import-checkpoint", str(path), "--preset", "affectnet8", "--classes", "ferplus", "--pil-filter",
                 "nearest", "--out", str(out3)]) == 0
    assert load_checkpoint(out3)[0].config.preprocess.pil_filter.value == "nearest"


def test_train_defaults_to_the_exact_crop_convention():
    import argparse

    from ran_edge.cli import train

    p = argparse.ArgumentParser()
    train.add_arguments(p)
    assert p.parse_args(["--out", "x"]).crop == "exact"
    assert p.parse_args(["--out", "x", "--crop", "official"]).crop == "official"
