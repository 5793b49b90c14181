"""``run_bench(BenchConfig) -> BenchResult``: measure every configuration, write bench.json/.md/PNGs.

One failing configuration (load, a batch, a suite) is recorded with its error and the rest still run;
problems found before anything runs (missing artifact, not a RAN model, backend not installed, batch
above an engine's profile) raise :class:`RanEdgeError`.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any, Callable

import numpy as np

from ran_edge.bench.config import Backend, BenchConfig, RegionPath
from ran_edge.bench.records import (accuracy_skeleton, comparisons, fill_ratio_to_fastest, model_record,
                                    speed_record)
from ran_edge.bench.report import BenchResult
from ran_edge.bench.subjects import NATIVE, Subject, SubjectSpec, artifact_kind, check_batches, plan_subjects
from ran_edge.errors import RanEdgeError

Log = Callable[[str], None]


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300]


class _Progress:
    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            from ran_edge._lazy import is_available

            if is_available("tqdm"):
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc="bench", unit="cfg", leave=False)

    def step(self, note: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(note[:60])
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _References:
    """Reference models' logits per suite, loaded once per reference."""

    def __init__(self, cfg: BenchConfig, model_cache: dict):
        self.cfg, self.model_cache = cfg, model_cache
        self.subjects: dict[str, Subject] = {}
        self.logits: dict[tuple[str, str], np.ndarray] = {}

    def spec_for(self, spec: SubjectSpec, subject: Subject) -> SubjectSpec | None:
        """The reference configuration for ``spec`` (None: no reference, or itself)."""
        ref: SubjectSpec | None = None
        artifact = self.cfg.reference or subject.reference_hint
        if artifact:
            kind = artifact_kind(artifact)
            if kind in ("checkpoint", "random"):
                ref = SubjectSpec(artifact, kind, Backend.TORCH, RegionPath.REGION_BATCH)
            else:
                from ran_edge.artifact import read_sidecar

                meta = read_sidecar(artifact)
                ref = SubjectSpec(artifact, kind, NATIVE[kind][0], RegionPath.of_meta(meta), meta)
        elif spec.kind == "checkpoint" and not (spec.backend is Backend.TORCH and spec.path is RegionPath.REGION_BATCH):
            ref = SubjectSpec(spec.artifact, spec.kind, Backend.TORCH, RegionPath.REGION_BATCH)
        if ref is None or (ref.artifact, ref.backend, ref.path) == (spec.artifact, spec.backend, spec.path):
            return None
        return ref

    @staticmethod
    def key(spec: SubjectSpec) -> str:
        return f"{spec.artifact}|{spec.backend.value}|{spec.path.value}"

    def remember(self, spec: SubjectSpec, suite: str, logits: np.ndarray) -> None:
        """Keep a measured configuration's logits, so a later reference to it is not run again."""
        self.logits[(self.key(spec), suite)] = logits

    def get(self, ref: SubjectSpec, suite: str, faces: list[np.ndarray], batch: int) -> np.ndarray:
        from ran_edge.bench.loaders import load_subject

        key = (self.key(ref), suite)
        if key not in self.logits:
            if key[0] not in self.subjects:
                self.subjects[key[0]] = load_subject(ref, self.cfg, self.model_cache)
            self.logits[key] = predict(self.subjects[key[0]], faces, batch)[0]
        return self.logits[key]

    def close(self) -> None:
        for s in self.subjects.values():
            s.close()


def predict(subject: Subject, faces: list[np.ndarray], batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and region weights of ``subject`` over aligned faces, ``batch`` at a time."""
    logits, weights = [], []
    for i in range(0, len(faces), batch):
        lo, w = subject.predict_faces(faces[i:i + batch])
        logits.append(np.asarray(lo, np.float32))
        weights.append(np.asarray(w, np.float32))
    return np.concatenate(logits), np.concatenate(weights)


def _speed(subject: Subject, mid: str, cfg: BenchConfig, peak: float | None, progress: _Progress) -> list[dict]:
    from ran_edge.bench.frames import synthetic_frame
    from ran_edge.bench.timing import TimingPlan, time_calls, time_once_ms

    plan = TimingPlan(cfg.warmup, None if cfg.seconds else cfg.iters, cfg.seconds)
    out = []
    gpu = subject.spec.backend is Backend.TRT or cfg.torch_device == "cuda"
    for batch in cfg.batches:
        try:
            frame, boxes = synthetic_frame(batch, subject.preprocess.face_size, seed=batch)
            x = subject.prepare(frame, boxes)
            pre = float(np.median([time_once_ms(lambda: subject.prepare(frame, boxes)) for _ in range(3)]))
            sample = time_calls(subject, x, batch, plan, gpu=gpu)
            out.append(speed_record(mid, batch, sample, pre, subject.flops_per_face, peak, warmup=cfg.warmup))
        except Exception as exc:  # noqa: BLE001 - one failing configuration must not stop the run
            out.append(speed_record(mid, batch, status="error", error=_error_text(exc), warmup=cfg.warmup))
        progress.step(f"{subject.spec.label} b{batch}")
    return out


def _accuracy(subject: Subject, spec: SubjectSpec, mid: str, suites: list, faces_of: Callable, refs: _References,
              cfg: BenchConfig, progress: _Progress) -> tuple[list[dict], str | None]:
    from ran_edge.metrics import accuracy_record, agreement_record

    out, ref_artifact = [], None
    batch = min(max(cfg.batches), subject.max_batch or 10**9, 64)
    for suite in suites:
        progress.step(f"{spec.label} {suite.name}")
        if suite.dataset is None:
            out.append(accuracy_skeleton(mid, suite.name, "skipped", suite.info.get("skipped")))
            continue
        if not subject.trained:
            out.append(accuracy_skeleton(mid, suite.name, "skipped", "random weights: accuracy is meaningless"))
            continue
        try:
            faces, labels = faces_of(suite)
            if tuple(suite.dataset.class_names) != tuple(subject.class_names):
                raise RanEdgeError(f"the model's classes {list(subject.class_names)} differ from the data's "
                                   f"{list(suite.dataset.class_names)}")
            logits, weights = predict(subject, faces, batch)
            refs.remember(spec, suite.name, logits)
            rec = accuracy_skeleton(mid, suite.name)
            rec.update(accuracy_record(logits, labels, subject.class_names))
            rec["mean_region_weights"] = weights.mean(0).tolist() if len(weights) else []
            ref = refs.spec_for(spec, subject)
            if ref is not None:
                ref_logits = refs.get(ref, suite.name, faces, batch)
                rec["reference"] = {"artifact": ref.artifact, "label": ref.label,
                                    **agreement_record(logits, ref_logits, labels, subject.class_names)}
                ref_artifact = ref.artifact
            out.append(rec)
        except Exception as exc:  # noqa: BLE001
            out.append(accuracy_skeleton(mid, suite.name, "error", _error_text(exc)))
    return out, ref_artifact


def run_bench(cfg: BenchConfig, log: Log = print) -> BenchResult:
    """Run the bench described by ``cfg`` and write ``bench.json``, ``bench.md`` and PNG plots to ``cfg.out``."""
    from ran_edge.bench.frames import region_batch_impl
    from ran_edge.bench.machine import machine_info
    from ran_edge.bench.report import write_reports

    started = time.perf_counter()
    specs = plan_subjects(cfg)
    machine = machine_info(list(cfg.argv) or None)
    peak = (machine.get("nominal_peak_fp32") or {}).get("flops_per_s")
    suites = []
    if cfg.measure.accuracy and cfg.suites:
        from ran_edge.data.suites import load_suites

        suites = load_suites(cfg.data, cfg.suites, lists_dir=cfg.lists_dir, max_faces=cfg.max_faces, log=log)
    face_cache: dict[str, tuple[list[np.ndarray], np.ndarray]] = {}

    def faces_of(suite: Any) -> tuple[list[np.ndarray], np.ndarray]:
        if suite.name not in face_cache:
            samples = [suite.dataset[i] for i in range(len(suite.dataset))]
            face_cache[suite.name] = ([s.image for s in samples], np.asarray([s.label for s in samples], np.int64))
        return face_cache[suite.name]

    n_steps = len(specs) * ((len(cfg.batches) if cfg.measure.speed else 0) + len(suites))
    progress = _Progress(n_steps, cfg.progress)
    model_cache: dict = {}
    refs = _References(cfg, model_cache)
    models, speed, accuracy = [], [], []
    log(f"[bench] {len(specs)} configuration(s) x {len(cfg.batches)} batch(es), {cfg.schedule.value} schedule; suites: "
        f"{', '.join(s.name for s in suites) or 'none'}; region batch by {region_batch_impl()}")
    loaded: list[tuple[str, SubjectSpec, Subject]] = []
    from ran_edge.bench.loaders import ort_spinning

    spinning = ort_spinning(cfg, len(specs))
    if not spinning:
        log("[bench] ONNX Runtime thread spinning off: configurations take turns on the same cores, and a session's "
            "spinning threads would slow the next one (single-session latency with spinning is lower)")
    try:
        for i, spec in enumerate(specs):
            item = _load(f"m{i}", spec, cfg, model_cache, models, speed, accuracy, suites, progress, spinning)
            if item is not None:
                loaded.append(item)
        _warn_if_long(loaded, cfg, suites, log)
        if cfg.measure.speed:
            speed += _speed_all(loaded, cfg, peak, progress)
        for mid, spec, subject in loaded:
            rec = next(m for m in models if m["id"] == mid)
            if suites:
                acc, ref_artifact = _accuracy(subject, spec, mid, suites, faces_of, refs, cfg, progress)
                accuracy += acc
                rec["reference"] = ref_artifact
            if rec["reference"] is None and subject.reference_hint:
                rec["reference"] = subject.reference_hint
    finally:
        for _, _, subject in loaded:
            subject.close()
        progress.close()
        refs.close()
    order = {m["id"]: i for i, m in enumerate(models)}
    speed.sort(key=lambda r: (order[r["model"]], r["batch"]))
    accuracy.sort(key=lambda r: (order[r["model"]], [s.name for s in suites].index(r["suite"])))
    fill_ratio_to_fastest(speed)
    doc = _document(cfg, machine, models, speed, accuracy, suites, started, region_batch_impl())
    return write_reports(doc, cfg.out, plots=cfg.plots, log=log)


def _load(mid: str, spec: SubjectSpec, cfg: BenchConfig, model_cache: dict, models: list, speed: list,
          accuracy: list, suites: list, progress: _Progress, spinning: bool = True) -> tuple[str, SubjectSpec, Subject] | None:
    """Load one configuration and time its first inference; a failure is recorded, not raised (except a
    batch above an engine's profile, a user error)."""
    from ran_edge.bench.loaders import load_subject

    try:
        subject = load_subject(spec, cfg, model_cache, spinning)
    except Exception as exc:  # noqa: BLE001
        models.append(model_record(mid, spec, error=_error_text(exc)))
        _fail_rest(mid, cfg, suites, speed, accuracy, _error_text(exc), progress)
        return None
    try:
        check_batches(subject, cfg.batches)
    except RanEdgeError:
        subject.close()
        raise
    try:
        first_ms = _first_inference(subject, cfg)
    except Exception as exc:  # noqa: BLE001
        models.append(model_record(mid, spec, subject, error=_error_text(exc)))
        subject.close()
        _fail_rest(mid, cfg, suites, speed, accuracy, _error_text(exc), progress)
        return None
    models.append(model_record(mid, spec, subject, first_ms))
    return mid, spec, subject


def _speed_all(loaded: list, cfg: BenchConfig, peak: float | None, progress: _Progress) -> list[dict]:
    """Speed records of every loaded configuration, by the configured schedule."""
    from ran_edge.bench.config import Schedule
    from ran_edge.bench.frames import synthetic_frame
    from ran_edge.bench.timing import TimingPlan, time_interleaved, time_once_ms

    if cfg.schedule is Schedule.SEQUENTIAL:
        return [r for mid, _, subject in loaded for r in _speed(subject, mid, cfg, peak, progress)]
    plan = TimingPlan(cfg.warmup, None if cfg.seconds else cfg.iters, cfg.seconds)
    out: list[dict] = []
    for batch in cfg.batches:
        items, owners = [], []
        for mid, _, subject in loaded:
            try:
                frame, boxes = synthetic_frame(batch, subject.preprocess.face_size, seed=batch)
                x = subject.prepare(frame, boxes)
                pre = float(np.median([time_once_ms(lambda: subject.prepare(frame, boxes)) for _ in range(3)]))
                items.append((subject, x, batch))
                owners.append((mid, subject, pre))
            except Exception as exc:  # noqa: BLE001
                out.append(speed_record(mid, batch, status="error", error=_error_text(exc), warmup=cfg.warmup))
                progress.step(f"{mid} b{batch}")
        for (mid, subject, pre), res in zip(owners, time_interleaved(items, plan)):
            if isinstance(res, BaseException):
                out.append(speed_record(mid, batch, status="error", error=_error_text(res), warmup=cfg.warmup))
            else:
                out.append(speed_record(mid, batch, res, pre, subject.flops_per_face, peak, warmup=cfg.warmup))
            progress.step(f"{subject.spec.label} b{batch}")
    return out


def _warn_if_long(loaded: list, cfg: BenchConfig, suites: list, log: Log) -> None:
    """One line with the expected duration before a run that will take minutes (one warm call per configuration)."""
    from ran_edge.bench.frames import synthetic_frame
    from ran_edge.bench.timing import LONG_RUN_S, TimingPlan, duration_warning, estimated_seconds, time_once_ms

    per_face = []
    for _, _, subject in loaded:
        try:
            frame, boxes = synthetic_frame(cfg.batches[0], subject.preprocess.face_size, seed=cfg.batches[0])
            x = subject.prepare(frame, boxes)
            per_face.append(time_once_ms(lambda: subject.run(x), subject.sync) / cfg.batches[0])
        except Exception:  # noqa: BLE001 - the estimate is advice; the measurement reports the failure
            continue
    plan = TimingPlan(cfg.warmup, None if cfg.seconds else cfg.iters, cfg.seconds)
    faces = sum(s.n for s in suites if s.dataset is not None) if cfg.measure.accuracy else 0
    line = duration_warning(estimated_seconds(per_face, cfg.batches if cfg.measure.speed else (), plan, faces), LONG_RUN_S)
    if line:
        log(line)


def _first_inference(subject: Subject, cfg: BenchConfig) -> float:
    from ran_edge.bench.frames import synthetic_frame
    from ran_edge.bench.timing import time_once_ms

    frame, boxes = synthetic_frame(cfg.batches[0], subject.preprocess.face_size, seed=cfg.batches[0])
    x = subject.prepare(frame, boxes)
    return time_once_ms(lambda: subject.run(x), subject.sync)


def _fail_rest(mid: str, cfg: BenchConfig, suites: list, speed: list, accuracy: list, error: str, progress: _Progress) -> None:
    if cfg.measure.speed:
        for b in cfg.batches:
            speed.append(speed_record(mid, b, status="error", error=error, warmup=cfg.warmup))
            progress.step(f"{mid} b{b}")
    for s in suites:
        accuracy.append(accuracy_skeleton(mid, s.name, "error", error))
        progress.step(f"{mid} {s.name}")


def _document(cfg: BenchConfig, machine: dict, models: list, speed: list, accuracy: list, suites: list,
              started: float, region_impl: str) -> dict[str, Any]:
    from ran_edge.bench.schema import SCHEMA_ID, SCHEMA_VERSION, UNITS

    return {"schema": SCHEMA_ID, "schema_version": SCHEMA_VERSION,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "duration_s": time.perf_counter() - started, "machine": machine, "config": cfg.to_dict(), "units": UNITS,
            "region_batch_implementation": region_impl, "models": models, "speed": speed, "accuracy": accuracy,
            "suites": {s.name: {"n": s.n, **s.info} for s in suites}, "comparisons": comparisons(models, speed)}
