"""One version's walk, run in its own process: ``python -m ran_edge.conformance.walk SITE [options]``.

``SITE`` is the folder holding the extracted ``tensorrt_bindings`` package of one TensorRT version
(its TensorRT libraries are the null stubs on ``LD_LIBRARY_PATH``). The real module is imported,
its :class:`~ran_edge.conformance.apimodel.ApiModel` read, the checking ``tensorrt`` stand-in installed,
and every scenario of :mod:`ran_edge.conformance.scenarios` run. Prints one JSON report on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Optional


def import_real(site: Path) -> ModuleType:
    """Import the real bindings module from ``site`` (raises if its libraries are not loadable)."""
    sys.path.insert(0, str(site))
    module = importlib.import_module("tensorrt_bindings")
    sys.path.remove(str(site))
    return module


def load_build_module(path: Optional[str]) -> ModuleType:
    """``ran_edge.engine.build``, or a copy of it at ``path`` (the mutation tests' planted errors)."""
    if not path:
        return importlib.import_module("ran_edge.engine.build")
    spec = importlib.util.spec_from_file_location("ran_edge.engine._walked_build", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def walk(site: Path, build_path: Optional[str] = None, only: Optional[str] = None) -> Dict[str, Any]:
    """Walk every scenario against the real API found in ``site``; the report as a dict."""
    from ran_edge.conformance.apimodel import api_model
    from ran_edge.conformance.proxy import Recorder, install
    from ran_edge.conformance.scenarios import run_all, script

    real = import_real(site)
    model = api_model(real)
    rec = Recorder(model, real)
    rec.script = script(rec, real)
    install(rec)
    import polygraphy
    from polygraphy.logger import G_LOGGER

    G_LOGGER.module_severity = G_LOGGER.CRITICAL
    with contextlib.redirect_stdout(sys.stderr):
        walked = run_all(rec, load_build_module(build_path), model.version, only)
    violations: List[Dict[str, Any]] = [v.__dict__ for v in dict.fromkeys(rec.violations)]
    return {"version": model.version, "polygraphy": polygraphy.__version__, "classes": len(model.classes),
            "scenarios": walked, "violations": violations, "errors": rec.errors,
            "touched": sorted(rec.touched), "guarded_probes": sorted(rec.probes)}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path, help="folder with the extracted tensorrt_bindings package")
    ap.add_argument("--build-module", help="walk this copy of ran_edge/engine/build.py instead")
    ap.add_argument("--only", help="run only the scenarios whose name contains this text")
    args = ap.parse_args(argv)
    report = walk(args.site, args.build_module, args.only)
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
