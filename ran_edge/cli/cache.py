"""ran-edge cache: show or empty the build cache that runtime.load() and 'ran-edge run --model model.pt' fill."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "list or clear the build cache (ONNX exported from checkpoints, FP16/INT8 ONNX, TensorRT engines)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("list", "clear"), help="list: entries with size, source and last use; "
                                                             "clear: remove every entry not being built right now")
    p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                   help="the cache folder (default $RAN_EDGE_CACHE_DIR, else the user's cache folder)")


def run(args: argparse.Namespace) -> int:
    from ran_edge.cache import BuildCache
    from ran_edge.cache.listing import human_size, listing_lines

    cache = BuildCache(args.cache_dir)
    if args.action == "list":
        for line in listing_lines(cache, cache.entries()):
            print(line)
        return 0
    removed, freed = cache.clear()
    print(f"build cache {cache.location.describe()}: removed {removed} entries, freed {human_size(freed)}")
    return 0
