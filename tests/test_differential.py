"""Differential check, short: doit-scout against plain pytest on a generated project full of what a
static import graph cannot see (benchmarks/differential.py). doit exiting 0 while plain pytest fails
is a false green, the worst bug there is. The long run is `python -m benchmarks.bench_differential`."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import REPO_ROOT

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.differential import (  # noqa: E402
    check_soundness,
    format_header,
    run_session,
)

SEED = 13  # 20 operations of this seed break eight kinds of things, commit and reset
OPS = 20


def test_generated_project_is_sound(tmp_path: Path) -> None:
    """Plain pytest finds the initial project green and collects golden cases, doctests and the
    subprocess test; every kind of break makes it red; fixing everything gives back its bytes."""
    problems = check_soundness(SEED, tmp_path)
    assert not problems, "\n".join(problems)


def test_no_false_greens_against_plain_pytest(tmp_path: Path) -> None:
    """After each of 20 random operations, doit exits 0 only if plain pytest does, and never
    crashes. On failure: the totals and the first false green's operations and outputs."""
    session = run_session(SEED, OPS, workdir=tmp_path / "diff", parallel=True)
    report = [format_header(), session.table_row()]
    first = session.false_greens[:1] + session.crashes[:1]
    report += [finding.describe() for finding in first]
    assert not session.false_greens and not session.crashes, "\n".join(report)
