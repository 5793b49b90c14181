"""Nearest-class-mean on raw pixels of the synthetic faces: how hard the built-in data is.

Generates a clean train split and a test split of each suite (clean, occlusion, pose), fits one
mean image per class on the train pixels and classifies each test face by the nearest mean
(Euclidean). Four pixel features: grayscale and colour, each raw and standardised (every image to
zero mean and unit variance, then every pixel z-scored with the train statistics). A trained CNN
should be far above these figures; if it is not, the synthetic faces are too easy or too hard.

Usage::

    python benchmarks/pixel_baseline.py [--n-train 3500] [--n-test 1400] [--size 64] [--seed 0]

Writes ``benchmarks/results/pixel_baseline.json`` and ``.md`` (or ``--out DIR``) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ran_edge.data.classes import RAFDB_CLASSES
from ran_edge.data.synthetic.faces import SyntheticSuite, make_split

Feature = Callable[[np.ndarray], np.ndarray]


def _gray(x: np.ndarray) -> np.ndarray:
    """``N x H x W x 3`` BGR uint8 -> ``N x HW`` float luminance (ITU-R 601 weights)."""
    g = x[..., 0] * 0.114 + x[..., 1] * 0.587 + x[..., 2] * 0.299
    return g.reshape(len(x), -1).astype(np.float32)


def _colour(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float32)


def _per_image(f: np.ndarray) -> np.ndarray:
    f = f - f.mean(axis=1, keepdims=True)
    return f / (f.std(axis=1, keepdims=True) + 1e-6)


FEATURES: dict[str, tuple[Feature, bool]] = {
    "gray": (_gray, False),
    "colour": (_colour, False),
    "gray_standardised": (_gray, True),
    "colour_standardised": (_colour, True),
}


def _stack(ds) -> tuple[np.ndarray, np.ndarray]:
    return np.stack([ds[i].image for i in range(len(ds))]), np.asarray(ds.labels)


def nearest_class_mean(train: np.ndarray, labels: np.ndarray, test: np.ndarray, classes: int) -> np.ndarray:
    """Predicted class of each ``test`` row: the class whose mean train row is nearest (Euclidean)."""
    means = np.stack([train[labels == c].mean(axis=0) for c in range(classes)])
    d = (test**2).sum(1, keepdims=True) - 2 * test @ means.T + (means**2).sum(1)[None, :]
    return d.argmin(axis=1)


def run(n_train: int, n_test: int, size: int, seed: int) -> dict:
    """Generate the splits, fit and score every feature on every suite; return the result record."""
    t0, c0 = time.perf_counter(), time.process_time()
    x_train, y_train = _stack(make_split("train", n_train, seed=seed, size=size))
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    tests = {s.value: _stack(make_split("test", n_test, suite=s, seed=seed, size=size)) for s in SyntheticSuite}
    results: dict[str, dict[str, float]] = {}
    for name, (feature, standardise) in FEATURES.items():
        ftr = feature(x_train)
        mu = sd = None
        if standardise:
            ftr = _per_image(ftr)
            mu, sd = ftr.mean(axis=0), ftr.std(axis=0) + 1e-6
            ftr = (ftr - mu) / sd
        results[name] = {}
        for suite, (x_test, y_test) in tests.items():
            fte = feature(x_test)
            if standardise:
                fte = (_per_image(fte) - mu) / sd
            pred = nearest_class_mean(ftr, y_train, fte, len(RAFDB_CLASSES))
            results[name][suite] = round(float((pred == y_test).mean()), 4)
    return {
        "benchmark": "pixel_nearest_class_mean",
        "config": {"n_train": n_train, "n_test_per_suite": n_test, "size": size, "seed": seed,
                   "train": "synthetic clean train split (20% mild occlusion/pose mixed in)",
                   "test": "synthetic test split of each suite"},
        "chance": round(1 / len(RAFDB_CLASSES), 4),
        "accuracy": results,
        "generation": {"faces_per_wall_s": round(n_train / wall_s, 1), "faces_per_cpu_s": round(n_train / cpu_s, 1)},
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
    }


def to_markdown(rec: dict) -> str:
    """A Markdown table of the accuracies (rows: features, columns: suites)."""
    suites = [s.value for s in SyntheticSuite]
    cfg = rec["config"]
    lines = [
        "# Pixel nearest-class-mean on the synthetic faces",
        "",
        f"Train: {cfg['n_train']} clean faces; test: {cfg['n_test_per_suite']} faces per suite; "
        f"{cfg['size']}x{cfg['size']} px; seed {cfg['seed']}. Chance = {rec['chance']:.1%}.",
        "",
        "| pixels | " + " | ".join(suites) + " |",
        "|---|" + "---:|" * len(suites),
    ]
    for name, accs in rec["accuracy"].items():
        lines.append(f"| {name} | " + " | ".join(f"{accs[s]:.1%}" for s in suites) + " |")
    gen = rec["generation"]
    lines += ["", f"Generation speed (train split, one process): {gen['faces_per_cpu_s']} faces per CPU second "
              f"({gen['faces_per_wall_s']} per wall-clock second on this possibly shared machine).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=3500)
    ap.add_argument("--n-test", type=int, default=1400)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args(argv)
    rec = run(args.n_train, args.n_test, args.size, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pixel_baseline.json").write_text(json.dumps(rec, indent=2) + "\n")
    md = to_markdown(rec)
    (args.out / "pixel_baseline.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
