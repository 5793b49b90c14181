"""The code paths ran-edge takes on one TensorRT version, driven against the checking proxies.

Build scenarios: every request of a small grid (precision x INT8 method x DLA x version
compatibility x timing cache x workspace) that :func:`~ran_edge.engine_contract.plan.plan_build` accepts on the
version is built by :func:`~ran_edge.engine.build.build_engine` through the real (pinned) Polygraphy
loaders; the plan decides which paths exist, not this module. Runtime scenarios: ``TrtRunner``
load → I/O discovery → shapes → execute, with and without the CUDA-graph path, over a no-op CUDA
layer. The scripted values below only steer the walk (tensor names, counts, shapes); they are
checked against the declared real return types by the recorder.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ran_edge.artifact import ArtifactMeta, InputKind, Precision, TensorSpec
from ran_edge.conformance.proxy import NOTSET, Recorder, new_instance
from ran_edge.engine_contract.meta import DeviceEnv
from ran_edge.engine_contract.options import BatchProfile, BuildRequest, CalibKind, CalibSource, Int8Method
from ran_edge.engine_contract.plan import FP16_KEEP_KEY, BuildPlan, PrecisionPath, plan_build
from ran_edge.engine_contract.versions import TrtVersion
from ran_edge.errors import RanEdgeError
from ran_edge.cuda import CudaApi, PinnedBuffer

INPUT, OUTPUTS = "faces", ("logits", "region_weights")
LAYERS = ("conv1", "attention/Softmax", "fc")
_OUT_WIDTH = {"logits": 7, "region_weights": 6}


@dataclass(frozen=True)
class Scenario:
    """One walked path: a name and the function that runs it (with the build module to use)."""

    name: str
    run: Callable[[ModuleType], None]


def onnx_meta(precision: Precision, keep: Tuple[str, ...] = ("attention/Softmax",)) -> ArtifactMeta:
    """A sidecar for the walk's ONNX (faces input, dynamic batch) with its FP16 analysis."""
    from ran_edge.data.classes import RAFDB_CLASSES
    from ran_edge.preprocess import PreprocessSpec
    from ran_edge.presets import FERPLUS6

    return ArtifactMeta(format="onnx", class_names=RAFDB_CLASSES, preset=FERPLUS6, attention="official",
                        preprocess=PreprocessSpec(face_size=32, region_size=16), input_kind=InputKind.FACES,
                        inputs=(TensorSpec(INPUT, (-1, 3, 32, 32)),),
                        outputs=tuple(TensorSpec(o, (-1, _OUT_WIDTH[o])) for o in OUTPUTS),
                        precision=precision, extra={"opset": 17, FP16_KEEP_KEY: list(keep)})


def write_walk_onnx(path: Path) -> None:
    """A tiny valid ONNX with the walk sidecar's I/O (``faces [N,3,32,32]`` -> ``logits [N,7]``,
    ``region_weights [N,6]``): two MatMuls on the flattened faces. TensorRT never parses it here."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Flatten", [INPUT], ["flat"], axis=1)]
    inits = []
    for name in OUTPUTS:
        inits.append(numpy_helper.from_array(np.zeros((3 * 32 * 32, _OUT_WIDTH[name]), np.float32), f"w_{name}"))
        nodes.append(helper.make_node("MatMul", ["flat", f"w_{name}"], [name]))
    inputs = [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", 3, 32, 32])]
    outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["N", _OUT_WIDTH[o]]) for o in OUTPUTS]
    graph = helper.make_graph(nodes, "conformance_walk", inputs, outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def script(rec: Recorder, real: ModuleType) -> Callable[..., Any]:
    """Scripted return values that steer the walk (see module docstring)."""
    dims = real.Dims
    batch: Dict[str, int] = {"n": 8}

    def value(cls: str, member: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        name = args[0] if args else kwargs.get("name")
        table = {
            ("OnnxParser", "num_errors"): 0, ("Builder", "num_DLA_cores"): 2,
            ("INetworkDefinition", "num_layers"): len(LAYERS), ("INetworkDefinition", "num_inputs"): 1,
            ("INetworkDefinition", "num_outputs"): len(OUTPUTS), ("ILayer", "num_outputs"): 1,
            ("ICudaEngine", "num_io_tensors"): 1 + len(OUTPUTS), ("ICudaEngine", "num_optimization_profiles"): 1,
            ("ITensor", "name"): INPUT, ("ITensor", "shape"): dims((-1, 3, 32, 32)),
            ("ITensor", "dtype"): real.DataType.FLOAT, ("ITensor", "is_shape_tensor"): False,
            ("IOptimizationProfile", "get_shape"): [dims((b, 3, 32, 32)) for b in (2, 4, 8)],
            ("ICudaEngine", "get_tensor_dtype"): real.DataType.FLOAT,
        }
        if (cls, member) in table:
            return table[(cls, member)]
        if cls == "INetworkDefinition" and member == "get_layer":
            layer = new_instance(rec.proxy_class("ILayer"))
            layer._cx_values["name"] = LAYERS[int(args[0]) % len(LAYERS)]
            return layer
        if cls == "ICudaEngine" and member == "get_tensor_name":
            return ((INPUT,) + OUTPUTS)[int(args[0])]
        if cls == "ICudaEngine" and member == "get_tensor_mode":
            return real.TensorIOMode.INPUT if name == INPUT else real.TensorIOMode.OUTPUT
        if cls == "ICudaEngine" and member == "get_tensor_shape":
            return dims((-1, 3, 32, 32)) if name == INPUT else dims((-1, _OUT_WIDTH[name]))
        if cls == "ICudaEngine" and member == "get_tensor_profile_shape":
            return [dims((b, 3, 32, 32)) for b in (2, 4, 8)]
        if cls == "IExecutionContext" and member == "set_input_shape":
            batch["n"] = int(args[1][0])
            return True
        if cls == "IExecutionContext" and member == "get_tensor_shape":
            return dims((batch["n"], _OUT_WIDTH.get(name, 1)))
        return NOTSET

    return value


class NoCuda(CudaApi):
    """A CUDA layer that does nothing (host arrays only): the runner's TensorRT calls are what is walked."""

    name = "conformance-no-op"
    gpu = "conformance walk (no GPU)"

    def __init__(self) -> None:
        self._next = 0x1000

    def set_device(self, device: int) -> None: pass
    def device_info(self, device: int) -> Tuple[str, Tuple[int, int]]: return self.gpu, (8, 7)
    def runtime_version(self) -> str: return "12.6"

    def malloc(self, nbytes: int) -> int:
        self._next += max(int(nbytes), 1)
        return self._next

    def free(self, ptr: int) -> None: pass
    def malloc_host(self, nbytes: int) -> PinnedBuffer: return PinnedBuffer(np.zeros(max(int(nbytes), 1), np.uint8), None)
    def free_host(self, buf: PinnedBuffer) -> None: pass
    def htod_async(self, dst: int, src: np.ndarray, stream: Any) -> None: pass
    def dtoh_async(self, dst: np.ndarray, src: int, stream: Any) -> None: pass
    def stream_create(self) -> Any: return object()
    def stream_handle(self, stream: Any) -> int: return 0
    def stream_sync(self, stream: Any) -> None: pass
    def stream_destroy(self, stream: Any) -> None: pass
    def event_create(self) -> Any: return object()
    def event_record(self, event: Any, stream: Any) -> None: pass
    def event_elapsed_ms(self, start: Any, end: Any) -> float: return 0.0
    def event_destroy(self, event: Any) -> None: pass
    def capture_begin(self, stream: Any) -> None: pass
    def capture_end(self, stream: Any) -> Any: return object()
    def graph_launch(self, graph_exec: Any, stream: Any) -> None: pass
    def graph_destroy(self, graph_exec: Any) -> None: pass


def _requests(folder: Path) -> List[Tuple[str, Precision, BuildRequest]]:
    """The request grid: (label, ONNX precision, request)."""
    cache = str(folder / "calib.cache")
    out = []
    grid = itertools.product(
        [Precision.FP32, Precision.FP16, Precision.INT8],  # requested
        [Precision.FP32, Precision.FP16, Precision.INT8],  # ONNX the build starts from
        [Int8Method.AUTO, Int8Method.CALIBRATOR, Int8Method.QDQ],
        [None, 0],  # DLA core
        [False, True])  # version compatible
    for prec, onnx_prec, method, dla, vc in grid:
        if prec is not Precision.INT8 and method is not Int8Method.AUTO:
            continue
        calibs = [CalibSource()] if prec is Precision.FP32 else [CalibSource(CalibKind.SYNTHETIC)]
        if prec is Precision.INT8 and method is Int8Method.CALIBRATOR:
            calibs.append(CalibSource(CalibKind.CACHE, cache))
        for calib in calibs:
            try:
                req = BuildRequest(precision=prec, batch=BatchProfile(4, 4, 4) if dla is not None else BatchProfile(2, 4, 8),
                                   calib=calib, int8_method=method, dla_core=dla, allow_gpu_fallback=dla is not None,
                                   version_compatible=vc, workspace_mib=256, timing_cache=str(folder / "timing.cache"))
            except RanEdgeError:
                continue
            label = (f"build {prec.value} from {onnx_prec.value} ONNX, int8 {method.value}, calib {calib.kind.value}"
                     f"{', dla' if dla is not None else ''}{', version-compatible' if vc else ''}")
            out.append((label, onnx_prec, req))
    return out


def build_scenarios(version: str, folder: Path) -> List[Scenario]:
    """One scenario per distinct plan that ``plan_build`` accepts on ``version`` (see module docstring)."""
    onnx = folder / "model.onnx"
    onnx.write_bytes(b"conformance walk: never parsed by TensorRT")
    Path(folder / "timing.cache").write_bytes(b"timing cache bytes")
    Path(folder / "calib.cache").write_bytes(b"calibration cache bytes")
    env = DeviceEnv(version, "conformance walk (no GPU)", (8, 7), "12.6")
    seen: Dict[str, str] = {}
    scenarios = []
    for label, onnx_prec, req in _requests(folder):
        meta = onnx_meta(onnx_prec)
        try:
            plan = plan_build(meta, req, version)
        except RanEdgeError:
            continue  # not a path ran-edge takes on this version
        key = repr(sorted(plan.to_dict().items()))
        if key in seen:
            continue
        seen[key] = label
        features = [plan.path.value] + (["dla"] if plan.dla_core is not None else []) + \
            (["version-compatible"] if plan.version_compatible else [])
        scenarios.append(Scenario(f"{label} [{' '.join(features)}]", _builder(onnx, meta, plan, folder, env)))
    return scenarios


def _builder(onnx: Path, meta: ArtifactMeta, plan: BuildPlan, folder: Path, env: DeviceEnv) -> Callable[[ModuleType], None]:
    def run(build: ModuleType) -> None:
        feeds = [{INPUT: np.zeros((4, 3, 32, 32), np.float32)}] if plan.path is PrecisionPath.INT8_CALIBRATOR else None
        build.build_engine(onnx, meta, plan, folder / "walk.engine", env, built=plan.requested, calib_feeds=feeds,
                           calib_cache=folder / "calib.cache", log=lambda s: None)
    return run


def expected_features(version: str) -> List[str]:
    """Plan paths and options the walk must reach on ``version``, from the version facts in
    :class:`~ran_edge.engine_contract.versions.TrtVersion` (so a plan that silently stops offering one fails the check)."""
    v = TrtVersion.parse(version)
    want = [PrecisionPath.STRONGLY_TYPED.value] if v.has_strongly_typed else []
    if v.has_precision_flags:
        want += [PrecisionPath.FP32.value, PrecisionPath.FP16_FLAG.value, PrecisionPath.INT8_QDQ.value, "dla"]
    if v.has_implicit_calibrator:
        want.append(PrecisionPath.INT8_CALIBRATOR.value)
    if v.has_version_compatible:
        want.append("version-compatible")
    return want


def other_scenarios(version: str, folder: Path) -> List[Scenario]:
    """Hardware precision query, environment detection and the runtime paths."""
    def fast(build: ModuleType) -> None:
        build.hardware_fast_precisions(DeviceEnv("x", "walk", (8, 7)))

    def env(build: ModuleType) -> None:
        build.detect_env(cuda=NoCuda())

    def runner(graph: bool, version_compatible: bool) -> Callable[[ModuleType], None]:
        def run(build: ModuleType) -> None:
            from ran_edge.runtime.trt_runner import TrtRunner

            engine = folder / "walk.engine"
            engine.write_bytes(b"plan")
            meta = dataclasses.replace(onnx_meta(Precision.FP32), format="engine", extra={
                "tensorrt_version": version, "compute_capability": "8.7", "gpu_name": NoCuda.gpu,
                "version_compatible": version_compatible})
            r = TrtRunner(engine, meta=meta, cuda_graph=graph, cuda=NoCuda())
            with r:
                for n in (3, 8, 11):
                    r.infer({INPUT: np.zeros((n, 3, 32, 32), np.float32)})
        return run

    def auto_load(build: ModuleType) -> None:
        """``runtime.load(..., backend="auto")``'s TensorRT branch: the cache entry made by the build-engine job."""
        from ran_edge.artifact import write_sidecar
        from ran_edge.autoload.derive import engine as cached_engine
        from ran_edge.cache import BuildCache

        src = folder / "auto" / "model.onnx"
        src.parent.mkdir(exist_ok=True)
        write_walk_onnx(src)  # a real (tiny) ONNX: load() validates the graph against the sidecar before any build
        write_sidecar(src, onnx_meta(Precision.FP32))
        walk_env = DeviceEnv(version, "conformance walk (no GPU)", (8, 7), "12.6")
        facts = {"tensorrt_version": version, "compute_capability": walk_env.cc_text, "env": walk_env}
        cached_engine(BuildCache(folder / "auto-cache", log=lambda s: None), src, Precision.FP32, facts,
                      InputKind.FACES, None, 0, False, lambda s: None)

    return [Scenario("Builder fast-precision query", fast), Scenario("detect_env", env),
            Scenario("auto load: TensorRT branch (build cache -> build-engine job)", auto_load),
            Scenario("TrtRunner load, I/O, shapes, execute", runner(False, False)),
            Scenario("TrtRunner CUDA-graph path", runner(True, False)),
            Scenario("TrtRunner version-compatible engine", runner(False, True))]


def run_all(rec: Recorder, build: ModuleType, version: str, only: Optional[str] = None) -> List[str]:
    """Run every scenario for ``version``; returns the scenario names walked (violations land in ``rec``)."""
    folder = Path(tempfile.mkdtemp(prefix="ran-edge-conformance-"))
    walked = []
    for sc in build_scenarios(version, folder) + other_scenarios(version, folder):
        if only and only not in sc.name:
            continue
        rec.scenario = sc.name
        error: Optional[BaseException] = None
        try:
            sc.run(build)
        except Exception as exc:  # settled below: only an escaped missing name is a violation
            error = exc
        rec.settle(error)
        if error is not None and not any(v.scenario == sc.name for v in rec.violations):
            where = traceback.extract_tb(error.__traceback__)[-1]
            rec.errors.append(f"{sc.name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
                              f"(at {where.filename}:{where.lineno})")
        walked.append(sc.name)
    return walked
