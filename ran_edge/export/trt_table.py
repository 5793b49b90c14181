"""What the TensorRT ONNX parser (onnx-tensorrt) supports, per TensorRT version, as data (torch-free).

Sources (onnx/onnx-tensorrt, ``docs/operators.md`` and ``docs/Changelog.md`` of each release branch):

* TensorRT 8.5/8.6: "supports operators up to Opset 17"; the 8.5 operator matrix plus the 8.6 EA
  changelog ("Added support for GroupNormalization, LayerNormalization, IsInf").
* TensorRT 10.x: "supports operators in the inclusive range of opset 9 to opset 20" (10.0; 10.15 reads
  up to opset 24); operator matrix of 10.15, with the release that added an op taken from the changelog
  (9.2 Hardmax, 10.0 ``Pad`` wrap mode and ``ScatterElements`` reduction, 10.1 DeformConv,
  10.3 tensor ``axes`` for Slice, 10.4 Blackman/Hamming/HannWindow, 10.5 STFT).
* onnx/onnx-tensorrt PR #1060 (2026-07): GridSample-20 renamed ``bilinear``/``bicubic`` to
  ``linear``/``cubic`` and the parser (reproduced with TensorRT 11.1) silently falls back to ``nearest``.

Versions are ``(major, minor)`` tuples; an op maps to the first version whose parser imports it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

Version = tuple[int, int]

#: Highest default-domain opset each TensorRT version's parser reads.
MAX_OPSET: Mapping[Version, int] = MappingProxyType({(8, 5): 17, (8, 6): 17, (9, 0): 17, (10, 0): 20, (10, 15): 24})

_BASE_85 = """Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast Ceil Celu
Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear Div Dropout Einsum Elu
Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool
Greater GreaterOrEqual GridSample GRU HardSwish HardSigmoid Identity If ImageScaler InstanceNormalization IsNaN LeakyRelu Less
LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean MeanVarianceNormalization Min Mod Mul
Neg NonMaxSuppression NonZero Not OneHot Or Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike
RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin
ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN RoiAlign Round ScaledTanh Scan Scatter
ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt
Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor"""

_LATER: Mapping[str, Version] = {
    "GroupNormalization": (8, 6), "LayerNormalization": (8, 6), "IsInf": (8, 6),
    "Hardmax": (9, 2),
    "CastLike": (10, 0), "Gelu": (10, 0), "Mish": (10, 0),
    "DeformConv": (10, 1),
    "BlackmanWindow": (10, 4), "HammingWindow": (10, 4), "HannWindow": (10, 4),
    "STFT": (10, 5),
    "Attention": (10, 15), "RMSNormalization": (10, 15), "RotaryEmbedding": (10, 15), "TensorScatter": (10, 15),
}

#: op_type -> first TensorRT version whose ONNX parser imports it.
SUPPORTED_SINCE: Mapping[str, Version] = MappingProxyType({**{op: (8, 5) for op in _BASE_85.split()}, **_LATER})

#: Ops no TensorRT parser in scope imports (N in the 10.15 matrix, and training-only ops).
NEVER_SUPPORTED = frozenset("""AffineGrid Bernoulli BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor Col2Im CenterCropPad
Compress ConcatFromSequence ConvInteger DFT Det DynamicQuantizeLinear ImageDecoder MatMulInteger MaxRoiPool MaxUnpool
MelWeightMatrix Multinomial NegativeLogLikelihoodLoss Optional OptionalGetElement OptionalHasElement QLinearConv QLinearMatMul
RegexFullMatch SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength SequenceMap
SoftmaxCrossEntropyLoss SplitToSequence StringConcat StringNormalizer StringSplit TfIdfVectorizer Unique""".split())

#: Resize attributes the parser accepts (same list in 8.5 and 10.15; 10.x adds antialias/aspect-ratio limits).
RESIZE_MODES = frozenset({"nearest", "linear"})
RESIZE_COORD_MODES = frozenset({"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"})
RESIZE_NEAREST_MODES = frozenset({"floor", "ceil", "round_prefer_floor", "round_prefer_ceil"})
#: Ops whose ``axes`` (or ``axis``) input must be a build-time constant, with the version lifting that rule.
CONSTANT_AXES: Mapping[str, Version | None] = MappingProxyType({
    "Squeeze": None, "Unsqueeze": None, "CumSum": None, "Slice": (10, 3),
    **{op: None for op in ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
                           "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare")},
})


def parse_version(text: str | Version) -> Version:
    """``"8.6"`` / ``"10"`` / ``(10, 0)`` → ``(major, minor)``."""
    if isinstance(text, tuple):
        return (int(text[0]), int(text[1]))
    parts = str(text).strip().split(".")
    return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)


def fmt_version(v: Version) -> str:
    return f"{v[0]}.{v[1]}"


def max_opset(v: Version) -> int:
    """Highest opset the parser of TensorRT ``v`` reads (from the nearest documented version at or below)."""
    known = sorted(k for k in MAX_OPSET if k <= v)
    return MAX_OPSET[known[-1]] if known else 13
