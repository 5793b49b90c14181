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
from typing import Any, Dict, List, Optional, Sequence


def import_real(site: Path) -> ModuleType:
    """Import the real bindings module from ``site`` (raises if its libraries are not loadable)."""
    sys.path.insert(0, str(site))
    module = importlib.import_module("tensorrt_bindings")
    sys.path.remove(str(site))
    return module


def replace_module(name: str, path: str) -> ModuleType:
    """Load the file ``path`` as module ``name`` in place of ours (the mutation tests' planted errors)."""
    parent, _, child = name.rpartition(".")
    package = importlib.import_module(parent) if parent else None  # initialised first, as a normal import would
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if package is not None:
        setattr(package, child, module)
    return module


def walk(site: Path, replace: Sequence[str] = (), only: Optional[str] = None) -> Dict[str, Any]:
    """Walk every scenario against the real API found in ``site``; the report as a dict.

    ``replace``: ``MODULE=PATH`` items, each loading a copy of one of our modules in its place.
    """
    from ran_edge.conformance.apimodel import api_model
    from ran_edge.conformance.proxy import Recorder, install
    from ran_edge.conformance.scenarios import expected_features, run_all, script

    real = import_real(site)
    model = api_model(real)
    rec = Recorder(model, real)
    rec.script = script(rec, real)
    install(rec)
    import polygraphy
    from polygraphy.logger import G_LOGGER

    G_LOGGER.module_severity = G_LOGGER.CRITICAL
    with contextlib.redirect_stdout(sys.stderr):
        for item in replace:
            name, _, path = item.partition("=")
            replace_module(name, path)
        build = importlib.import_module("ran_edge.engine.build")
        walked = run_all(rec, build, model.version, only)
    violations: Dict[tuple, Dict[str, Any]] = {}
    for v in rec.violations:  # one entry per site and name, with every scenario that reached it
        entry = violations.setdefault((v.file, v.line, v.name, v.problem), {**v.__dict__, "scenario": v.scenario})
        if v.scenario not in entry["scenario"].split("; "):
            entry["scenario"] += "; " + v.scenario
    reached = {f for name in walked if name.endswith("]") for f in name[name.rindex("[") + 1:-1].split()}
    missing = [f for f in expected_features(model.version) if f not in reached]
    if missing and not only:
        rec.errors.append(f"the walk never reached {', '.join(missing)} (plan_build offers no such build on this version)")
    return {"version": model.version, "polygraphy": polygraphy.__version__, "classes": len(model.classes),
            "scenarios": walked, "violations": list(violations.values()), "errors": rec.errors,
            "touched": {k: sorted(v) for k, v in sorted(rec.touched.items())},
            "guarded_probes": {k: sorted(v) for k, v in sorted(rec.probes.items())}}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path, help="folder with the extracted tensorrt_bindings package")
    ap.add_argument("--replace", action="append", default=[], metavar="MODULE=PATH",
                    help="walk a copy of one of our modules instead, e.g. ran_edge.engine.build=/tmp/build.py")
    ap.add_argument("--only", help="run only the scenarios whose name contains this text")
    args = ap.parse_args(argv)
    report = walk(args.site, args.replace, args.only)
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
