"""``python -m ran_edge.conformance`` (this module): walk ran-edge's TensorRT code against the real API of every target.

For each TensorRT version: fetch its bindings wheel (once, cached), import it over the null stub
in its own process, and run :mod:`ran_edge.conformance.walk`. Exit 0 when every version walks clean;
1 on a violation or an incomplete walk; 2 when a wheel, the C compiler or Polygraphy is missing (the
reason is printed: this check never skips silently). It proves names and arities only, never behaviour.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ran_edge.conformance.wheels import (POLYGRAPHY_FLOOR, TARGETS, Target, WheelUnavailable, build_stubs, polygraphy_site,
                                         walk_env, wheel_site)
from ran_edge.errors import RanEdgeError

DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".trt-conformance"


def run_walk(target: Target, cache: Path, replace: Sequence[str] = (), only: Optional[str] = None,
             extra_path: Optional[str] = None) -> Dict[str, Any]:
    """Walk one version in a subprocess; its JSON report (raises RanEdgeError if the walk itself crashed)."""
    site = wheel_site(target, cache)
    stubs = build_stubs(cache, tuple(sorted({t.major for t in TARGETS})))
    env = walk_env(stubs)
    if extra_path:  # e.g. another Polygraphy release, first on the path
        env["PYTHONPATH"] = extra_path + ":" + env["PYTHONPATH"]
    cmd = [sys.executable, "-m", "ran_edge.conformance.walk", str(site)]
    for item in replace:
        cmd += ["--replace", item]
    if only:
        cmd += ["--only", only]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0 or not proc.stdout.strip():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RanEdgeError(f"TensorRT {target.version}: the walk process failed (exit {proc.returncode}): {tail[0]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(target: Target, report: Dict[str, Any]) -> List[str]:
    """Human-readable lines for one version's report."""
    bad = report["violations"] or report["errors"]
    lines = [f"TensorRT {report['version']:<11} ({target.where}): {'FAIL' if bad else 'ok'}: "
             f"{len(report['scenarios'])} paths walked, {len(set().union(*report['touched'].values()))} TensorRT names "
             f"checked against "
             f"{report['classes']} real classes (Polygraphy {report['polygraphy']})"]
    lines += ["  " + _violation_text(v) for v in report["violations"]]
    lines += ["  walk incomplete: " + e for e in report["errors"]]
    return lines


def _violation_text(v: Dict[str, Any]) -> str:
    return f"{v['file']}:{v['line']}: TensorRT {v['version']}: {v['name']}: {v['problem']} [{v['scenario']}]"


def names_markdown(reports: Dict[str, Dict[str, Any]]) -> str:
    """Markdown: each TensorRT name ran-edge's own code uses, per version (from the walk reports).

    ``used``: touched and present in that version's real bindings; ``absent (guarded)``: probed with
    ``getattr``/``hasattr`` and missing there, which our code handles; blank: not on that version's paths.
    """
    by_version: Dict[str, Dict[str, Any]] = {}
    for report in reports.values():
        by_version.setdefault(report["version"], report)
    versions = list(by_version)
    names = sorted({n for r in by_version.values()
                    for n in r["touched"].get("ran_edge", []) + r["guarded_probes"].get("ran_edge", [])})
    lines = ["| name | " + " | ".join(versions) + " |", "|---|" + "---|" * len(versions)]
    for name in names:
        cells = ["used" if name in r["touched"].get("ran_edge", []) else
                 "absent (guarded)" if name in r["guarded_probes"].get("ran_edge", []) else "" for r in by_version.values()]
        if any(cells):
            lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    counts = " | ".join(str(len(r["touched"].get("polygraphy", []))) for r in by_version.values())
    lines.append(f"| *names Polygraphy {by_version[versions[0]]['polygraphy']} uses for us (checked too)* | {counts} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ran_edge.conformance", description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="wheel + stub cache (default: %(default)s)")
    ap.add_argument("--versions", nargs="*", help="only these TensorRT versions (default: all targets)")
    ap.add_argument("--report", type=Path, help="write every version's JSON report here")
    ap.add_argument("--names", type=Path, help="write the names-per-version markdown table here")
    ap.add_argument("--polygraphy", nargs="*", default=["installed", POLYGRAPHY_FLOOR],
                    help="Polygraphy releases to walk with: 'installed' and/or versions fetched with pip "
                         "(default: the installed one and the pinned floor %(default)s)")
    args = ap.parse_args(argv)
    targets = [t for t in TARGETS if not args.versions or t.version in args.versions]
    start, reports, failed = time.perf_counter(), {}, False
    print("TensorRT API conformance (names and arities against NVIDIA's real bindings; not a TensorRT run):")
    for poly in args.polygraphy:
        for target in targets:
            try:
                extra = None if poly == "installed" else str(polygraphy_site(poly, args.cache))
                report = run_walk(target, args.cache, extra_path=extra)
            except WheelUnavailable as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            except RanEdgeError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2 if "No module named" in str(exc) else 1
            reports[f"{target.version} polygraphy {report['polygraphy']}"] = report
            failed |= bool(report["violations"] or report["errors"])
            print("\n".join(summary(target, report)))
    if args.report:
        args.report.write_text(json.dumps(reports, indent=1) + "\n")
    if args.names:
        args.names.write_text(names_markdown(reports))
    print(f"{'FAILED' if failed else 'passed'}: {len(targets)} TensorRT versions x {len(args.polygraphy)} Polygraphy "
          f"in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
