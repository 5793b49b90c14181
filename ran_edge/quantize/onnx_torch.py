"""A small torch executor of a RAN ONNX graph (FP32 or QDQ INT8), for quantization-aware fine-tuning.

:class:`OnnxTorch` runs the graph's nodes in order with torch ops, so autograd differentiates through it.
Float initializers named in ``trainable`` become ``nn.Parameter``s (the rest stay constants: crop matrices,
shape tensors, Q/DQ scales and zero points). Quantization is the file's own: a ``QuantizeLinear`` is
``saturate(round_half_even(x / scale) + zero_point)`` exactly as ONNX specifies (the int8 / uint8 range of
its zero point; per-tensor, or per-channel along ``axis``), with a straight-through estimator for the
rounding (the gradient passes inside the range and is zero where it saturates); ``DequantizeLinear`` is
``(q - zero_point) * scale``. A ``QuantizeLinear`` that reads a float initializer (a weight behind a Q/DQ
pair, as ONNX Runtime's ``AddQDQPairToWeight`` writes it) recomputes its scale from the current weight the
way ONNX Runtime's quantizer computed it: symmetric, ``max|w| / 127`` per channel (float64, stored as
float32; 1.0 for an all-zero channel), so the file written from the trained weights is consistent
(:meth:`OnnxTorch.weight_scales`). Activation scales stay those of the calibration.

The ops are those of exported RAN graphs (both input kinds, every preset and attention mode) and a few
more; an unknown op is a :class:`RanEdgeError` naming it when the executor is built. Torch is imported
lazily (this module is imported by torch-free code paths only through its functions).
"""

from __future__ import annotations

from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from ran_edge._lazy import require
from ran_edge.errors import RanEdgeError

#: ONNX element types of zero points → (qmin, qmax) of QuantizeLinear's saturation
_QRANGE = {2: (0, 255), 3: (-128, 127)}  # UINT8, INT8
#: ONNX Cast ``to`` → numpy dtype name
_CAST = {1: "float32", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64", 2: "uint8", 3: "int8"}
#: symmetric int8 weights: ONNX Runtime's restricted range [-127, 127]
WEIGHT_QMAX = 127


def _attrs(node: Any) -> dict[str, Any]:
    helper = require("onnx", "QAT").helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def weight_scale(w: np.ndarray, axis: int | None) -> np.ndarray:
    """ONNX Runtime's symmetric int8 weight scale: ``max|w| / 127`` per channel along ``axis`` (per tensor when
    None), computed in float64 and stored as float32; a channel whose max is below float32's tiny gets 1.0."""
    a = np.abs(w.astype(np.float32))
    if axis is None:
        absmax = np.asarray(a.max(), np.float32)
    else:
        absmax = np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1).max(1)
    scale = (2.0 * absmax.astype(np.float64)) / (2.0 * WEIGHT_QMAX)
    return np.where(scale < np.finfo(np.float32).tiny, 1.0, scale).astype(np.float32)


def _ops() -> dict[str, Callable[..., Any]]:
    """op type → ``fn(inputs, attrs, opset) -> output tensor`` (torch)."""
    torch = require("torch", "QAT")
    F = torch.nn.functional

    def ints(t: Any) -> list[int]:
        return [int(v) for v in (t.reshape(-1).tolist() if hasattr(t, "reshape") else t)]

    def axes_of(x: list[Any], a: dict[str, Any]) -> list[int] | None:
        if "axes" in a:
            return [int(v) for v in a["axes"]]
        return ints(x[1]) if len(x) > 1 and x[1] is not None else None

    def pads2(pads: Sequence[int], n: int) -> tuple[list[int], bool]:
        begin, end = list(pads[:n]), list(pads[n:])
        return begin + end, begin == end

    def conv(x: list[Any], a: dict[str, Any], _: int) -> Any:
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise RanEdgeError(f"Conv auto_pad={a['auto_pad']!r} is not supported by the torch executor")
        n = x[1].dim() - 2
        pads, sym = pads2(a.get("pads", [0] * 2 * n), n)
        inp, pad = x[0], pads[:n]
        if not sym:
            inp = F.pad(inp, [v for i in reversed(range(n)) for v in (pads[i], pads[n + i])])
            pad = [0] * n
        fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
        return fn(inp, x[1], x[2] if len(x) > 2 else None, a.get("strides", [1] * n), pad, a.get("dilations", [1] * n),
                  a.get("group", 1))

    def pool(x: list[Any], a: dict[str, Any], kind: str) -> Any:
        k = list(a["kernel_shape"])
        n = len(k)
        pads, sym = pads2(a.get("pads", [0] * 2 * n), n)
        strides, inp = a.get("strides", [1] * n), x[0]
        pad = pads[:n]
        if not sym:
            if kind != "max":
                raise RanEdgeError("AveragePool with asymmetric pads is not supported by the torch executor")
            inp = F.pad(inp, [v for i in reversed(range(n)) for v in (pads[i], pads[n + i])], value=float("-inf"))
            pad = [0] * n
        if kind == "max":
            return F.max_pool2d(inp, k, strides, pad, a.get("dilations", [1] * n), bool(a.get("ceil_mode", 0)))
        return F.avg_pool2d(inp, k, strides, pad, bool(a.get("ceil_mode", 0)), bool(a.get("count_include_pad", 0)))

    def gemm(x: list[Any], a: dict[str, Any], _: int) -> Any:
        A = x[0].transpose(0, 1) if a.get("transA", 0) else x[0]
        B = x[1].transpose(0, 1) if a.get("transB", 0) else x[1]
        y = a.get("alpha", 1.0) * (A @ B)
        return y + a.get("beta", 1.0) * x[2] if len(x) > 2 and x[2] is not None else y

    def reshape(x: list[Any], a: dict[str, Any], _: int) -> Any:
        shape = ints(x[1])
        if not a.get("allowzero", 0):
            shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return x[0].reshape(shape)

    def reduce(fn: str) -> Callable[..., Any]:
        def run(x: list[Any], a: dict[str, Any], _: int) -> Any:
            axes = axes_of(x, a)
            keep = bool(a.get("keepdims", 1))
            if not axes:
                if a.get("noop_with_empty_axes", 0):
                    return x[0]
                axes = list(range(x[0].dim()))
            return getattr(torch, fn)(x[0], dim=axes, keepdim=keep)
        return run

    def softmax(x: list[Any], a: dict[str, Any], opset: int) -> Any:
        if opset >= 13:
            return torch.softmax(x[0], dim=a.get("axis", -1))
        axis = a.get("axis", 1) % x[0].dim()
        flat = x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        return torch.softmax(flat, 1).reshape(x[0].shape)

    def squeeze(x: list[Any], a: dict[str, Any], _: int) -> Any:
        axes = axes_of(x, a)
        if axes is None:
            return x[0].squeeze()
        for ax in sorted((v % x[0].dim() for v in axes), reverse=True):
            x[0] = x[0].squeeze(ax)
        return x[0]

    def unsqueeze(x: list[Any], a: dict[str, Any], _: int) -> Any:
        axes = axes_of(x, a) or []
        rank = x[0].dim() + len(axes)
        y = x[0]
        for ax in sorted(v % rank for v in axes):
            y = y.unsqueeze(ax)
        return y

    def slice_(x: list[Any], a: dict[str, Any], _: int) -> Any:
        starts, ends = ints(x[1]), ints(x[2])
        axes = ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(starts)))
        steps = ints(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(starts)
        idx: list[Any] = [slice(None)] * x[0].dim()
        for s, e, ax, st in zip(starts, ends, axes, steps):
            if st < 0:
                raise RanEdgeError("Slice with negative steps is not supported by the torch executor")
            size = x[0].shape[ax]
            idx[ax] = slice(max(min(s if s >= 0 else s + size, size), 0), max(min(e if e >= 0 else e + size, size), 0), st)
        return x[0][tuple(idx)]

    def expand(x: list[Any], a: dict[str, Any], _: int) -> Any:
        return x[0].expand(torch.broadcast_shapes(tuple(x[0].shape), tuple(ints(x[1]))))

    def clip(x: list[Any], a: dict[str, Any], _: int) -> Any:
        lo = x[1] if len(x) > 1 and x[1] is not None else a.get("min")
        hi = x[2] if len(x) > 2 and x[2] is not None else a.get("max")
        return torch.clamp(x[0], lo, hi)

    def constant(x: list[Any], a: dict[str, Any], _: int) -> Any:
        if "value" in a:
            return to_torch(require("onnx", "QAT").numpy_helper.to_array(a["value"]))
        for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64), ("value_ints", np.int64)):
            if key in a:
                return to_torch(np.asarray(a[key], dtype))
        raise RanEdgeError(f"Constant with attributes {sorted(a)} is not supported by the torch executor")

    def batchnorm(x: list[Any], a: dict[str, Any], _: int) -> Any:
        return F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0, a.get("epsilon", 1e-5))

    return {
        "Conv": conv,
        "MaxPool": lambda x, a, o: pool(x, a, "max"),
        "AveragePool": lambda x, a, o: pool(x, a, "avg"),
        "GlobalAveragePool": lambda x, a, o: x[0].mean(dim=tuple(range(2, x[0].dim())), keepdim=True),
        "Gemm": gemm,
        "MatMul": lambda x, a, o: torch.matmul(x[0], x[1]),
        "Relu": lambda x, a, o: torch.relu(x[0]),
        "Sigmoid": lambda x, a, o: torch.sigmoid(x[0]),
        "Tanh": lambda x, a, o: torch.tanh(x[0]),
        "Exp": lambda x, a, o: torch.exp(x[0]),
        "Sqrt": lambda x, a, o: torch.sqrt(x[0]),
        "Neg": lambda x, a, o: -x[0],
        "Softmax": softmax,
        "Add": lambda x, a, o: x[0] + x[1],
        "Sub": lambda x, a, o: x[0] - x[1],
        "Mul": lambda x, a, o: x[0] * x[1],
        "Div": lambda x, a, o: (torch.div(x[0], x[1], rounding_mode="trunc") if not x[0].is_floating_point() else x[0] / x[1]),
        "Pow": lambda x, a, o: torch.pow(x[0], x[1]),
        "ReduceSum": reduce("sum"),
        "ReduceMean": reduce("mean"),
        "ReduceMax": lambda x, a, o: torch.amax(x[0], dim=axes_of(x, a) or list(range(x[0].dim())), keepdim=bool(a.get("keepdims", 1))),
        "Flatten": lambda x, a, o: x[0].reshape(int(np.prod(x[0].shape[:a.get("axis", 1) % max(x[0].dim(), 1)])), -1),
        "Reshape": reshape,
        "Transpose": lambda x, a, o: x[0].permute(*(a.get("perm") or list(reversed(range(x[0].dim()))))),
        "Concat": lambda x, a, o: torch.cat(list(x), dim=a["axis"]),
        "Slice": slice_,
        "Gather": lambda x, a, o: torch.index_select(x[0], a.get("axis", 0) % x[0].dim(), x[1].reshape(-1) % x[0].shape[a.get("axis", 0)]).reshape(
            tuple(x[0].shape[:a.get("axis", 0) % x[0].dim()]) + tuple(x[1].shape) + tuple(x[0].shape[a.get("axis", 0) % x[0].dim() + 1:])),
        "Squeeze": squeeze,
        "Unsqueeze": unsqueeze,
        "Shape": lambda x, a, o: torch.tensor(list(x[0].shape), dtype=torch.int64)[a.get("start", 0):a.get("end", None)],
        "Expand": expand,
        "Cast": lambda x, a, o: x[0].to(getattr(torch, _CAST[a["to"]])),
        "Constant": constant,
        "Identity": lambda x, a, o: x[0],
        "Clip": clip,
        "BatchNormalization": batchnorm,
    }


def to_torch(a: np.ndarray) -> Any:
    """numpy → torch (a copy, so the executor never writes into an ONNX initializer's buffer)."""
    torch = require("torch", "QAT")
    return torch.from_numpy(np.array(a, copy=True))


#: ops the executor runs (besides QuantizeLinear / DequantizeLinear)
SUPPORTED_OPS = ("Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "Conv", "Div", "Exp", "Expand",
                 "Flatten", "Gather", "Gemm", "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "Mul", "Neg", "Pow",
                 "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Sqrt",
                 "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze")
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


def check_ops(model: Any) -> None:
    """Raise :class:`RanEdgeError` naming the first node whose op the executor does not run."""
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or (node.op_type not in SUPPORTED_OPS and node.op_type not in QDQ_OPS):
            raise RanEdgeError(f"op {node.domain + '.' if node.domain else ''}{node.op_type} (node {node.name or '?'}) is not supported "
                               f"by the torch QAT executor; supported: {', '.join(SUPPORTED_OPS + QDQ_OPS)}")


def build_onnx_torch(model: Any, trainable: Collection[str] = ()) -> Any:
    """An :class:`OnnxTorch` module (an ``nn.Module``) executing ``model`` (an ``onnx.ModelProto``).

    Args:
        model: the ONNX graph (FP32 or QDQ).
        trainable: names of float initializers to make ``nn.Parameter``s (the rest are constants).

    Raises:
        RanEdgeError: an op the executor does not run, or a trainable name that is not a float initializer.
    """
    torch = require("torch", "QAT")
    numpy_helper = require("onnx", "QAT").numpy_helper
    check_ops(model)
    ops = _ops()
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)

    class OnnxTorch(torch.nn.Module):
        """Runs the ONNX graph; ``forward(feeds, fetch=()) -> {name: tensor}`` (graph outputs + ``fetch``)."""

        def __init__(self) -> None:
            super().__init__()
            self.nodes = list(model.graph.node)
            self.attrs = [_attrs(n) for n in self.nodes]
            self.output_names = [o.name for o in model.graph.output]
            self.input_names = [i.name for i in model.graph.input]
            self.params = torch.nn.ParameterDict()
            self.param_key: dict[str, str] = {}
            self.consts: dict[str, Any] = {}
            self.dtypes: dict[str, int] = {}
            wanted = set(trainable)
            for t in model.graph.initializer:
                self.dtypes[t.name] = t.data_type
                arr = numpy_helper.to_array(t)
                if t.name in wanted:
                    if arr.dtype != np.float32:
                        raise RanEdgeError(f"trainable initializer {t.name} is {arr.dtype}, expected float32")
                    key = f"p{len(self.param_key)}"
                    self.param_key[t.name] = key
                    self.params[key] = torch.nn.Parameter(to_torch(arr))
                else:
                    self.consts[t.name] = to_torch(arr)
            missing = sorted(wanted - set(self.param_key))
            if missing:
                raise RanEdgeError(f"trainable names {missing[:3]} are not initializers of the graph")
            for n in self.nodes:  # zero points given by Constant nodes
                if n.op_type == "Constant" and "value" in (a.name for a in n.attribute):
                    self.dtypes[n.output[0]] = next(a.t.data_type for a in n.attribute if a.name == "value")
            #: QuantizeLinear node index → (weight initializer, scale initializer, axis): scales follow the weights
            self.weight_q: dict[int, tuple[str, str, int | None]] = {}
            for i, n in enumerate(self.nodes):
                if n.op_type == "QuantizeLinear" and (n.input[0] in self.param_key or n.input[0] in self.consts) \
                        and self.dtypes.get(n.input[0]) == 1:
                    scale = self.consts[n.input[1]]
                    axis = self.attrs[i].get("axis", 1) if scale.dim() >= 1 and scale.numel() > 1 else None
                    self.weight_q[i] = (n.input[0], n.input[1], axis)
            last: dict[str, int] = {}
            for i, n in enumerate(self.nodes):
                for name in n.input:
                    last[name] = i
            self.last_use = last
            #: activation Q node index → its one DequantizeLinear (same scale and zero point): one fused op when training
            self.fused: dict[int, int] = {}
            index = {id(n): i for i, n in enumerate(self.nodes)}
            users: dict[str, list[Any]] = {}
            for n in self.nodes:
                for name in n.input:
                    users.setdefault(name, []).append(n)
            for i, n in enumerate(self.nodes):
                u = users.get(n.output[0], [])
                if n.op_type == "QuantizeLinear" and i not in self.weight_q and len(u) == 1 and u[0].op_type == "DequantizeLinear" \
                        and list(u[0].input[1:]) == list(n.input[1:]) and len(n.input) > 2 and self.consts[n.input[1]].numel() == 1:
                    self.fused[i] = index[id(u[0])]
            #: fuse activation Q/DQ pairs into torch's fake_quantize op while training (about twice as fast; it multiplies by
            #: 1/scale, so a value within an ulp of a rounding boundary may round the other way); eval is always exact
            self.fast_train = True

        def tensor(self, name: str) -> Any:
            """The current value of an initializer (parameter or constant)."""
            return self.params[self.param_key[name]] if name in self.param_key else self.consts[name]

        def weight_scales(self) -> dict[str, np.ndarray]:
            """``{scale initializer: scale}`` of every weight Q/DQ pair, recomputed from the current weights."""
            out = {}
            for w, s, axis in self.weight_q.values():
                shape = tuple(self.consts[s].shape)
                out[s] = weight_scale(self.tensor(w).detach().cpu().numpy(), axis).reshape(shape)
            return out

        def trained_initializers(self) -> dict[str, np.ndarray]:
            """``{initializer: current value}`` of the trainable initializers."""
            return {name: self.params[key].detach().cpu().numpy().copy() for name, key in self.param_key.items()}

        def _quantize(self, i: int, x: list[Any], env: dict[str, Any]) -> Any:
            n = self.nodes[i]
            zp_name = n.input[2] if len(n.input) > 2 and n.input[2] else None
            qmin, qmax = _QRANGE.get(self.dtypes.get(zp_name, 2) if zp_name else 2, (None, None))
            if qmin is None:
                raise RanEdgeError(f"QuantizeLinear {n.name}: zero point type {self.dtypes.get(zp_name)} is not int8/uint8")
            if i in self.weight_q:
                w, scale_name, axis = self.weight_q[i]
                scale = to_torch(weight_scale(x[0].detach().cpu().numpy(), axis)).reshape(self.consts[scale_name].shape)
                env[scale_name] = scale  # the pair's DequantizeLinear reads the same recomputed scale
            else:
                scale = x[1]
            scale, zp = self._broadcast(i, x[0], scale), self._broadcast(i, x[0], x[2] if zp_name else None)
            v = x[0] / scale
            r = torch.round(v).detach() + (v - v.detach())  # round half to even (as ONNX), exactly; straight-through gradient
            return torch.clamp(r + zp, qmin, qmax)

        def _broadcast(self, i: int, x: Any, t: Any) -> Any:
            if t is None:
                return torch.zeros((), dtype=torch.float32)
            t = t.to(torch.float32)
            if t.dim() == 0 or t.numel() == 1:
                return t.reshape(())
            axis = self.attrs[i].get("axis", 1) % x.dim()
            shape = [1] * x.dim()
            shape[axis] = -1
            return t.reshape(shape)

        def forward(self, feeds: Mapping[str, Any], fetch: Sequence[str] = ()) -> dict[str, Any]:
            env: dict[str, Any] = dict(feeds)
            keep = set(self.output_names) | set(fetch)
            fast, skip = self.training and self.fast_train, set()
            for i, n in enumerate(self.nodes):
                if i in skip:
                    continue
                x = [None if not name else env[name] if name in env else self.tensor(name) for name in n.input]
                if fast and i in self.fused:
                    dq = self.nodes[self.fused[i]]
                    qmin, qmax = _QRANGE[self.dtypes[n.input[2]]]
                    y = torch.fake_quantize_per_tensor_affine(x[0], x[1].reshape(()).to(torch.float32),
                                                              x[2].reshape(()).to(torch.int32), qmin, qmax)
                    env[dq.output[0]] = y
                    skip.add(self.fused[i])
                    self._free(env, n.input, i, keep)
                    continue
                if n.op_type == "QuantizeLinear":
                    y = self._quantize(i, x, env)
                elif n.op_type == "DequantizeLinear":
                    zp = self._broadcast(i, x[0], x[2] if len(x) > 2 else None)
                    y = (x[0].to(torch.float32) - zp) * self._broadcast(i, x[0], x[1])
                else:
                    y = ops[n.op_type](x, self.attrs[i], opset)
                env[n.output[0]] = y
                self._free(env, n.input, i, keep)
            return {name: env[name] for name in keep}

        def _free(self, env: dict[str, Any], names: Sequence[str], i: int, keep: set[str]) -> None:
            for name in names:  # free what no later node reads (autograd keeps what it needs)
                if self.last_use.get(name) == i and name not in keep and name in env:
                    del env[name]

    return OnnxTorch()
