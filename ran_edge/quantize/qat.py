"""Quantization-aware fine-tuning (QAT) of a PTQ TensorRT-flavour QDQ ONNX, on the QDQ graph itself.

The student is the QDQ file run by :mod:`ran_edge.quantize.onnx_torch`: fake quantization sits exactly
where the file has its Q/DQ pairs (placement by construction), activation scales are the calibration's,
weight scales follow the weights (``max|w| / 127`` per channel, as ONNX Runtime's quantizer computed them).
The teacher is the FP32 file (its logits, computed once with ONNX Runtime). Loss: distillation
(KL to the teacher), CE + RB-loss on the labels, or both (:class:`QatLoss`).

Outputs (:func:`finetune_qdq`), written as one set (staged, then renamed):

* the TensorRT flavour: the PTQ graph with the trained float weights and their recomputed weight scales;
* the fine-tuned FP32 ONNX: the FP32 graph with the trained weights (ONNX Runtime's quantizer keeps the
  float weight names under ``AddQDQPairToWeight``, so names map one to one; checked);
* optionally the CPU flavour, quantized from the fine-tuned FP32 by :func:`quantize_int8` with the PTQ
  calibration's statistics (the activation ranges QAT trained under).

Before anything is written, the exported TensorRT flavour (ONNX Runtime, exact Q/DQ) must agree top-1 with
the fake-quantized student on ``min_export_agreement`` of the held-out faces, else :class:`RanEdgeError`.
"""

from __future__ import annotations

import contextlib
import enum
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import ArtifactMeta, Precision, read_sidecar, sha256_file, sidecar_path, verify_hash
from ran_edge.errors import RanEdgeError
from ran_edge.quantize.graph_parts import graph_links, node_groups
from ran_edge.quantize.qat_data import QatData, open_qat_data


class QatLoss(str, enum.Enum):
    """``distill``: KL to the FP32 teacher; ``ce_rb``: cross-entropy + RB-loss on labels; ``both``: their sum."""

    DISTILL = "distill"
    CE_RB = "ce_rb"
    BOTH = "both"


class QatParams(str, enum.Enum):
    """Which float initializers train (the crop matrices never do)."""

    ALL = "trunk+head"
    TRUNK = "trunk"
    HEAD = "head"


@dataclass(frozen=True)
class QatOptions:
    """The QAT schedule (defaults measured on the demo model, docs/qat.md)."""

    epochs: int = 8
    lr: float = 2e-5
    batch_size: int = 32
    loss: QatLoss = QatLoss.DISTILL
    num: int = 2048  # training faces
    holdout_num: int = 1000  # held-out faces of the export check and of the before/after figures
    seed: int = 0
    temperature: float = 1.0
    params: QatParams = QatParams.ALL
    min_export_agreement: float = 0.999

    def __post_init__(self) -> None:
        object.__setattr__(self, "loss", QatLoss(self.loss))
        object.__setattr__(self, "params", QatParams(self.params))
        for name, low in (("epochs", 1), ("batch_size", 1), ("num", 1), ("holdout_num", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise RanEdgeError(f"QAT {name}: got {value!r}, expected an integer >= {low}")
        if not (0.0 < self.lr < 1.0) or not self.temperature > 0:
            raise RanEdgeError(f"QAT lr must be in (0, 1) and temperature > 0, got {self.lr}, {self.temperature}")
        if not 0.0 < self.min_export_agreement <= 1.0:
            raise RanEdgeError(f"QAT min_export_agreement must be in (0, 1], got {self.min_export_agreement}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "loss": self.loss.value, "params": self.params.value}


@dataclass(frozen=True)
class QatResult:
    """What QAT wrote and measured (``report`` is also the sidecars' ``extra["qat"]``)."""

    trt_path: Path
    fp32_path: Path
    cpu_path: Path | None
    report: Mapping[str, Any] = field(default_factory=dict)


def trainable_initializers(model: Any, params: QatParams | str = QatParams.ALL) -> list[str]:
    """Float initializers of the trunk and/or head that QAT trains: weights (behind their Q/DQ pair or not) and
    biases; not the crop matrices (upstream of the first Conv's data input), Q/DQ scales, zero points or shapes."""
    params = QatParams(params)
    nodes = list(model.graph.node)
    inits = {t.name: t for t in model.graph.initializer}
    producer, consumers = graph_links(nodes)
    first_conv = next((n for n in nodes if n.op_type == "Conv"), None)
    crop: set[str] = set()
    stack = [first_conv.input[0]] if first_conv is not None else []
    while stack:
        name = stack.pop()
        if name in inits:
            crop.add(name)
        p = producer.get(name)
        if p is not None:
            stack.extend(p.input)
    qdq_side = {n.input[i] for n in nodes if n.op_type in ("QuantizeLinear", "DequantizeLinear") for i in (1, 2) if len(n.input) > i}
    head = set(node_groups(model)["head"])
    out = []
    for name, t in inits.items():
        if t.data_type != 1 or len(t.dims) < 1 or name in crop or name in qdq_side:
            continue
        users = consumers.get(name, [])
        while users and users[0].op_type in ("QuantizeLinear", "DequantizeLinear"):  # weight → Q → DQ → its layer
            users = consumers.get(users[0].output[0], [])
        if not users or any(u.op_type not in ("Conv", "Gemm", "MatMul", "Add", "Mul") for u in users):
            continue
        in_head = any(u.name in head for u in users)
        if params is QatParams.ALL or (params is QatParams.HEAD) == in_head:
            out.append(name)
    return out


def self_weight_tensor(model: Any) -> str | None:
    """The tensor μ ``[N,K]`` of the RB-loss (the self-attention weights as the model uses them): the first
    Sigmoid of the head, squeezed, and softmax-ed when the graph does (``official`` attention)."""
    head = set(node_groups(model)["head"])
    _, consumers = graph_links(list(model.graph.node))
    sig = next((n for n in model.graph.node if n.op_type == "Sigmoid" and n.name in head), None)
    if sig is None:
        return None
    sq = [c for c in consumers.get(sig.output[0], []) if c.op_type == "Squeeze"]
    if not sq:
        return None
    soft = [c for c in consumers.get(sq[0].output[0], []) if c.op_type == "Softmax"]
    return (soft[0] if soft else sq[0]).output[0]


def kl_to_teacher(student: np.ndarray, teacher: np.ndarray, temperature: float = 1.0) -> float:
    """Mean KL(teacher ‖ student) of softmax(logits / T) over faces (numpy)."""
    def log_softmax(x: np.ndarray) -> np.ndarray:
        z = x / temperature - (x / temperature).max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    lt, ls = log_softmax(teacher.astype(np.float64)), log_softmax(student.astype(np.float64))
    return float((np.exp(lt) * (lt - ls)).sum(1).mean()) if len(teacher) else 0.0


def _figures(student: np.ndarray, teacher: np.ndarray, labels: np.ndarray | None, t: float) -> dict[str, Any]:
    fig = {"kl": kl_to_teacher(student, teacher, t), "agreement_fp32": float((student.argmax(1) == teacher.argmax(1)).mean())}
    if labels is not None:
        fig["accuracy"] = float((student.argmax(1) == labels).mean())
        fig["accuracy_fp32"] = float((teacher.argmax(1) == labels).mean())
    return fig


def _logits(student: Any, x: np.ndarray, input_name: str, rows: int, batch: int = 128) -> np.ndarray:
    torch = require("torch", "QAT")
    out = []
    student.eval()  # exact Q/DQ arithmetic (training may fuse activation pairs, see onnx_torch)
    with torch.no_grad():
        for s in range(0, len(x) // rows, batch):
            out.append(student({input_name: torch.from_numpy(x[s * rows:(s + batch) * rows])})["logits"].numpy())
    return np.concatenate(out)


def _train(student: Any, data: QatData, teacher: np.ndarray, options: QatOptions, meta: ArtifactMeta, mu_name: str | None,
           progress: bool, log: Callable[[str], None]) -> list[dict[str, float]]:
    torch = require("torch", "QAT")
    from tqdm.auto import tqdm

    from ran_edge.model.loss import rb_loss

    F = torch.nn.functional
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    n, rows, bs, T = data.faces, data.rows_per_face, options.batch_size, options.temperature
    steps = options.epochs * (n // bs)
    if steps < 1:
        raise RanEdgeError(f"QAT: {n} training faces are fewer than one batch of {bs}")
    opt = torch.optim.Adam(student.parameters(), lr=options.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    t_probs = torch.from_numpy(teacher).div(T).log_softmax(1)
    use_kl, use_ce = options.loss in (QatLoss.DISTILL, QatLoss.BOTH), options.loss in (QatLoss.CE_RB, QatLoss.BOTH)
    if use_ce and data.labels is None:
        raise RanEdgeError(f"QAT loss {options.loss.value} needs labels in the model's classes; the data has none (use --loss distill)")
    labels = torch.from_numpy(data.labels if data.labels is not None else np.zeros(n, np.int64))
    fetch = [mu_name] if use_ce and mu_name else []
    history = []
    student.train()
    for epoch in range(options.epochs):
        t0, sums, count = time.perf_counter(), {"loss": 0.0, "kl": 0.0, "ce": 0.0, "rb": 0.0}, 0
        order = rng.permutation(n)[: (n // bs) * bs].reshape(-1, bs)
        bar = tqdm(order, desc=f"qat epoch {epoch + 1}/{options.epochs}", leave=False, disable=not progress, unit="batch")
        for idx in bar:
            rows_idx = (idx[:, None] * rows + np.arange(rows)[None]).reshape(-1)
            out = student({data.input_name: torch.from_numpy(data.x[rows_idx])}, fetch)
            s = out["logits"]
            kl = F.kl_div((s / T).log_softmax(1), t_probs[idx], log_target=True, reduction="batchmean") * T * T
            ce = F.cross_entropy(s, labels[idx]) if use_ce else torch.zeros(())
            rb = rb_loss(out[mu_name], meta.preset) if fetch else torch.zeros(())
            loss = (kl if use_kl else 0) + ((ce + rb) if use_ce else 0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            for k, v in (("loss", loss), ("kl", kl), ("ce", ce), ("rb", rb)):
                sums[k] += float(v.detach())
            count += 1
            bar.set_postfix(loss=f"{sums['loss'] / count:.4f}")
        history.append({**{k: v / count for k, v in sums.items()}, "seconds": time.perf_counter() - t0})
        h = history[-1]
        log(f"[qat] epoch {epoch + 1}/{options.epochs}: loss {h['loss']:.4f} (kl {h['kl']:.4f}, ce {h['ce']:.4f}, "
            f"rb {h['rb']:.4f}) in {h['seconds']:.1f}s")
    return history


def _with_initializers(model: Any, values: Mapping[str, np.ndarray]) -> Any:
    """A copy of ``model`` whose initializers named in ``values`` hold those arrays (dtype and shape checked)."""
    onnx = require("onnx", "QAT")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    found = set()
    for t in out.graph.initializer:
        if t.name in values:
            old = onnx.numpy_helper.to_array(t)
            new = np.asarray(values[t.name]).astype(old.dtype).reshape(old.shape)
            t.CopyFrom(onnx.numpy_helper.from_array(new, t.name))
            found.add(t.name)
    missing = sorted(set(values) - found)
    if missing:
        raise RanEdgeError(f"initializers {missing[:3]} of the QDQ file are not in the FP32 graph; cannot map the trained weights")
    return out


def finetune_qdq(qdq_onnx: str | Path, fp32_onnx: str | Path, data: str | Any, out: str | Path, *,
                 options: QatOptions = QatOptions(), holdout: Any = None, stats: Any = None,
                 fp32_out: str | Path | None = None, cpu_out: str | Path | None = None, write_cpu: bool = True,
                 cpu_setting: Any = None, cpu_higher_precision: Sequence[str] | None = None,
                 threads: int | None = None, progress: bool = True, log: Callable[[str], None] = print) -> QatResult:
    """Fine-tune the PTQ TensorRT-flavour file ``qdq_onnx`` against its FP32 source ``fp32_onnx`` and write the
    QAT TensorRT flavour to ``out``, the fine-tuned FP32 to ``fp32_out`` (default ``<out stem>.fp32.onnx``) and,
    with ``write_cpu``, the CPU flavour to ``cpu_out`` (default ``<out stem>.cpu.onnx``), each with its sidecar.

    Args:
        qdq_onnx: TensorRT-flavour INT8 file from :func:`quantize_int8` (the placement kept; its sidecar gives the
            FP32 scope and higher-precision nodes the CPU flavour repeats).
        fp32_onnx: the FP32 ONNX it was quantized from (the teacher; its graph gets the trained weights).
        data: labelled faces: a ``--data`` spec (train split; held-out faces from its val split) or a ``FaceDataset``.
        out: the QAT TensorRT-flavour file.
        options: the schedule (:class:`QatOptions`).
        holdout: held-out ``FaceDataset`` (default: see :func:`ran_edge.quantize.qat_data.open_qat_data`).
        stats: the :class:`CalibrationStats` the PTQ file was made with, reused for the CPU flavour (the ranges QAT
            trained under); required when ``write_cpu``.
        cpu_setting / cpu_higher_precision: range setting (:class:`RangeSetting`, e.g. the CPU search's, with 7-bit
            weights) and higher-precision nodes of the CPU flavour; default: those of the PTQ file (its sidecar).
        threads: torch intra-op threads while QAT runs (restored afterwards); None keeps torch's setting. One thread
            avoids OpenMP oversubscription when other jobs share the cores (docs/qat.md §3).

    Raises:
        RanEdgeError: bad files or options, too little data, an op the executor does not run, or the exported file
            agreeing with the fake-quantized model on fewer than ``options.min_export_agreement`` held-out faces.
    """
    onnx = require("onnx", "QAT")
    from ran_edge.export.io import load_ran_onnx
    from ran_edge.outputs import ResultSet
    from ran_edge.quantize.onnx_torch import build_onnx_torch
    from ran_edge.quantize.qdq import quantize_int8
    from ran_edge.runtime.ort_runner import cpu_runner

    t_start = time.perf_counter()
    fp32_model, fp32_meta = load_ran_onnx(fp32_onnx)
    qdq_onnx, out = Path(qdq_onnx), Path(out)
    if not qdq_onnx.is_file():
        raise RanEdgeError(f"INT8 ONNX not found: {qdq_onnx}")
    qmeta = read_sidecar(qdq_onnx)
    verify_hash(qdq_onnx, qmeta)
    if qmeta.precision is not Precision.INT8 or qmeta.extra.get("int8_flavour") != "tensorrt":
        raise RanEdgeError(f"{qdq_onnx}: expected a TensorRT-flavour INT8 ONNX from 'ran-edge calibrate', got "
                           f"{qmeta.precision.value} {qmeta.extra.get('int8_flavour') or ''}".rstrip())
    if qmeta.extra.get("source_onnx_sha256") not in (None, sha256_file(fp32_onnx)):
        raise RanEdgeError(f"{qdq_onnx} was not quantized from {fp32_onnx} (source sha256 differs)")
    if write_cpu and stats is None:
        raise RanEdgeError("the CPU flavour needs the calibration statistics of the PTQ file (stats=...)")
    if fp32_meta.inputs[0].shape[0] > 0:
        raise RanEdgeError(f"{fp32_onnx} has a fixed batch; QAT trains the dynamic-batch export (export without --batch)")
    qmodel = onnx.load(str(qdq_onnx))
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    fp32_out = Path(fp32_out) if fp32_out else out.with_name(f"{stem}.fp32.onnx")
    cpu_out = (Path(cpu_out) if cpu_out else out.with_name(f"{stem}.cpu.onnx")) if write_cpu else None
    targets = [out, fp32_out] + ([cpu_out] if cpu_out else [])
    with ResultSet([p for t in targets for p in (t, sidecar_path(t))],
                   inputs=[qdq_onnx, fp32_onnx, sidecar_path(qdq_onnx), sidecar_path(fp32_onnx)]) as rs, _torch_threads(threads):
        train, held = open_qat_data(data, holdout, fp32_meta, options.num, options.holdout_num, options.seed)
        names = trainable_initializers(qmodel, options.params)
        student = build_onnx_torch(qmodel, names)
        mu_name = self_weight_tensor(qmodel)
        log(f"[qat] {len(names)} weight/bias tensors ({sum(p.numel() for p in student.parameters())} values) train on "
            f"{train.faces} faces; {held.faces} held-out faces; loss {options.loss.value}")
        with cpu_runner(fp32_onnx, threads or 2) as runner:
            teacher = _ort_logits(runner, train)
            teacher_held = _ort_logits(runner, held)
        before = _figures(_logits(student, held.x, held.input_name, held.rows_per_face), teacher_held, held.labels, options.temperature)
        t_train = time.perf_counter()
        history = _train(student, train, teacher, options, fp32_meta, mu_name, progress, log)
        train_s = time.perf_counter() - t_train
        fake = _logits(student, held.x, held.input_name, held.rows_per_face)
        if not np.isfinite(fake).all():
            raise RanEdgeError(f"QAT diverged (non-finite logits after {len(history)} epochs at lr {options.lr:g}); lower --lr; "
                               f"nothing written")
        after = _figures(fake, teacher_held, held.labels, options.temperature)
        trained = student.trained_initializers()
        trt_model = _with_initializers(qmodel, {**trained, **student.weight_scales()})
        ft_model = _with_initializers(fp32_model, trained)
        with cpu_runner(trt_model, threads or 2, exact_qdq=True) as runner:
            exported = _ort_logits(runner, held)
        agreement = float((exported.argmax(1) == fake.argmax(1)).mean())
        top2 = np.sort(fake, 1)[:, -2:]
        flips = [{"face": int(i), "fake_quant_margin": float(top2[i, 1] - top2[i, 0]),
                  "max_abs_logit_diff": float(np.abs(exported[i] - fake[i]).max())}
                 for i in np.flatnonzero(exported.argmax(1) != fake.argmax(1))[:10]]
        report = {"options": options.to_dict(), "epochs_run": len(history), "history": history, "train_seconds": train_s,
                  "trainable_tensors": len(names), "train_faces": train.faces, "data": train.description,
                  "holdout": dict(held.description), "before": before, "after": after,
                  "export_agreement": agreement, "export_max_abs_logit_diff": float(np.abs(exported - fake).max()),
                  "export_disagreements": flips,
                  "ptq_onnx_sha256": sha256_file(qdq_onnx), "source_onnx_sha256": sha256_file(fp32_onnx)}
        if agreement < options.min_export_agreement:
            raise RanEdgeError(f"QAT export check failed: the exported TensorRT flavour agrees with the fake-quantized model on "
                               f"{100 * agreement:.2f}% of {held.faces} held-out faces (< {100 * options.min_export_agreement:.1f}%); "
                               f"nothing written")
        log(f"[qat] held-out KL to FP32 {before['kl']:.4f} -> {after['kl']:.4f}, agreement with FP32 "
            f"{100 * before['agreement_fp32']:.2f}% -> {100 * after['agreement_fp32']:.2f}%; exported vs fake-quant "
            f"{100 * agreement:.2f}%")
        ft_tmp = rs.path(fp32_out)
        onnx.save(ft_model, str(ft_tmp))
        ft_meta = replace(fp32_meta, extra={**{k: v for k, v in fp32_meta.extra.items() if k != "parity"},
                                            "onnx_sha256": sha256_file(ft_tmp), "qat": report,
                                            "qat_source_onnx_sha256": sha256_file(fp32_onnx)})
        _write_meta(rs.path(sidecar_path(fp32_out)), ft_meta)
        trt_tmp = rs.path(out)
        onnx.save(trt_model, str(trt_tmp))
        _write_meta(rs.path(sidecar_path(out)), replace(qmeta, extra={**qmeta.extra, "onnx_sha256": sha256_file(trt_tmp),
                                                                        "source_onnx_sha256": sha256_file(ft_tmp), "qat": report}))
        if cpu_out is not None:
            from ran_edge.quantize.ranges import CalibrationMethod, RangeSetting

            int8 = qmeta.extra.get("int8", {})
            if cpu_setting is None and "method" in int8:  # the ranges the PTQ file (and so QAT) used
                cpu_setting = RangeSetting(CalibrationMethod(int8["method"]), float(int8.get("percentile", stats.setting.percentile)),
                                           bool(int8.get("reduce_range", False)))
            higher = int8.get("higher_precision_nodes", ()) if cpu_higher_precision is None else cpu_higher_precision
            quantize_int8(ft_tmp, rs.path(cpu_out), stats=stats, setting=cpu_setting, per_channel=bool(int8.get("per_channel", True)),
                          target="cpu", keep_fp32=int8.get("fp32_scope", "crop+head"), higher_precision=higher,
                          manifest_sha256=qmeta.extra.get("calibration_manifest_sha256"),
                          extra_meta={"qat": {**report, "cpu_stats": "reused from the PTQ calibration"}}, log=lambda s: None)
            rs.path(sidecar_path(cpu_out))  # written by quantize_int8 beside its staged file; part of this result
        rs.commit()
    log(f"[qat] wrote {out}, {fp32_out}" + (f", {cpu_out}" if cpu_out else "") + f" in {time.perf_counter() - t_start:.1f}s")
    return QatResult(out, fp32_out, cpu_out, report)


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` (None: unchanged) inside the block, restored after."""
    torch = require("torch", "QAT")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _ort_logits(runner: Any, data: QatData, batch: int = 64) -> np.ndarray:
    rows = data.rows_per_face
    n = len(data.x) // rows
    return np.concatenate([runner.infer({data.input_name: data.x[s * rows:(s + batch) * rows]}, check=False)["logits"]
                           for s in range(0, n, batch)])


def _write_meta(path: Path, meta: ArtifactMeta) -> None:
    from ran_edge.artifact import write_json_atomic

    write_json_atomic(path, meta.to_dict())
