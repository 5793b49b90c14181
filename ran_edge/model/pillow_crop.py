"""In-graph region crops of the ``official-uint8`` convention: Pillow's uint8 resize, bit for bit, in float32 ops.

The float conventions crop with two MatMuls (:meth:`ran_edge.model.ran.RAN.crop_regions`). Pillow instead works on
integers (``ran_edge.crop``: 22-bit coefficients, horizontal pass first, each pass rounded half up and clipped to
uint8). This module reproduces that with ops every runtime runs in float32 and TensorRT 8.6–11 parses (MatMul,
Mul, Add, Floor, Clip):

1. the model input is turned back into the face's uint8 values: ``clip(floor(x·std/scale + mean/scale + 0.5))``
   (the inverse of :func:`ran_edge.preprocess.normalise`, exact to far less than half a grey level);
2. horizontal pass: two MatMuls, one per half of each region's column coefficients split in two 11-bit halves
   (:func:`ran_edge.crop.split_fixed`); the sums are integers below 2^24, exact in float32 and under TF32;
3. :func:`ran_edge.crop.combine_split_u8`'s steps make the uint8 values of the pass (Mul, Floor, Add, Clip);
4. the vertical pass the same way with the row coefficients;
5. the uint8 crops are scaled and normalised as :func:`ran_edge.preprocess.normalise` does.

The cost over the float crops: four MatMuls instead of two (the two halves; one MatMul per half measured faster
in ONNX Runtime than one MatMul over both halves and a Slice), plus a few elementwise ops on ``[N,K,3,S,R]``;
measured in ``benchmarks/pillow_crop_latency.py``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ran_edge.crop import SPLIT, SPLIT_HALF, SPLIT_STEP, split_fixed
from ran_edge.errors import RanEdgeError
from ran_edge.preprocess import PreprocessSpec, region_matrices
from ran_edge.presets import RegionPreset


def _combine(sum_hi: torch.Tensor, sum_lo: torch.Tensor) -> torch.Tensor:
    """:func:`ran_edge.crop.combine_split_u8` in torch ops (exported as Mul, Floor, Add, Clip)."""
    a = torch.floor(sum_lo * (1.0 / SPLIT))
    return torch.clamp(torch.floor((sum_hi + a + SPLIT_HALF) * SPLIT_STEP), 0.0, 255.0)


class PillowCrop(nn.Module):
    """``[N,3,S,S]`` model input → ``[N*K,3,R,R]`` region batch with Pillow's uint8 arithmetic (face-major).

    Its buffers are not persistent: checkpoints and state dicts are the same as for the float conventions.
    """

    def __init__(self, preset: RegionPreset, spec: PreprocessSpec):
        super().__init__()
        r = spec.region_size
        rows, cols = region_matrices(preset, spec.face_size, r, spec, np.float64)  # [K,R,S] each
        try:
            row_hi, row_lo = split_fixed(rows)
            col_hi, col_lo = split_fixed(cols)
        except ValueError as exc:
            raise RanEdgeError(f"crop official-uint8 with face size {spec.face_size} and region size {r}: {exc}") from exc
        self.region_size = r
        # [1,K,1,S,R]: horizontal pass (columns transposed); [1,K,1,R,S]: vertical pass; one buffer per half.
        for name, m in (("cols_hi_t", col_hi.transpose(0, 2, 1)), ("cols_lo_t", col_lo.transpose(0, 2, 1)),
                        ("rows_hi", row_hi), ("rows_lo", row_lo)):
            self.register_buffer(name, torch.from_numpy(np.ascontiguousarray(m))[None, :, None], persistent=False)
        std = np.asarray(spec.std, np.float64)
        mean = np.asarray(spec.mean, np.float64)
        to_u8_mul = (std / spec.scale).astype(np.float32).reshape(1, 1, 3, 1, 1)
        to_u8_add = (mean / spec.scale + 0.5).astype(np.float32).reshape(1, 1, 3, 1, 1)
        self.register_buffer("to_u8_mul", torch.from_numpy(to_u8_mul), persistent=False)
        self.register_buffer("to_u8_add", torch.from_numpy(to_u8_add), persistent=False)
        self.scale = float(np.float32(spec.scale))
        self.normalised = spec.mean != (0.0, 0.0, 0.0) or spec.std != (1.0, 1.0, 1.0)
        self.register_buffer("mean", torch.tensor(spec.mean, dtype=torch.float32).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std, dtype=torch.float32).reshape(1, 3, 1, 1), persistent=False)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        r = self.region_size
        u8 = torch.clamp(torch.floor(faces.unsqueeze(1) * self.to_u8_mul + self.to_u8_add), 0.0, 255.0)  # [N,1,3,S,S]
        t = _combine(torch.matmul(u8, self.cols_hi_t), torch.matmul(u8, self.cols_lo_t))  # horizontal, [N,K,3,S,R]
        v = _combine(torch.matmul(self.rows_hi, t), torch.matmul(self.rows_lo, t))  # vertical pass, [N,K,3,R,R]
        crops = v.reshape(-1, 3, r, r)
        out = crops * self.scale
        return (out - self.mean) / self.std if self.normalised else out
