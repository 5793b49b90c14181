"""Kernel time per operator type from ONNX Runtime's profiler (what int8_mixed_speed reports beside the ratios)."""

from __future__ import annotations

import numpy as np
import pytest

from ran_edge.bench.op_profile import op_type_times, op_type_times_from_trace
from ran_edge.errors import RanEdgeError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _conv_relu_model() -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 32, 32])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_trace_is_summed_per_op_type_and_averaged_over_runs():
    trace = [{"cat": "Node", "name": "a_kernel_time", "dur": 3000, "args": {"op_name": "Conv"}},
             {"cat": "Node", "name": "b_kernel_time", "dur": 1000, "args": {"op_name": "Conv"}},
             {"cat": "Node", "name": "c_fence_before", "dur": 9000, "args": {"op_name": "Conv"}},
             {"cat": "Node", "name": "d_kernel_time", "dur": 500, "args": {"op_name": "Relu"}},
             {"cat": "Session", "name": "model_run", "dur": 99000}]
    assert op_type_times_from_trace(trace, runs=2) == {"Conv": 2.0, "Relu": 0.25}
    assert list(op_type_times_from_trace(trace, runs=1)) == ["Conv", "Relu"]  # largest first
    with pytest.raises(RanEdgeError, match="runs"):
        op_type_times_from_trace(trace, runs=0)


def test_a_real_profile_names_the_model_s_kernels():
    times = op_type_times(_conv_relu_model(), {"x": np.ones((1, 3, 32, 32), np.float32)}, runs=2, threads=1)
    conv = next(k for k in times if "Conv" in k)  # ORT may fuse Conv+Relu into FusedConv
    assert times[conv] > 0.0
    assert all(v >= 0.0 for v in times.values())
