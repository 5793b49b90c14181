"""One ``ran-edge run`` session: open the source, the detector and the model, run the pipeline, log the summary."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from ran_edge.errors import RanEdgeError

if TYPE_CHECKING:
    from ran_edge.video.pipeline import PipelineConfig
    from ran_edge.video.frame_loop import RunOutputs, RunSummary
    from ran_edge.video.smooth import Smoother
    from ran_edge.video.track import IouTracker

Log = Callable[[str], None]


@dataclass(frozen=True)
class VideoSession:
    """Where the frames come from and what classifies them.

    Attributes:
        source: video file, image folder, camera index, stream URL or GStreamer pipeline.
        model: artifact (.onnx, .engine, .ts) with its sidecar, as given (messages name it so).
        backend: runtime backend (None: from the artifact's suffix).
        detector: detector spec (``haar``, ``haar:CASCADE.xml``, ``hog``, ``yunet:MODEL.onnx``, ``oracle:TRUTH.json``).
        fps: frame rate of an image folder.
        precision: run at this precision (None: the model's own); see :func:`ran_edge.runtime.load`.
        calib_data: INT8 calibration faces for ``precision="int8"`` from an FP32 model.
        cache_dir: the build cache folder (None: ``$RAN_EDGE_CACHE_DIR``, else the user's cache folder).
    """

    source: str
    model: str
    backend: Optional[str] = None
    detector: str = "haar"
    fps: float = 25.0
    precision: Optional[str] = None
    calib_data: Optional[str] = None
    cache_dir: Optional[Path] = None


def check_model(model: str) -> None:
    """The model file exists (a one-line error naming the commands that make one, else)."""
    if not Path(model).is_file():
        raise RanEdgeError(f"--model {model}: artifact not found; expected a .pt checkpoint or an .onnx/.engine/.ts file made by "
                           "'ran-edge export' or 'ran-edge build-engine'")


def run_session(session: VideoSession, tracker: IouTracker, smoother: Smoother, config: PipelineConfig,
                outputs: RunOutputs, log: Log = print) -> RunSummary:
    """Run the pipeline over the source into ``outputs``, then log frames, FPS, source trouble, the stage
    clock and the files written. The summary's ``interrupted`` is set after Ctrl-C."""
    from ran_edge.video.detect import make_detector
    from ran_edge.video.pipeline import Pipeline
    from ran_edge.video.frame_loop import run_video
    from ran_edge.video.source import open_source

    source = open_source(session.source, fps=session.fps)
    try:
        detector = make_detector(session.detector)
        from ran_edge.runtime import load

        classifier = load(session.model, backend=session.backend, precision=session.precision,
                          calib_data=session.calib_data, cache_dir=session.cache_dir, log=log)
    except BaseException:
        source.close()
        raise
    from ran_edge.artifact import synthetic_training_note, training_data_of

    note = synthetic_training_note(Path(session.model).name, training_data_of(classifier.meta))
    if note:
        log(f"note: {note}")
    with classifier:
        pipe = Pipeline(classifier, detector, tracker, smoother, config)
        summary = run_video(source, pipe, outputs)
    stats = source.stats
    what = "interrupted after" if summary.interrupted else "processed"
    log(f"{what} {summary.frames} frames from {source.description} in {summary.wall_s:.1f} s "
        f"({summary.frames / max(summary.wall_s, 1e-9):.1f} FPS end to end), {summary.faces} face results; "
        f"path {pipe.path.value}, detector {detector.name}, smoothing {smoother.config.describe()}")
    if stats.skipped or stats.reopened or stats.gave_up:
        log(f"source: {stats.skipped} unreadable frames skipped, {stats.reopened} reopens"
            + ("; gave up after the last reopen" if stats.gave_up else ""))
    log(pipe.clock.table())
    if summary.resized:
        log(f"note: {summary.resized} frames had another size than the first and were scaled to it in {outputs.video}")
    for path in summary.outputs:
        log(f"wrote {path}")
    sys.stdout.flush()
    return summary
