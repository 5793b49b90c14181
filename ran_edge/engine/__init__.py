"""TensorRT engine builds: plan (pure), trtexec command, build (TensorRT via Polygraphy), sidecar.

Importing this package does not import TensorRT; :func:`ran_edge.engine.build.build_engine` does.
"""

from __future__ import annotations

from ran_edge.engine_contract.meta import DeviceEnv, check_engine, engine_meta, engine_problems
from ran_edge.engine_contract.options import BatchProfile, BuildRequest, CalibKind, CalibSource, Int8Method
from ran_edge.engine_contract.plan import BuildPlan, PrecisionPath, PreStep, ProfileShape, plan_build, plan_table
from ran_edge.engine_contract.trtexec import format_command, trtexec_command
from ran_edge.engine_contract.versions import TARGET_VERSIONS, TrtVersion, fast_precisions, resolve_built_precision

__all__ = ["BatchProfile", "BuildPlan", "BuildRequest", "CalibKind", "CalibSource", "DeviceEnv", "Int8Method",
           "PreStep", "PrecisionPath", "ProfileShape", "TARGET_VERSIONS", "TrtVersion", "check_engine", "engine_meta",
           "engine_problems", "fast_precisions", "format_command", "plan_build", "plan_table",
           "resolve_built_precision", "trtexec_command"]
