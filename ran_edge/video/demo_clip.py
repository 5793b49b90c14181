"""The video part of ``ran-edge demo --video``: generate a labelled video, run a model on it, score it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

from ran_edge.video.scoring import VideoScore, score_video, true_label_switches_per_min


@dataclass(frozen=True)
class VideoDemoResult:
    """Files written and the scores against the composited expressions."""

    video: Path
    truth: Path
    annotated: Path
    events: Path
    score: VideoScore
    raw_score: VideoScore
    true_switches_per_min: float
    profile: Dict[str, Any]


def run_video_demo(artifact: Path, out_dir: Path, n_faces: int = 2, seconds: float = 8.0, detector: str = "hog",
                   smooth: str = "ema:0.6", seed: int = 0) -> VideoDemoResult:
    """Write ``faces.mp4`` (+ ``.json`` truth), run ``artifact`` on it into ``annotated.mp4`` and
    ``events.jsonl``, and score smoothed and per-frame labels.

    Args:
        artifact: model artifact (.onnx/.engine/.ts with sidecar).
        out_dir: folder for the four files.
        n_faces, seconds, seed: the generated video.
        detector: detector spec (``hog`` finds the synthetic faces; ``haar`` is for real video).
        smooth: smoothing spec.
    """
    import numpy as np

    from ran_edge.data.synthetic.video_gen import VideoScenario, write_test_video
    from ran_edge.runtime import load
    from ran_edge.video.detect import make_detector
    from ran_edge.video.pipeline import Pipeline
    from ran_edge.video.frame_loop import RunOutputs, run_video
    from ran_edge.video.smooth import SmoothConfig, Smoother
    from ran_edge.video.source import open_source

    out_dir = Path(out_dir)
    video = out_dir / "faces.mp4"
    geo = dict(width=640, height=360, face_size=128) if n_faces <= 4 else dict(width=960, height=540, face_size=112)
    truth = write_test_video(video, VideoScenario(n_faces=n_faces, seconds=seconds, seed=seed, **geo))
    smoothed: List[list] = []
    raw: List[list] = []

    def collect(frame: Any, res: list) -> None:
        smoothed.append([(r.track_id, r.box, r.index) for r in res])
        raw.append([(r.track_id, r.box, int(np.argmax(r.raw_probs)) if r.raw_probs is not None else r.index)
                    for r in res])

    with load(artifact) as clf:
        pipe = Pipeline(clf, make_detector(detector), smoother=Smoother(SmoothConfig.parse(smooth)))
        outputs = RunOutputs(out_dir / "annotated.mp4", out_dir / "events.jsonl", progress=False)
        run_video(open_source(str(video)), pipe, outputs, on_frame=collect)
    fps = truth.scenario.fps
    return VideoDemoResult(video, video.with_name(video.name + ".json"), out_dir / "annotated.mp4",
                           out_dir / "events.jsonl", score_video(smoothed, truth.frames, fps),
                           score_video(raw, truth.frames, fps), true_label_switches_per_min(truth.frames, fps),
                           pipe.clock.to_dict())
