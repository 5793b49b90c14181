"""The TensorRT build: execute a :class:`~ran_edge.engine_contract.plan.BuildPlan` with Polygraphy's loaders.

Polygraphy does the generic parts (``NetworkFromOnnxPath`` incl. strongly typed networks,
``CreateConfig`` with precision flags, profiles, timing cache, DLA + GPU fallback, version
compatibility, workspace; ``Calibrator`` for the implicit INT8 calibrator with its cache;
``EngineBytesFromNetwork`` which also saves the timing cache). ran-edge adds what they do not cover:
pinning the FP16-sensitive layers to FP32 by ONNX node name, choosing the DLA core, the
hardware-precision check (never a silent downgrade), the plan file written atomically, and the sidecar.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import ArtifactMeta, Precision, TensorSpec, atomic_output, sha256_file, write_sidecar
from ran_edge.engine_contract.meta import BuildRecord, DeviceEnv, engine_meta
from ran_edge.engine_contract.options import CalibKind
from ran_edge.engine_contract.plan import BuildPlan, PrecisionPath
from ran_edge.engine_contract.versions import TrtVersion, detect_jetpack, fast_precisions
from ran_edge.errors import RanEdgeError

INSTALL_HINT = "install TensorRT: pip install 'ran-edge[trt]' (desktop) or use JetPack's TensorRT (Jetson)"


def require_tensorrt() -> Any:
    """``import tensorrt`` or a one-line error saying what to install."""
    try:
        import tensorrt as trt  # noqa: F401
    except Exception as exc:  # ImportError, or a stub wheel / missing libnvinfer raising something else
        raise RanEdgeError(f"TensorRT is not available ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}); "
                           f"{INSTALL_HINT}") from exc
    return trt


def installed_trt_version() -> Optional[TrtVersion]:
    """The installed TensorRT version, or None (without raising)."""
    try:
        return TrtVersion.parse(require_tensorrt().__version__)
    except RanEdgeError:
        return None


def detect_env(device: int = 0, cuda: Any = None) -> DeviceEnv:
    """TensorRT version, GPU name, compute capability, CUDA runtime and JetPack of this machine."""
    from ran_edge.cuda import get_cuda_api

    trt = require_tensorrt()
    api = cuda if cuda is not None and not isinstance(cuda, str) else get_cuda_api(cuda)
    api.set_device(device)
    name, cc = api.device_info(device)
    return DeviceEnv(trt.__version__, name, cc, api.runtime_version(), detect_jetpack())


def hardware_fast_precisions(env: DeviceEnv) -> frozenset:
    """Fast precisions: the builder's ``platform_has_fast_*`` where it exists (8.x-10.x; gone in 11), else the CC table."""
    trt = require_tensorrt()
    fast = set(fast_precisions(env.compute_capability))
    builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    for prec, attr in ((Precision.FP16, "platform_has_fast_fp16"), (Precision.INT8, "platform_has_fast_int8")):
        value = getattr(builder, attr, None)
        if isinstance(value, bool):
            (fast.add if value else fast.discard)(prec)
    return frozenset(fast)


def match_layers(layer_names: Sequence[str], node_names: Sequence[str]) -> Tuple[Dict[str, List[str]], List[str]]:
    """Map ONNX node names to TensorRT layer names (the ONNX parser names a layer after its node).

    Returns ``({node: [layers]}, unmatched nodes)``. Exact names match; a layer named
    ``"<node> + ..."`` (a fused name) or ``"<node>_<digits>"`` for a multi-layer node also matches
    when no ONNX node has that exact name.
    """
    nodes = set(node_names)
    found: Dict[str, List[str]] = {n: [] for n in node_names}
    for layer in layer_names:
        if layer in nodes:
            found[layer].append(layer)
            continue
        head = layer.split(" + ")[0]
        if head in nodes:
            found[head].append(layer)
            continue
        base, _, tail = layer.rpartition("_")
        if tail.isdigit() and base in nodes:
            found[base].append(layer)
    return {k: v for k, v in found.items() if v}, [n for n in node_names if not found[n]]


def _pin_fp32(trt: Any, nodes: Sequence[str], record: Dict[str, Any]) -> Callable[..., None]:
    """A Polygraphy ``PostprocessNetwork`` function setting layer precision + output types to FP32."""
    float_types = {trt.float32, trt.float16}

    def pin_fp16_sensitive_layers(network: Any) -> None:
        layers = [network.get_layer(i) for i in range(network.num_layers)]
        matched, unmatched = match_layers([layer.name for layer in layers], nodes)
        wanted = {name for names in matched.values() for name in names}
        for layer in layers:
            if layer.name not in wanted:
                continue
            layer.precision = trt.float32
            for j in range(layer.num_outputs):
                if layer.get_output(j).dtype in float_types:
                    layer.set_output_type(j, trt.float32)
        record["pinned"], record["unmatched"] = sorted(matched), unmatched

    return pin_fp16_sensitive_layers


def _config(trt: Any, poly: Any, plan: BuildPlan, calibrator: Any) -> Any:
    profiles = [poly.Profile().add(p.input, min=p.min, opt=p.opt, max=p.max) for p in plan.profiles]
    kwargs: Dict[str, Any] = dict(profiles=profiles, fp16="FP16" in plan.builder_flags, int8="INT8" in plan.builder_flags,
                                  calibrator=calibrator)
    if "OBEY_PRECISION_CONSTRAINTS" in plan.builder_flags:
        kwargs["precision_constraints"] = "obey"
    if plan.timing_cache and Path(plan.timing_cache).is_file():
        kwargs["load_timing_cache"] = plan.timing_cache
    if plan.workspace_mib:
        kwargs["memory_pool_limits"] = {trt.MemoryPoolType.WORKSPACE: int(plan.workspace_mib) << 20}
    if plan.version_compatible:
        kwargs["version_compatible"] = True
    if plan.dla_core is not None:
        kwargs.update(use_dla=True, allow_gpu_fallback="GPU_FALLBACK" in plan.builder_flags)
    config = poly.CreateConfig(**kwargs)
    if plan.dla_core is not None:
        core = int(plan.dla_core)

        def set_dla_core(builder: Any, network: Any, cfg: Any) -> None:
            if core >= builder.num_DLA_cores:
                raise RanEdgeError(f"--dla-core {core}: this device has {builder.num_DLA_cores} DLA cores")
            cfg.DLA_core = core

        config = poly.PostprocessConfig(config, set_dla_core)
    return config


def _engine_io(trt: Any, data: bytes, version_compatible: bool) -> Tuple[Tuple[TensorSpec, ...], Tuple[TensorSpec, ...]]:
    """Deserialise the fresh plan (proves it loads) and read its I/O by the name-based API."""
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    if version_compatible:
        runtime.engine_host_code_allowed = True  # 8.6+: the lean runtime embedded in the plan
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        raise RanEdgeError("TensorRT built a plan it cannot deserialize (see the TensorRT log above)")
    ins, outs = [], []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        spec = TensorSpec(name, tuple(int(d) for d in engine.get_tensor_shape(name)),
                          np.dtype(trt.nptype(engine.get_tensor_dtype(name))).name)
        (ins if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else outs).append(spec)
    return tuple(ins), tuple(outs)


def _last_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[-1][:300] if lines else type(exc).__name__


def _polygraphy_version() -> str:
    import polygraphy

    return str(getattr(polygraphy, "__version__", "?"))


def build_engine(onnx_path: Path, onnx_meta: ArtifactMeta, plan: BuildPlan, out: Path, env: DeviceEnv, *,
                 built: Precision, precision_note: str = "", calib_feeds: Optional[Iterable[Dict[str, np.ndarray]]] = None,
                 calib_cache: Optional[Path] = None, calib_manifest_sha256: Optional[str] = None,
                 log: Callable[[str], None] = print) -> ArtifactMeta:
    """Build ``plan`` from ``onnx_path`` and write ``out`` (a plain plan) + ``out.json``.

    Args:
        onnx_path / onnx_meta: the ONNX the plan consumes, and its sidecar.
        plan: from :func:`~ran_edge.engine_contract.plan.plan_build` for the installed TensorRT.
        out: engine path; written through a temp file + rename, the sidecar after it.
        env: this machine (:func:`detect_env`).
        built: the precision being built (after :func:`~ran_edge.engine_contract.versions.resolve_built_precision`).
        calib_feeds / calib_cache: implicit-calibrator data and cache file (read if present, written after).
        calib_manifest_sha256: recorded in the sidecar (the QDQ ONNX's manifest hash for QDQ builds).
    """
    trt = require_tensorrt()
    poly = require("polygraphy.backend.trt", "TensorRT engine builds")
    from polygraphy.exception import PolygraphyException

    calibrator = None
    if plan.path is PrecisionPath.INT8_CALIBRATOR:
        if calib_cache is None:
            raise RanEdgeError("the implicit INT8 calibrator needs a cache path")
        if plan.calibration.kind is CalibKind.CACHE and not Path(calib_cache).is_file():
            raise RanEdgeError(f"--calib-cache: {calib_cache} not found")
        calibrator = poly.Calibrator(calib_feeds if calib_feeds is not None else [], cache=str(calib_cache))
    network: Any = poly.NetworkFromOnnxPath(str(onnx_path), strongly_typed=True if plan.strongly_typed else None)
    pin_record: Dict[str, Any] = {"pinned": [], "unmatched": []}
    if plan.fp32_layers:
        network = poly.PostprocessNetwork(network, _pin_fp32(trt, plan.fp32_layers, pin_record))
    log(f"building {built.value} engine with TensorRT {env.trt_version} on {env.gpu_name} (sm {env.cc_text}), "
        f"path {plan.path.value}")
    start = time.perf_counter()
    try:
        data = poly.EngineBytesFromNetwork(network, config=_config(trt, poly, plan, calibrator),
                                           save_timing_cache=plan.timing_cache)()
    except RanEdgeError:
        raise
    except PolygraphyException as exc:
        raise RanEdgeError(f"TensorRT build failed: {_last_line(exc)}") from exc
    except Exception as exc:  # an API mismatch between Polygraphy and this TensorRT (AttributeError, TypeError, ...)
        raise RanEdgeError(f"TensorRT build failed in Polygraphy {_polygraphy_version()} with TensorRT {env.trt_version}: "
                           f"{type(exc).__name__}: {_last_line(exc)}") from exc
    seconds = time.perf_counter() - start
    if pin_record["unmatched"]:
        log(f"warning: {len(pin_record['unmatched'])} FP16-sensitive ONNX nodes matched no TensorRT layer "
            f"(e.g. {pin_record['unmatched'][0]}); they were left to TensorRT")
    raw = bytes(data)
    inputs, outputs = _engine_io(trt, raw, plan.version_compatible)
    out = Path(out)
    with atomic_output(out) as tmp:
        tmp.write_bytes(raw)
    record = BuildRecord(built=built, precision_note=precision_note, inputs=inputs, outputs=outputs,
                         onnx_sha256=sha256_file(onnx_path), onnx_path=str(onnx_path),
                         calibration_manifest_sha256=calib_manifest_sha256, build_time_s=seconds,
                         fp32_layers_pinned=tuple(pin_record["pinned"]))
    meta = engine_meta(onnx_meta, plan, env, record)
    meta = meta.with_extra(engine_sha256=sha256_file(out))
    write_sidecar(out, meta)
    log(f"wrote {out} ({len(raw) / 2**20:.1f} MiB, {seconds:.1f} s) and {out.name}.json")
    return meta
