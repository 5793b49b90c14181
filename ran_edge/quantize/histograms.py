"""Streaming activation statistics in bounded memory: one pass over the calibration faces, any threshold after.

The FP32 model is run with every float activation as an extra output (an "augmented" graph); each batch's
activations update, per tensor, the observed min / max and a histogram of ``|x|`` and are then dropped.
Memory is therefore one batch of activations plus ``bins`` counters per tensor, whatever the number of
calibration faces (ONNX Runtime's own percentile/entropy calibrators keep every batch's activations until
the end, which grows without bound: 24 GB after 160 faces of the full-size RAN).

The histogram covers ``[0, top)`` with a fixed number of bins; when a batch exceeds ``top``, ``top`` doubles
and adjacent bins are summed in pairs, so it stays exact for every bin edge it has (no re-binning
approximation) and its size never grows. Batches are split so that one chunk's activations stay under a
byte budget measured on the first face (``max_chunk_bytes``).

From the histograms, :meth:`CalibrationHistograms.threshold` gives the clipping threshold of a tensor for
any method: ``minmax`` (observed max |x|), ``percentile`` (any percentile of |x|), ``entropy`` (TensorRT's
KL-divergence search over the |x| histogram). So the candidate settings of the measured search
(:mod:`ran_edge.quantize.search`) cost no second calibration run.
"""

from __future__ import annotations

import enum
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ran_edge._lazy import require
from ran_edge.errors import RanEdgeError

#: Histogram bins per tensor (TensorRT's calibrators use 2048 too).
HIST_BINS = 2048
#: Activation bytes one ONNX Runtime call may return during calibration (bounded peak memory).
DEFAULT_MAX_CHUNK_BYTES = 256 * 2**20


class CalibrationMethod(str, enum.Enum):
    """How an activation's clipping threshold is chosen from its |x| histogram."""

    ENTROPY = "entropy"        # KL-divergence threshold (TensorRT's EntropyCalibration2 idea)
    PERCENTILE = "percentile"  # a percentile of |x| (99.99 by default)
    MINMAX = "minmax"          # observed max |x|


@dataclass
class ActivationHistogram:
    """Min, max and a ``bins``-bin histogram of ``|x|`` over ``[0, top)`` for one tensor, updated in place."""

    bins: int = HIST_BINS
    low: float = float("inf")
    high: float = float("-inf")
    top: float = 0.0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def update(self, x: np.ndarray) -> None:
        """Add the values of ``x`` (any shape); NaN is ignored, +-inf counts in the last bin."""
        x = np.asarray(x, dtype=np.float32).ravel()
        nan = np.isnan(x)
        if nan.any():
            x = x[~nan]
        if x.size == 0:
            return
        lo, hi = float(x.min()), float(x.max())
        self.low, self.high = min(self.low, lo), max(self.high, hi)
        amax = max(abs(lo), abs(hi))
        if not np.isfinite(amax):
            amax = float(np.max(np.abs(x[np.isfinite(x)]), initial=0.0))
        if self.counts.size == 0:
            self.counts = np.zeros(self.bins, np.int64)
            self.top = amax if amax > 0 else 1e-8
        while amax > self.top and np.isfinite(amax):  # widen: double the range, merge bin pairs
            self.counts = np.concatenate([self.counts.reshape(-1, 2).sum(axis=1), np.zeros(self.bins // 2, np.int64)])
            self.top *= 2.0
        a = np.abs(x)
        hist, _ = np.histogram(a, bins=self.bins, range=(0.0, self.top))
        hist[-1] += int(np.count_nonzero(a > self.top))  # inf only: finite values are below top
        self.counts += hist

    @property
    def amax(self) -> float:
        """Observed max |x| (0 when nothing was seen)."""
        return 0.0 if self.counts.size == 0 else max(abs(self.low), abs(self.high))

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile of |x| (upper edge of the bin where the CDF reaches ``p``), at most ``amax``."""
        if self.counts.size == 0:
            return 0.0
        cdf = np.cumsum(self.counts) / max(int(self.counts.sum()), 1)
        idx = int(np.searchsorted(cdf, p / 100.0))
        return float(min((idx + 1) * self.top / self.bins, self.amax))

    def entropy_threshold(self, quant_bins: int = 128, stride: int = 8) -> float:
        """TensorRT-style KL-divergence threshold: the clip ``t`` whose 128-level quantization of the |x|
        histogram below ``t`` (outliers folded into the last bin) diverges least from the original."""
        counts = self.counts.astype(np.float64)
        nz = np.nonzero(counts)[0]
        if nz.size == 0:
            return 0.0
        last = int(nz[-1]) + 1
        if last <= quant_bins:
            return float(min(last * self.top / self.bins, self.amax))
        best, best_i = np.inf, last
        for i in range(quant_bins, last + 1, stride):
            ref = counts[:i].copy()
            ref[i - 1] += counts[i:].sum()
            # quantize the first i bins into quant_bins levels, expand back over the non-empty bins
            edges = np.linspace(0, i, quant_bins + 1).astype(int)
            q = np.zeros(i)
            for a, b in zip(edges[:-1], edges[1:]):
                seg = counts[a:b]
                nonzero = seg > 0
                if nonzero.any():
                    q[a:b][nonzero] = seg.sum() / nonzero.sum()
            p = ref / ref.sum()
            qs = q.sum()
            if qs == 0:
                continue
            q = q / qs
            mask = p > 0
            kl = float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))
            if kl < best:
                best, best_i = kl, i
        return float(min(best_i * self.top / self.bins, self.amax))


@dataclass(frozen=True)
class CalibrationHistograms:
    """Per-tensor histograms of one calibration pass (``faces`` counted, ``batches`` read from the reader)."""

    tensors: Mapping[str, ActivationHistogram]
    faces: int
    batches: int
    peak_chunk_bytes: int

    def threshold(self, name: str, method: CalibrationMethod | str, percentile: float = 99.99) -> float:
        """Clipping threshold (>= 0) of tensor ``name`` by ``method``."""
        h, method = self.tensors[name], CalibrationMethod(method)
        if method is CalibrationMethod.MINMAX:
            return h.amax
        if method is CalibrationMethod.PERCENTILE:
            return h.percentile(percentile)
        return h.entropy_threshold()

    def ranges(self, method: CalibrationMethod | str, percentile: float = 99.99) -> dict[str, tuple[float, float]]:
        """``{tensor: (low, high)}``: the observed range clipped to ``±threshold`` (a non-negative tensor keeps low 0)."""
        out = {}
        for name, h in self.tensors.items():
            if h.counts.size == 0:
                continue
            t = self.threshold(name, method, percentile)
            low, high = max(h.low, -t), min(h.high, t)
            if high <= low:  # a constant tensor (e.g. the normalised sums of the head): give it some width
                width = max(abs(high), 1e-6)
                low, high = min(low, 0.0, -width if h.low < 0 else 0.0), max(high, width)
            out[name] = (float(low), float(high))
        return out


def calibration_tensors(model: Any) -> list[str]:
    """The float activations of ``model`` to calibrate: graph inputs and every node output inferred as float32."""
    onnx = require("onnx", "INT8 calibration")
    inferred = onnx.shape_inference.infer_shapes(model)
    elem = {vi.name: vi.type.tensor_type.elem_type for vi in
            list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    inits = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    for node in model.graph.node:
        names += [o for o in node.output if o and elem.get(o) == onnx.TensorProto.FLOAT and o not in names]
    return names


def _augmented_session(onnx_path: str | Path, threads: int) -> tuple[Any, list[str]]:
    onnx = require("onnx", "INT8 calibration")
    from ran_edge.runtime.ort_runner import cpu_runner

    model = onnx.load(str(onnx_path))
    names = calibration_tensors(model)
    existing = {o.name for o in model.graph.output}
    for name in names:
        if name not in existing:
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    # no memory arena: it would keep the largest chunk's activations for the whole run; no graph optimisation:
    # keep every named tensor
    with tempfile.TemporaryDirectory(prefix="ran-edge-calib-") as tmp:
        path = Path(tmp) / "augmented.onnx"
        onnx.save(model, str(path))
        sess = cpu_runner(path, threads, optimize=False, memory_arena=False)
    return sess, names


def _chunks(feed: Mapping[str, np.ndarray], rows_per_face: int, faces_per_chunk: int) -> Iterable[dict[str, np.ndarray]]:
    rows = next(iter(feed.values())).shape[0]
    step = max(1, faces_per_chunk) * rows_per_face
    for start in range(0, rows, step):
        yield {k: v[start:start + step] for k, v in feed.items()}


def collect_histograms(onnx_path: str | Path, reader: Iterable[Mapping[str, np.ndarray]], *, rows_per_face: int = 1,
                       max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES, bins: int = HIST_BINS, threads: int = 2,
                       progress: bool = True) -> CalibrationHistograms:
    """One pass of the FP32 model over ``reader``'s feeds → per-tensor histograms, in bounded memory.

    Args:
        onnx_path: the FP32 ONNX.
        reader: feeds ``{input: array}``; the first axis is faces (``rows_per_face`` rows each for a regions input).
        rows_per_face: rows of the input per face (K for a ``regions`` input, else 1); chunks never split a face.
        max_chunk_bytes: activation bytes per ONNX Runtime call; the first face measures the bytes per face.

    Raises:
        RanEdgeError: the reader gave no feeds.
    """
    sess, names = _augmented_session(onnx_path, threads)
    hists = {n: ActivationHistogram(bins) for n in names}
    faces = batches = 0
    per_face = 0
    peak = 0
    bar = None
    if progress:
        from tqdm import tqdm

        total = len(reader) if hasattr(reader, "__len__") else None  # type: ignore[arg-type]
        bar = tqdm(total=total, desc="calibrating", unit="batch", leave=False)
    try:
        for feed in reader:
            batches += 1
            n_faces = next(iter(feed.values())).shape[0] // rows_per_face
            chunk_faces = 1 if per_face == 0 else max(1, int(max_chunk_bytes // per_face))
            for chunk in _chunks(feed, rows_per_face, chunk_faces):
                got = sess.infer(chunk, check=False)
                outs = [got[n] for n in names]
                nbytes = sum(o.nbytes for o in outs)
                peak = max(peak, nbytes)
                k = next(iter(chunk.values())).shape[0] // rows_per_face
                per_face = max(per_face, nbytes // max(k, 1))
                for name, arr in zip(names, outs):
                    hists[name].update(arr)
                del outs
            faces += n_faces
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if batches == 0:
        raise RanEdgeError("calibration data gave no batches; expected at least one")
    return CalibrationHistograms(hists, faces, batches, peak)

