"""Put one demo run's own figures into the README: ``python tools/readme_timing.py demo_out/demo.json``.

Copies the run's record to ``benchmarks/results/demo/demo.json`` and rewrites the README paragraph between the
``demo-timing`` markers from it (``ran_edge.demo_summary.timing_paragraph``). ``--check`` writes nothing and exits 1
when the README's paragraph is not the one the committed record gives (``tests/test_readme_timing.py`` runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ran_edge.demo_summary import block_of, replace_block, timing_paragraph  # noqa: E402
from ran_edge.outputs import write_text_result  # noqa: E402

RECORD = ROOT / "benchmarks" / "results" / "demo" / "demo.json"
README = ROOT / "README.md"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo_json", nargs="?", type=Path, help="demo.json of the run to quote (default: the committed record)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if the README paragraph is stale")
    args = ap.parse_args(argv)
    source = args.demo_json or RECORD
    try:
        text = source.read_text()
        doc = json.loads(text)
    except (OSError, ValueError) as e:
        print(f"error: cannot read the demo record {source}: {e}", file=sys.stderr)
        return 1
    paragraph = timing_paragraph(doc)
    readme = README.read_text()
    if args.check:
        if block_of(readme) != paragraph.strip():
            print(f"error: README's demo timing paragraph is not the one {source} gives; run tools/readme_timing.py",
                  file=sys.stderr)
            return 1
        return 0
    if args.demo_json and args.demo_json.resolve() != RECORD.resolve():
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        write_text_result(RECORD, text, inputs=[args.demo_json])
    write_text_result(README, replace_block(readme, paragraph))
    print(paragraph)
    return 0


if __name__ == "__main__":
    sys.exit(main())
