"""``python -m lockgate_bench --path NAME ...``: run one benchmark path and print its figures.

`lockgate bench` starts one such process per path so that each path's peak memory is its own; the
figures come back as one JSON line after `paths.RESULT_MARKER` on stdout. Only what the path needs is
imported, so the process's memory is the path's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lockgate_bench import paths
from lockgate_bench.memory import peak_rss_mb

# What each path reads besides --csv, --rows and --seed.
NEEDS: dict[str, tuple[str, ...]] = {
    "generate": (),
    "floor": ("workdir",),
    "naive": ("workdir",),
    "pipeline": ("catalog", "workdir"),
    "pii": ("catalog", "workdir"),
    "sources": ("catalog", "workdir"),  # --rows is each source's
}


def main(argv: list[str] | None = None) -> int:
    """Run the path the arguments name and print its figures, with the process's peak memory."""
    parser = argparse.ArgumentParser(
        prog="python -m lockgate_bench",
        description="Run one lockgate bench path in this process (used by `lockgate bench`).",
    )
    parser.add_argument("--path", required=True, choices=tuple(NEEDS))
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--catalog", type=Path)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    missing = [f"--{name}" for name in NEEDS[args.path] if getattr(args, name) is None]
    if missing:
        parser.error(f"--path {args.path} needs {', '.join(missing)}")
    if args.path == "generate":
        figures = paths.path_generate(args.csv, args.rows, args.seed)
    elif args.path == "floor":
        figures = paths.path_floor(args.csv, args.workdir)
    elif args.path == "naive":
        figures = paths.path_naive(args.csv, args.workdir)
    elif args.path == "pipeline":
        figures = paths.path_pipeline(args.catalog, args.workdir, args.rows, args.seed)
    elif args.path == "pii":
        figures = paths.path_pii(args.catalog, args.csv, args.rows, args.workdir)
    else:
        figures = paths.path_sources(args.catalog, args.workdir, args.rows)
    figures["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write(paths.RESULT_MARKER + json.dumps(figures) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
