"""Score pipeline results against the ground truth of a generated video (tests and benchmark).

Per frame, results are matched to true faces by IoU (greedy, highest first). Figures:
*coverage* (frames with a fully visible face where that face was found), *accuracy* (label of the
matched result equals the composited expression, on fully visible faces), *id stability* (distinct
result ids per true track) and *label switches per minute* of each result track.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence, Set

from ran_edge.video.geometry import iou_matrix


@dataclass(frozen=True)
class VideoScore:
    """Scores of one run (fractions in 0..1)."""

    frames: int
    visible_frames: int
    coverage: float  # frames where every fully visible face was found / frames with one
    face_recall: float  # fully visible face-frames found
    accuracy: float  # label correct / fully visible face-frames found
    ids_per_track: float  # mean distinct result ids per true track (1.0 = perfectly stable)
    id_switches: int
    label_switches_per_min: float
    false_faces: int  # results matching no true face

    def to_dict(self) -> Dict[str, float]:
        return asdict(self)


def score_video(results: Sequence[Sequence[tuple]], truth_frames: Sequence[Sequence], fps: float,
                min_iou: float = 0.5) -> VideoScore:
    """Score per-frame results against :class:`~ran_edge.data.synthetic.video_gen.FaceTruth` lists.

    Args:
        results: per frame, ``(track_id, box, label_index)`` of each reported face.
        truth_frames: per frame, the ground-truth faces.
        fps: frame rate (for switches per minute).
        min_iou: least IoU between a result box and a true box to match them.
    """
    visible = found_frames = vis_faces = found_faces = correct = false = 0
    ids: Dict[int, Set[int]] = {}
    last_id: Dict[int, int] = {}
    switches = 0
    labels: Dict[int, List[int]] = {}
    for res, truth in zip(results, truth_frames):
        m = iou_matrix([tuple(t.box) for t in truth], [tuple(r[1]) for r in res])
        pairs = {}
        used: Set[int] = set()
        if m.size:
            for flat in (-m).argsort(axis=None):
                ti, ri = divmod(int(flat), m.shape[1])
                if m[ti, ri] < min_iou:
                    break
                if ti in pairs or ri in used:
                    continue
                pairs[ti] = ri
                used.add(ri)
        false += len(res) - len(used)
        vis = [i for i, t in enumerate(truth) if t.fully_visible]
        if vis:
            visible += 1
            found_frames += all(i in pairs for i in vis)
        for ti, ri in pairs.items():
            t, r = truth[ti], res[ri]
            ids.setdefault(t.track_id, set()).add(r[0])
            if t.track_id in last_id and last_id[t.track_id] != r[0]:
                switches += 1
            last_id[t.track_id] = r[0]
        for ti in vis:
            vis_faces += 1
            if ti in pairs:
                found_faces += 1
                correct += int(res[pairs[ti]][2]) == int(truth[ti].label)
        for r in res:
            labels.setdefault(r[0], []).append(int(r[2]))
    n_label_switches = sum(sum(a != b for a, b in zip(v, v[1:])) for v in labels.values())
    track_minutes = sum(len(v) for v in labels.values()) / fps / 60.0
    return VideoScore(
        frames=len(results), visible_frames=visible,
        coverage=found_frames / visible if visible else 0.0,
        face_recall=found_faces / vis_faces if vis_faces else 0.0,
        accuracy=correct / found_faces if found_faces else 0.0,
        ids_per_track=(sum(len(v) for v in ids.values()) / len(ids)) if ids else 0.0,
        id_switches=switches,
        label_switches_per_min=n_label_switches / track_minutes if track_minutes else 0.0,
        false_faces=false,
    )


def true_label_switches_per_min(truth_frames: Sequence[Sequence], fps: float) -> float:
    """Label changes per minute of the ground truth itself (the floor for a perfect classifier)."""
    labels: Dict[int, List[int]] = {}
    for truth in truth_frames:
        for t in truth:
            labels.setdefault(t.track_id, []).append(int(t.label))
    n = sum(sum(a != b for a, b in zip(v, v[1:])) for v in labels.values())
    minutes = sum(len(v) for v in labels.values()) / fps / 60.0
    return n / minutes if minutes else 0.0
