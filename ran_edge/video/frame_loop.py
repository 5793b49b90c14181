"""The frame loop of ``ran-edge run``: source → pipeline → overlay → video file / JSONL / window.

Each stage is timed into the pipeline's :class:`~ran_edge.video.profile.StageClock`. Ctrl-C stops
the loop between frames and the output files are still finished (the video is released, the JSONL has
whole lines, both hold the same frames).
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, List, Optional

from ran_edge._lazy import is_available, require
from ran_edge.errors import RanEdgeError
from ran_edge.outputs import ResultSet
from ran_edge.video.events import EventWriter
from ran_edge.video.overlay import draw_results
from ran_edge.video.pipeline import FaceResult, Pipeline
from ran_edge.video.source import Frame, FrameSource


@dataclass(frozen=True)
class RunOutputs:
    """Where results go: annotated video (``.mp4`` → mp4v, ``.avi`` → MJPG), JSONL events, a window."""

    video: Optional[Path] = None
    jsonl: Optional[Path] = None
    show: bool = False
    progress: bool = True
    max_frames: int = 0  # 0 = until the source ends


@dataclass
class RunSummary:
    """What a run did."""

    frames: int = 0
    faces: int = 0
    interrupted: bool = False
    wall_s: float = 0.0
    outputs: list = field(default_factory=list)
    resized: int = 0  # frames scaled to the video's frame size (sources with mixed frame sizes)


class VideoSink:
    """``cv2.VideoWriter`` opened on the first frame (its size is known then)."""

    def __init__(self, path: Path, fps: float, shown: Optional[Path] = None):
        """``path``: the file written (a staged path); ``shown``: the path named in messages (the target)."""
        self.path, self.fps, self._w = Path(path), float(fps), None
        self.shown = Path(shown) if shown is not None else self.path
        if self.path.suffix.lower() not in (".mp4", ".avi", ".mkv", ".mov"):
            raise RanEdgeError(f"--out {self.shown}: unsupported video type; expected .mp4 (mp4v) or .avi (MJPG)")
        self.frames = 0
        self.resized = 0  # frames of another size than the first, scaled to it (a video has one frame size)
        self._size: Optional[tuple] = None

    def write(self, frame: Any) -> None:
        cv2 = require("cv2", feature="writing video")
        if self._w is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            code = "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"
            h, w = frame.shape[:2]
            self._size = (w, h)
            self._w = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*code), self.fps, (w, h))
            if not self._w.isOpened():
                raise RanEdgeError(f"--out {self.shown}: OpenCV cannot write this file; expected a writable .mp4 or .avi path")
        if (frame.shape[1], frame.shape[0]) != self._size:  # VideoWriter would drop it silently
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
            self.resized += 1
        self._w.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._w is not None:
            self._w.release()
            self._w = None


def _check_show() -> Any:
    cv2 = require("cv2", feature="--show")
    try:
        cv2.namedWindow("ran-edge", cv2.WINDOW_NORMAL)
    except cv2.error:
        raise RanEdgeError("--show needs OpenCV with a GUI (opencv-python, not opencv-python-headless) "
                           "and a display; use --out to write a video instead") from None
    return cv2


class _InterruptBetweenFrames:
    """While active (main thread only), Ctrl-C sets ``requested`` instead of raising, so the loop stops
    *between* frames and the video and the JSONL always hold the same frames. A second Ctrl-C (e.g. while
    a live source blocks) raises KeyboardInterrupt at once; outside the main thread Ctrl-C raises as usual."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> "_InterruptBetweenFrames":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def run_video(source: FrameSource, pipeline: Pipeline, outputs: RunOutputs,
              on_frame: Optional[Callable[[Frame, List[FaceResult]], None]] = None) -> RunSummary:
    """Process every frame of ``source``; see the module docstring.

    Args:
        source: frames (closed at the end).
        pipeline: the pipeline; its ``clock`` collects the stage times.
        outputs: where results go.
        on_frame: called with each frame and its results (e.g. to collect them for scoring).
    """
    clock, summary = pipeline.clock, RunSummary()
    cv2 = _check_show() if outputs.show else None
    result = ResultSet([p for p in (outputs.video, outputs.jsonl) if p])  # video + JSONL appear together
    try:
        sink = VideoSink(result.path(outputs.video), source.fps, outputs.video) if outputs.video else None
        events = EventWriter(result.path(outputs.jsonl), pipeline.class_names) if outputs.jsonl else None
    except BaseException:
        result.__exit__(None, None, None)
        raise
    bar = _progress(source, outputs)
    t_start = time.perf_counter()
    frames = iter(source)
    interrupt = _InterruptBetweenFrames()
    finished = False
    try:
        with interrupt:
            while not outputs.max_frames or summary.frames < outputs.max_frames:
                if interrupt.requested:
                    summary.interrupted = True
                    break
                with clock("decode"):
                    frame = next(frames, None)
                if frame is None:
                    break
                results = pipeline.process(frame.image)
                if on_frame is not None:
                    on_frame(frame, results)
                summary.frames += 1
                summary.faces += len(results)
                if sink is not None or cv2 is not None:
                    with clock("overlay"):
                        drawn = draw_results(frame.image.copy(), results)
                    if sink is not None:
                        with clock("encode"):
                            sink.write(drawn)
                    if cv2 is not None:
                        cv2.imshow("ran-edge", drawn)
                        if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                            break
                if events is not None:
                    with clock("events"):
                        events.write(frame.index, frame.timestamp, results)
                if bar is not None:
                    bar.update(1)
        finished = True
    except KeyboardInterrupt:  # a second Ctrl-C, or Ctrl-C outside the main thread
        summary.interrupted = finished = True
    finally:
        if bar is not None:
            bar.close()
        if sink is not None:
            sink.close()
            summary.resized = sink.resized
        if events is not None:
            events.close()
        source.close()
        if cv2 is not None:
            cv2.destroyAllWindows()
        try:
            # whole frames in both files (also after Ctrl-C); after an error, or when no frame was processed, neither
            if finished and summary.frames:
                if sink is not None and sink.frames == 0:
                    result.drop(outputs.video)
                summary.outputs = [str(p) for p in result.commit()]
        finally:
            result.__exit__(None, None, None)
        summary.wall_s = time.perf_counter() - t_start
    if not summary.frames and not summary.interrupted:  # processed nothing: a failure, not an empty success
        skipped = source.stats.skipped
        raise RanEdgeError(f"{source.description}: no frame could be processed"
                           + (f" ({skipped} unreadable frame(s) skipped)" if skipped else " (the source gave no frame)")
                           + "; expected a source with at least one readable frame; nothing was written")
    return summary


def _progress(source: FrameSource, outputs: RunOutputs) -> Any:
    if not outputs.progress or not is_available("tqdm"):
        return None
    tqdm = require("tqdm").tqdm
    total = source.frame_count
    if outputs.max_frames and total:
        total = min(total, outputs.max_frames)
    return tqdm(total=total, unit="frame", desc="ran-edge run", dynamic_ncols=True)
