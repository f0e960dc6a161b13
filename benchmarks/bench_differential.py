"""Differential benchmark: random edits of generated projects, `doit` against plain pytest as oracle.

Each operation on a generated project (benchmarks/differential.py) is followed by `doit` and by
plain `pytest`; a table of totals, and the false greens, with their histories.

    python -m benchmarks.bench_differential                       # seeds 1 2 3, 100 operations each
    python -m benchmarks.bench_differential --seed 7 --ops 40     # one seed; replays exactly
    python -m benchmarks.bench_differential --seed 7 --ops 12 --keep /tmp/diff-replay

Exits 1 when doit gave any false green (exit 0 while pytest failed) or crashed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.differential import (
    Session,
    format_header,
    format_row,
    run_session,
    totals,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, action="append", help="a seed (repeatable; default 1 2 3)")
    parser.add_argument("--ops", type=int, default=100, help="operations per seed (default 100)")
    parser.add_argument("--workers", choices=["0", "auto"], default="0",
                        help="[tool.scout.test] workers of the generated project (default 0: one process)")
    parser.add_argument("--parallel", action="store_true",
                        help="run the oracle while doit runs (faster; timings compete for the cores)")
    parser.add_argument("--scout-path", type=Path,
                        help="a doit-scout checkout to put first on doit's PYTHONPATH (say a git archive)")
    parser.add_argument("--keep", type=Path, help="keep each seed's project and cache under this folder")
    parser.add_argument("--json", type=Path, help="write every finding, with its full history, here")
    parser.add_argument("--show", type=int, default=3, help="false greens to print in full (default 3)")
    parser.add_argument("--quiet", action="store_true", help="no line per operation")
    args = parser.parse_args(argv)
    seeds = args.seed or [1, 2, 3]

    def progress(line: str) -> None:
        print(line, flush=True)

    sessions: list[Session] = []
    for seed in seeds:
        workdir = args.keep / f"seed-{seed}" if args.keep else None
        sessions.append(run_session(seed, args.ops, workdir=workdir, parallel=args.parallel,
                                    scout_path=args.scout_path, workers=args.workers,
                                    progress=None if args.quiet else progress))

    print()
    print(format_header())
    for session in sessions:
        print(session.table_row())
    if len(sessions) > 1:
        print(format_row("total", totals(sessions)))
    findings = [f for s in sessions for f in s.findings]
    greens = [f for f in findings if f.kind == "false green"]
    crashes = [f for f in findings if f.kind == "crash"]
    print()
    for finding in greens[:args.show] + crashes[:1]:
        print(finding.describe())
        print()
    if len(greens) > args.show:
        print(f"... and {len(greens) - args.show} more false greens (--show, --json)")
    if args.json:
        args.json.write_text(json.dumps([f.as_json() for f in findings], indent=1))
    return 1 if greens or crashes else 0


if __name__ == "__main__":
    sys.exit(main())
