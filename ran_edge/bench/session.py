"""A bench run or a report comparison with its one-line outcome: what ``ran-edge bench`` prints and returns."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence, Union

from ran_edge.bench.config import BenchConfig
from ran_edge.errors import RanEdgeError

if TYPE_CHECKING:
    from ran_edge.bench.harness import BenchResult

Log = Callable[[str], None]


def compare_report_files(old: Union[str, Path], new: Union[str, Path], max_regression: str, max_accuracy_drop: str,
                         log: Log = print) -> int:
    """Log the diff table of two ``bench.json`` files; returns
    :data:`~ran_edge.bench.compare.EXIT_REGRESSION` past a threshold (``"5%"``-style fractions), else 0."""
    from ran_edge.bench.compare import (EXIT_REGRESSION, compare_reports, format_comparison, load_report,
                                        parse_fraction)

    max_reg, max_drop = parse_fraction(max_regression), parse_fraction(max_accuracy_drop)
    old_doc, new_doc = (load_report(p) for p in (old, new))
    result = compare_reports(old_doc, new_doc, max_reg, max_drop)
    log(format_comparison(result, max_reg, max_drop))
    return EXIT_REGRESSION if result.regressed else 0


def check_options(*, warmup: int, iters: int | None, seconds: float | None, threads: int | None,
                  max_faces: int | None, device: int, batches: str, artifacts: Sequence[str],
                  reference: str | None, lists: str | None, out: Union[str, Path], force: bool = True) -> None:
    """Every bench option and path, before any artifact is loaded: one-line :class:`RanEdgeError` otherwise.

    Without ``force`` an ``out`` folder that already holds files is refused (an earlier report is never replaced
    by accident), as ``export-triton`` refuses an existing model folder.
    """
    from ran_edge import option_checks as checks

    checks.int_range("--warmup", warmup, 0, checks.MAX_ITERS)
    checks.int_range("--iters", iters, 1, checks.MAX_ITERS)
    checks.float_range("--seconds", seconds, 0.0, 86_400.0, low_open=True)
    checks.int_range("--threads", threads, 1, checks.MAX_THREADS)
    checks.int_range("--max-faces", max_faces, 1)
    checks.int_range("--device", device, 0, 64)
    checks.batches("--batch", batches)
    files = [a for a in artifacts if not a.startswith("random:")]
    checks.outputs([], inputs=files + [reference, lists], folders=[out])
    if not force:
        checks.empty_folder(out)


def run_and_report(cfg: BenchConfig, log: Log = print) -> BenchResult:
    """Run the bench and log where its report is (and how many configurations failed); a
    :class:`RanEdgeError` when every configuration failed, since nothing was measured."""
    from ran_edge.bench.harness import run_bench

    from ran_edge.outputs import FolderGuard

    with FolderGuard(cfg.out, scratch=[cfg.out / "artifacts"]):  # a failed or interrupted bench leaves no folder
        result = run_bench(cfg)
    rows = result.doc["speed"] + result.doc["accuracy"]
    failed = sum(r["status"] == "error" for r in rows)
    log(f"bench report: {result.md_path}" + (f" ({failed} configuration(s) failed, see the table)" if failed else ""))
    if failed == len(rows):
        raise RanEdgeError(f"every configuration failed ({failed} of {len(rows)}), nothing was measured; see {result.md_path}")
    return result
