"""ran-edge run: expression recognition on a video, camera, image folder or stream."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run a model on video: detect, track and classify faces; write an annotated video and JSONL events"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE",
                   help="video file, image folder, camera index (0), stream URL (rtsp://...) or GStreamer pipeline")
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="a .pt checkpoint, or an artifact (.onnx, .engine, .ts) with its .json")
    p.add_argument("--backend", choices=("auto", "ort", "trt", "torchscript"), default=None,
                   help="runtime backend (default from the artifact's suffix; auto for a .pt: the fastest that works here)")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default=None,
                   help="run at this precision (default the model's own); derived models are built once into the cache")
    p.add_argument("--calib-data", default=None, metavar="synthetic|DIR",
                   help="INT8 calibration faces, for --precision int8 from an FP32 model")
    p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                   help="build cache folder (default $RAN_EDGE_CACHE_DIR, else the user's cache folder)")
    p.add_argument("--detector", default="haar", metavar="NAME[:PATH]",
                   help="haar (default, real faces, offline) | haar:CASCADE.xml | hog (synthetic faces) | "
                        "yunet:MODEL.onnx | oracle:TRUTH.json (evaluation only)")
    p.add_argument("--detect-every", type=int, default=1, metavar="N", help="detect on every N-th frame, track in between")
    p.add_argument("--smooth", default="ema:0.6", metavar="SPEC", help="ema:DECAY | window:N | none (default ema:0.6)")
    p.add_argument("--max-faces", type=int, default=0, metavar="N", help="classify at most N faces per frame (0 = all)")
    p.add_argument("--max-age", type=int, default=15, metavar="N", help="frames a track survives without detection (default 15)")
    p.add_argument("--kernel-device", default="cpu", help="device of the fused region-batch kernel: cpu | cuda[:N]")
    p.add_argument("--out", type=Path, default=None, metavar="VIDEO", help="annotated video (.mp4 mp4v, .avi MJPG)")
    p.add_argument("--jsonl", type=Path, default=None, metavar="FILE", help="one JSON line of results per frame")
    p.add_argument("--show", action="store_true", help="show the annotated frames in a window (needs OpenCV with GUI)")
    p.add_argument("--max-frames", type=int, default=0, metavar="N", help="stop after N frames (0 = whole source)")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate of an image folder (default 25)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _check(args: argparse.Namespace) -> None:
    """Bounds and output paths before the source or the model is opened."""
    from ran_edge.artifact import sidecar_path
    from ran_edge import option_checks as checks

    checks.float_range("--fps", args.fps, 0.0, 1000.0, low_open=True)
    checks.int_range("--detect-every", args.detect_every, 1, 10_000)
    checks.int_range("--max-faces", args.max_faces, 0, 10_000)
    checks.int_range("--max-age", args.max_age, 0, 1_000_000)
    checks.outputs([args.out, args.jsonl], inputs=[args.source, args.model, sidecar_path(args.model)])


def run(args: argparse.Namespace) -> int:
    from ran_edge.errors import RanEdgeError
    from ran_edge.video.pipeline import PipelineConfig
    from ran_edge.video.frame_loop import RunOutputs
    from ran_edge.video.session import VideoSession, check_model, run_session
    from ran_edge.video.smooth import SmoothConfig, Smoother
    from ran_edge.video.track import IouTracker, TrackerConfig

    config = PipelineConfig(detect_every=args.detect_every, max_faces=args.max_faces, kernel_device=args.kernel_device)
    smoother = Smoother(SmoothConfig.parse(args.smooth))
    tracker = IouTracker(TrackerConfig(max_age=args.max_age))
    if args.max_frames < 0:
        raise RanEdgeError(f"--max-frames must be >= 0, got {args.max_frames}")
    _check(args)
    check_model(args.model)
    session = VideoSession(args.source, args.model, backend=args.backend, detector=args.detector, fps=args.fps,
                           precision=args.precision, calib_data=args.calib_data, cache_dir=args.cache_dir)
    outputs = RunOutputs(args.out, args.jsonl, args.show, not args.no_progress, args.max_frames)
    return 130 if run_session(session, tracker, smoother, config, outputs).interrupted else 0
