"""``ran-edge run`` end to end on the generated video, and its one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ran_edge.cli.main import main
from ran_edge.video.events import read_events

cv2 = pytest.importorskip("cv2")


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n


def test_run_writes_a_playable_annotated_video_and_jsonl(short_video, tiny_artifacts, tmp_path, capsys):
    path, truth = short_video
    out, jsonl = tmp_path / "annotated.mp4", tmp_path / "events.jsonl"
    rc = main(["run", str(path), "--model", str(tiny_artifacts["faces"]), "--detector", "hog", "--out", str(out),
               "--jsonl", str(jsonl), "--smooth", "window:5", "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0
    assert _frames(out) == _frames(path) == len(truth.frames)
    assert len(read_events(jsonl)) == len(truth.frames)
    for stage in ("decode", "detect", "preprocess", "infer", "overlay", "encode"):
        assert stage in text
    assert "FPS" in text and "smoothing window:5" in text


def test_run_with_max_frames_and_avi(short_video, tiny_artifacts, tmp_path):
    path, _ = short_video
    out = tmp_path / "a.avi"
    rc = main(["run", str(path), "--model", str(tiny_artifacts["regions"]), "--detector", "hog",
               "--out", str(out), "--max-frames", "7", "--no-progress"])
    assert rc == 0 and _frames(out) == 7


@pytest.mark.parametrize("args, message", [
    (["/nonexistent/clip.mp4"], "source not found"),
    (["JUNK"], "cannot read video"),
    (["99"], "cannot open camera 99"),
    (["VIDEO", "--smooth", "median:3"], "--smooth"),
    (["VIDEO", "--detector", "dlib"], "unknown detector"),
    (["VIDEO", "--detect-every", "0"], "--detect-every"),
    (["VIDEO", "--out", "OUT.gif"], "unsupported video type"),
])
def test_user_errors_are_one_line_exit_1(args, message, short_video, tiny_artifacts, tmp_path, capsys):
    path, _ = short_video
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01garbage" * 64)
    subst = {"VIDEO": str(path), "JUNK": str(junk), "OUT.gif": str(tmp_path / "o.gif")}
    argv = ["run", *[subst.get(a, a) for a in args], "--model", str(tiny_artifacts["faces"]), "--detector"]
    argv = argv[:-1] if "--detector" in args else argv + ["hog"]
    try:
        rc = main(argv + ["--no-progress"])
    except SystemExit as exc:  # bounds are checked when the command line is parsed (docs/bounds.md)
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert len(err.splitlines()) == 1 and message in err, err


def test_missing_model_is_one_line_exit_1(short_video, tmp_path, capsys):
    path, _ = short_video
    rc = main(["run", str(path), "--model", str(tmp_path / "nope.onnx")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "artifact not found" in err


def test_video_package_imports_without_torch_or_cv2():
    code = ("import sys; sys.modules['torch'] = None; sys.modules['cv2'] = None; sys.modules['tensorrt'] = None\n"
            "import ran_edge.video, ran_edge.video.frame_loop, ran_edge.video.hog, ran_edge.video.scoring, ran_edge.cli.run\n"
            "from ran_edge.cli.main import build_parser; build_parser().parse_args(['run', 'x', '--model', 'm.onnx'])\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ctrl_c_finishes_the_output_files(short_video, tiny_artifacts, tmp_path):
    """SIGINT in the middle of a run: exit 130, a readable video with as many frames as JSONL lines."""
    import json
    import signal
    import time

    path, _ = short_video
    cap, long = cv2.VideoCapture(str(path)), tmp_path / "long.mp4"
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    w = cv2.VideoWriter(str(long), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, (frames[0].shape[1], frames[0].shape[0]))
    for _ in range(8):
        for f in frames:
            w.write(f)
    w.release()
    out, jsonl = tmp_path / "int.mp4", tmp_path / "int.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "ran_edge.cli.main", "run", str(long), "--model",
                             str(tiny_artifacts["faces"]), "--detector", "hog", "--out", str(out), "--jsonl", str(jsonl),
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60

    def staged_lines() -> int:  # outputs are staged beside their targets until the run ends (a result set)
        staged = list(tmp_path.glob(".ran-edge-stage-*/int.jsonl"))
        return staged[0].read_text().count("\n") if staged else 0

    while time.time() < deadline and staged_lines() < 10:
        assert not jsonl.exists(), "the JSONL appeared before the run ended"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stdout and "Traceback" not in stderr
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert 10 <= len(lines) < 8 * len(frames)
    assert _frames(out) == len(lines)


def test_show_without_gui_is_a_one_line_error(short_video, tiny_artifacts, capsys):
    info = cv2.getBuildInformation()
    gui = info[info.find("GUI:"):].splitlines()[0] if "GUI:" in info else ""
    if "NONE" not in gui.upper():
        pytest.skip(f"this OpenCV has a GUI backend ({gui.strip()}); the headless error path cannot be checked")
    path, _ = short_video
    rc = main(["run", str(path), "--model", str(tiny_artifacts["faces"]), "--detector", "hog", "--show", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "--show needs OpenCV with a GUI" in err and len(err.splitlines()) == 1


def test_gstreamer_pipeline_without_gstreamer_is_explained(tiny_artifacts, capsys):
    from ran_edge.video.source import gstreamer_available

    if gstreamer_available():
        pytest.skip("this OpenCV has GStreamer; the missing-GStreamer message cannot be checked")
    rc = main(["run", "videotestsrc num-buffers=5 ! videoconvert ! appsink", "--model", str(tiny_artifacts["faces"])])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "no GStreamer support" in err and len(err.splitlines()) == 1
