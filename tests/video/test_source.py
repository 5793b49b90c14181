from __future__ import annotations

import numpy as np
import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.video.source import CaptureSource, ReopenPolicy, SourceKind, classify_source, open_source

cv2 = pytest.importorskip("cv2")


def _write_video(path, n=12, size=(64, 48)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), 20 * i % 255, np.uint8))
    w.release()
    return path


def test_classify_source():
    assert classify_source("0") is SourceKind.CAMERA
    assert classify_source("rtsp://cam.local/stream") is SourceKind.STREAM
    assert classify_source("nvarguscamerasrc ! nvvidconv ! appsink") is SourceKind.STREAM
    assert classify_source("clip.mp4") is SourceKind.FILE


def test_video_file_reads_every_frame_then_ends(tmp_path):
    path = _write_video(tmp_path / "a.mp4")
    with open_source(str(path)) as src:
        frames = list(src)
    assert [f.index for f in frames] == list(range(12))
    assert frames[3].timestamp == pytest.approx(0.3)
    assert src.stats.delivered == 12 and src.stats.skipped == 0 and src.frame_count == 12


def test_folder_skips_and_counts_unreadable_images(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((20, 30, 3), 50 * i, np.uint8))
    (tmp_path / "001b.jpg").write_bytes(b"not an image at all")
    src = open_source(str(tmp_path), fps=5.0)
    frames = list(src)
    assert len(frames) == 3 and src.stats.skipped == 1
    assert frames[2].timestamp == pytest.approx(0.4) and int(frames[2].image[0, 0, 0]) == 100


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "missing.mp4", "source not found"),
    (lambda p: (p / "junk.mp4").write_bytes(b"\x00garbage" * 100) and p / "junk.mp4", "cannot read video"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no images found"),
])
def test_bad_sources_are_one_line_user_errors(tmp_path, make, match):
    with pytest.raises(RanEdgeError, match=match) as info:
        open_source(str(make(tmp_path)))
    assert "\n" not in str(info.value)


def test_live_source_reopens_with_backoff_then_gives_up(tmp_path):
    """A real capture treated as live: the end of the file is a drop. Reopens 1-2 fail, 3 works
    (5 more frames, the count restarts), then 3 failures in a row end the stream cleanly."""
    path = _write_video(tmp_path / "live.mp4", n=5)
    waits, opened = [], []

    def opener():
        opened.append(1)
        good = len(opened) in (1, 4)
        return cv2.VideoCapture(str(path) if good else str(tmp_path / "gone.mp4"))

    src = CaptureSource(path, SourceKind.STREAM, live=True, policy=ReopenPolicy(max_reopen=3, base_s=0.25),
                        open_capture=opener, sleep=waits.append)
    frames = list(src)
    assert [f.index for f in frames] == list(range(10))
    assert src.stats.reopened == 6 and src.stats.gave_up
    assert waits == [0.25, 0.5, 1.0, 0.25, 0.5, 1.0]  # exponential back-off, restarted after a good frame


def test_live_source_that_cannot_reopen_ends_cleanly(tmp_path):
    path = _write_video(tmp_path / "live.mp4", n=4)
    opened = []

    def opener():
        opened.append(1)
        return cv2.VideoCapture(str(path) if len(opened) == 1 else str(tmp_path / "gone.mp4"))

    src = CaptureSource(path, SourceKind.STREAM, live=True, policy=ReopenPolicy(max_reopen=3, base_s=0.0),
                        open_capture=opener, sleep=lambda s: None)
    assert len(list(src)) == 4
    assert src.stats.reopened == 3 and src.stats.gave_up and len(opened) == 4
