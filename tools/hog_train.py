"""Train the ``hog`` synthetic-face detector (:mod:`ran_edge.video.hog`): ``python tools/hog_train.py [--out PATH]``.

Positives: synthetic faces (all expressions, the four occluders on 15 %, mild pose) rendered at 64..144
px, pasted with a feathered edge on random backgrounds exactly as the test video does, with the
window jittered by a few percent. Negatives: random windows of backgrounds and windows that cut a
face badly (IoU < 0.3), then two rounds of hard negatives mined by running the detector on
face-free frames and on frames with faces. The linear model is ridge regression on HOG features
(closed form; no scikit-learn needed). Seeds here are >= 10_000, disjoint from the test videos.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from ran_edge._lazy import require  # noqa: E402
from ran_edge.video.hog import HOG_ARGS, WEIGHTS, WINDOW, HogConfig, HogDetector, make_hog  # noqa: E402

SEED = 10_000


def _paste(cv2, rng: np.random.Generator, size: int) -> Tuple[np.ndarray, Tuple[int, int, int, int]]:
    """A canvas 2x the face with one composited face; returns (canvas, face box)."""
    from ran_edge.data.synthetic.faces import Occlusion, render_face
    from ran_edge.data.synthetic.video_gen import feather, make_background

    occ = Occlusion.NONE
    if rng.random() < 0.15:
        occ = (Occlusion.HAND, Occlusion.MASK, Occlusion.SUNGLASSES, Occlusion.BLOCK)[int(rng.integers(4))]
    yaw, pitch, roll = (rng.uniform(-20, 20, 3) if rng.random() < 0.3 else (0.0, 0.0, 0.0))
    face = render_face(rng, int(rng.integers(7)), size, occlusion=occ, yaw=float(yaw), pitch=float(pitch),
                       roll=float(roll)).image.astype(np.float32)
    c = 2 * size
    canvas = make_background(c, c, rng)
    x, y = size // 2, size // 2
    a = feather(size)
    canvas[y:y + size, x:x + size] = a * face + (1 - a) * canvas[y:y + size, x:x + size]
    return np.clip(canvas, 0, 255).astype(np.uint8), (x, y, x + size, y + size)


def _window(cv2, img: np.ndarray, box: Tuple[float, float, float, float]) -> np.ndarray:
    from ran_edge.video.geometry import crop_face

    return cv2.cvtColor(crop_face(img, box, WINDOW), cv2.COLOR_BGR2GRAY)


def _samples(n_faces: int, rng: np.random.Generator) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    from ran_edge.data.synthetic.video_gen import make_background
    from ran_edge.video.geometry import iou

    cv2 = require("cv2", feature="HOG detector training")
    pos, neg = [], []
    for _ in range(n_faces):
        size = int(rng.integers(64, 145))
        canvas, (x0, y0, x1, y1) = _paste(cv2, rng, size)
        for _ in range(2):
            s = size * rng.uniform(0.94, 1.06)
            cx, cy = (x0 + x1) / 2 + rng.normal(0, 0.03) * size, (y0 + y1) / 2 + rng.normal(0, 0.03) * size
            pos.append(_window(cv2, canvas, (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2)))
        for _ in range(4):
            s = size * rng.uniform(0.5, 1.8)
            cx, cy = rng.uniform(0, 2 * size, 2)
            box = (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2)
            if iou(box, (x0, y0, x1, y1)) < 0.3 and box[0] >= 0 and box[1] >= 0 and box[2] <= 2 * size and box[3] <= 2 * size:
                neg.append(_window(cv2, canvas, box))
        bg = np.clip(make_background(256, 256, rng), 0, 255).astype(np.uint8)
        for _ in range(2):
            s = rng.uniform(48, 200)
            x, y = rng.uniform(0, 256 - s, 2)
            neg.append(_window(cv2, bg, (x, y, x + s, y + s)))
    return pos, neg


def _features(windows: List[np.ndarray]) -> np.ndarray:
    hog = make_hog()
    return np.stack([hog.compute(w).reshape(-1) for w in windows]).astype(np.float64)


def _fit(xp: np.ndarray, xn: np.ndarray, lam: float = 1.0) -> Tuple[np.ndarray, float]:
    """Ridge regression to +1/-1 with a bias, classes weighted equally."""
    x = np.vstack([xp, xn])
    y = np.concatenate([np.ones(len(xp)), -np.ones(len(xn))])
    wt = np.concatenate([np.full(len(xp), 0.5 / len(xp)), np.full(len(xn), 0.5 / len(xn))]) * len(y)
    xa = np.hstack([x, np.ones((len(x), 1))])
    a = (xa * wt[:, None]).T @ xa + lam * np.eye(xa.shape[1])
    a[-1, -1] -= lam  # do not shrink the bias
    sol = np.linalg.solve(a, (xa * wt[:, None]).T @ y)
    return sol[:-1], float(sol[-1])


def _mine(det: HogDetector, rng: np.random.Generator, frames: int) -> List[np.ndarray]:
    """False positives of ``det`` on face-free backgrounds and around composited faces."""
    from ran_edge.data.synthetic.video_gen import make_background
    from ran_edge.video.geometry import iou

    cv2 = require("cv2", feature="HOG detector training")
    out = []
    for i in range(frames):
        if i % 2 == 0:
            img = np.clip(make_background(480, 270, rng), 0, 255).astype(np.uint8)
            face = (0, 0, 0, 0)
        else:
            img, face = _paste(cv2, rng, int(rng.integers(64, 145)))
        for d in det.detect(img):
            if iou(d.box, face) < 0.3:
                out.append(_window(cv2, img, d.box))
    return out


def train(out: Path = WEIGHTS, n_faces: int = 1500, rounds: int = 2, seed: int = SEED, log=print) -> Path:
    """Train and write the weights JSON; returns its path."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    pos, neg = _samples(n_faces, rng)
    xp, xn = _features(pos), _features(neg)
    w, b = _fit(xp, xn)
    log(f"round 0: {len(xp)} positives, {len(xn)} negatives")
    for r in range(rounds):
        _write(out, w, b, {})
        hard = _mine(HogDetector(HogConfig(threshold=0.0), out), rng, 200)
        if hard:
            xn = np.vstack([xn, _features(hard)])
        w, b = _fit(xp, xn)
        log(f"round {r + 1}: +{len(hard)} hard negatives ({len(xn)} in all)")
    train_pos = float(np.mean(xp @ w + b > 0))
    train_neg = float(np.mean(xn @ w + b > 0))
    meta = {"trained_on": "ran_edge.data.synthetic faces composited on make_background backgrounds",
            "seed": seed, "positives": int(len(xp)), "negatives": int(len(xn)), "hog": [list(a) if isinstance(a, tuple) else a for a in HOG_ARGS],
            "train_positive_rate": round(train_pos, 4), "train_negative_false_rate": round(train_neg, 4),
            "seconds": round(time.perf_counter() - t0, 1)}
    _write(out, w, b, meta)
    log(f"wrote {out}: {meta}")
    return out


def _write(path: Path, w: np.ndarray, b: float, meta: dict) -> None:
    from ran_edge.artifact import write_json_atomic

    write_json_atomic(path, {**meta, "w": [round(float(v), 6) for v in w], "b": round(float(b), 6)})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=WEIGHTS)
    p.add_argument("--faces", type=int, default=1500)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seed", type=int, default=SEED)
    a = p.parse_args(argv)
    train(a.out, a.faces, a.rounds, a.seed)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
