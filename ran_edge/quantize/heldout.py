"""Held-out faces for the INT8 gate, and their evaluation: FP32 once, candidates in chunks with early stopping.

:class:`HeldOutEval` runs the FP32 model over each held-out face **at most once**, when a trial first needs it
(its logits are cached for every candidate of every flavour of one calibration), and evaluates a candidate file
chunk by chunk, in a fixed
shuffled order that mixes the suites, so every prefix is a fair sample. After each chunk (from
``min_faces`` on) the gate's sequential test looks at the faces seen so far: a candidate whose miss is already
certain at 99 % (:attr:`~ran_edge.quantize.gate.GateResult.clearly_out`) is not run on the rest, and neither is
one whose pass is certain (:attr:`~ran_edge.quantize.gate.GateResult.clearly_in`: even the 99 % upper bounds of
the pooled and every suite's drop are within the drop limits themselves). Anything in between sees every face.

Each file runs the way it is deployed (exact Q/DQ arithmetic for the TensorRT flavour, ONNX Runtime's fused
integer kernels for the CPU flavour: :func:`ran_edge.runtime.ort_runner.exact_qdq_for`), on the CUDA
provider when onnxruntime-gpu and a GPU are present.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ran_edge.artifact import ArtifactMeta, read_sidecar
from ran_edge.data.suites import POSE_FACTOR  # the held-out pose suite: its >45° subset about as big as the others
from ran_edge.quantize.accuracy import distinct_faces
from ran_edge.quantize.gate import DEFAULT_TARGET, GateResult, QualityTarget, SuiteOutputs, judge


@dataclass(frozen=True)
class HeldOut:
    """Held-out faces per suite: ``{suite: (images, labels or None)}``; ``pooled`` names the suites whose faces are
    disjoint and together are every face once (default: all suites)."""

    suites: Mapping[str, tuple[Sequence[np.ndarray], np.ndarray | None]]
    description: Mapping[str, Any] = field(default_factory=dict)
    pooled: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Distinct faces."""
        return sum(len(self.suites[s][0]) for s in (self.pooled or tuple(self.suites)))


#: Pose angles (max |yaw|, |pitch|, degrees) above which held-out pose faces also form suites of their own.
HARD_POSE_DEGREES = (30.0, 45.0)
#: Default held-out faces per suite: 1,000 clean + 1,000 occlusion + 3,000 pose = 5,000 distinct faces, enough
#: for the paired 95 % bound of a 0.3-point drop to stay under 0.6 point with up to ~2 % discordant faces.
DEFAULT_HOLDOUT_PER_SUITE = 1000


def synthetic_holdout(n_per_suite: int, size: int, seed: int) -> HeldOut:
    """``n_per_suite`` synthetic faces of the *val* split per suite (clean, occlusion, pose), seed ``seed``:
    disjoint from calibration (train split) and from the report suites (test split). The pose suite has
    three times as many faces, and those beyond 30° and 45° are also suites of their own (``pose30``,
    ``pose45``): the large angles are where INT8 flips most, and an average over all poses hides them."""
    from ran_edge.data.synthetic.faces import SyntheticSuite, make_split

    suites = {}
    for suite in (SyntheticSuite.CLEAN, SyntheticSuite.OCCLUSION, SyntheticSuite.POSE):
        n = n_per_suite * (POSE_FACTOR if suite is SyntheticSuite.POSE else 1)
        ds = make_split("val", n, suite=suite, seed=seed, size=size)
        if suite is not SyntheticSuite.POSE:
            suites[suite.value] = ([ds[i].image for i in range(len(ds))], np.asarray([ds[i].label for i in range(len(ds))]))
            continue
        angle = [max(abs(float(ds[i].meta.get("yaw", 0.0))), abs(float(ds[i].meta.get("pitch", 0.0)))) for i in range(len(ds))]
        for name, low in (("pose", -1.0), *((f"pose{d:.0f}", d) for d in HARD_POSE_DEGREES)):
            keep = [i for i in range(len(ds)) if angle[i] > low]
            suites[name] = ([ds[i].image for i in keep], np.asarray([ds[i].label for i in keep]))
    return HeldOut(suites, {"source": "synthetic", "split": "val", "seed": seed, "per_suite": n_per_suite, "size": size,
                            "suites": {k: len(v[0]) for k, v in suites.items()}}, pooled=("clean", "occlusion", "pose"))


class HeldOutEval:
    """The held-out faces of one calibration with their FP32 logits, computed once (see the module docstring)."""

    def __init__(self, fp32: str | Path, meta: ArtifactMeta, holdout: HeldOut, target: QualityTarget = DEFAULT_TARGET,
                 *, chunk: int = 1000, min_faces: int = 1000, threads: int = 2, batch_size: int = 32, seed: int = 0):
        self.meta, self.holdout, self.target = meta, holdout, target
        self.chunk, self.min_faces, self.threads, self.batch_size = max(1, chunk), min_faces, threads, batch_size
        # a face shared by suites (pose and its subsets) is run once
        self.faces, self.suite_rows = distinct_faces({s: imgs for s, (imgs, _) in holdout.suites.items()})
        self.order = np.random.default_rng(seed).permutation(len(self.faces))
        self.fp32 = fp32
        self.ref = np.full((len(self.faces), len(meta.class_names)), np.nan, np.float32)
        self.ref_done = np.zeros(len(self.faces), bool)
        self.evaluations = 0

    @property
    def size(self) -> int:
        return len(self.faces)

    def _runner(self, path: str | Path) -> Any:
        from ran_edge.runtime.ort_runner import OrtRunner, exact_qdq_for

        return OrtRunner(path, "auto", self.threads, exact_qdq=exact_qdq_for(read_sidecar(path))).activate()

    def _run_rows(self, runner: Any, rows: np.ndarray, out: np.ndarray) -> None:
        from ran_edge.data.feeds import feed_for_images

        fixed = self.meta.outputs[0].shape[0]
        step = fixed if fixed > 0 else self.batch_size
        for b in range(0, len(rows), step):
            part = rows[b:b + step]
            got = runner.infer(feed_for_images([self.faces[i] for i in part], self.meta), check=False)["logits"]
            out[part] = got[:len(part)]

    def _ensure_ref(self, rows: np.ndarray, fp32_runner: Callable[[], Any]) -> None:
        """FP32 logits of ``rows``, each face computed once, when a trial first needs it: a trial that stops after its
        first chunk costs no FP32 run over the rest. ``fp32_runner()`` gives the trial's FP32 session (opened once)."""
        need = rows[~self.ref_done[rows]]
        if need.size:
            self._run_rows(fp32_runner(), need, self.ref)
            self.ref_done[need] = True

    def _logits(self, path: str | Path, early: bool | None) -> tuple[np.ndarray, np.ndarray]:
        """Logits of every face (rows not run stay NaN) and the mask of rows run; ``early``: stop once the verdict is
        certain (see the module docstring)."""
        out = np.full((len(self.faces), len(self.meta.class_names)), np.nan, np.float32)
        seen = np.zeros(len(self.faces), bool)
        with ExitStack() as stack:
            runner = stack.enter_context(self._runner(path))
            fp32: list[Any] = []

            def fp32_runner() -> Any:
                if not fp32:  # opened on the first chunk that needs FP32 logits, then kept for this trial
                    fp32.append(stack.enter_context(self._runner(self.fp32)))
                return fp32[0]

            for start in range(0, len(self.faces), self.chunk):
                rows = self.order[start:start + self.chunk]
                self._ensure_ref(rows, fp32_runner)
                self._run_rows(runner, rows, out)
                seen[rows] = True
                done = start + self.chunk >= len(self.faces)
                if early and not done and seen.sum() >= self.min_faces:
                    verdict = self._judge(out, seen)
                    if verdict.clearly_out or verdict.clearly_in:
                        break
        return out, seen

    def _judge(self, got: np.ndarray, seen: np.ndarray) -> GateResult:
        suites = {}
        for s, rows in self.suite_rows.items():
            keep = rows[seen[rows]]
            labels = self.holdout.suites[s][1]
            lab = None if labels is None else np.asarray(labels)[seen[rows]]
            suites[s] = SuiteOutputs(self.ref[keep], got[keep], lab)
        return judge(suites, self.target, self.holdout.pooled or None, self.meta.class_names)

    def evaluate(self, path: str | Path, early: bool = True) -> GateResult:
        """The gate's verdict on ``path`` (an ONNX with its sidecar), stopping early when the miss is certain."""
        got, seen = self._logits(path, early=early)
        self.evaluations += 1
        return self._judge(got, seen)

    def describe(self) -> dict[str, Any]:
        """What the held-out set is, for manifests and sidecars."""
        return {**dict(self.holdout.description), "distinct_faces": self.size,
                "pooled_suites": list(self.holdout.pooled or self.holdout.suites),
                "sequential": {"chunk": self.chunk, "min_faces": self.min_faces, "early_level": 0.99}}
