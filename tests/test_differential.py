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
    choose_op,
    format_header,
    generate,
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


# The operations that run doit otherwise (benchmarks/differential_runs.py), forced in this order.
NEW_OPS = ["toggle_lf", "break_probe_flag", "k_all", "lf_run", "forget_shards", "undo_after_red"]


def test_new_operations_are_generated_and_applied(tmp_path: Path) -> None:
    """Every new kind is drawn by the seeded generator, and each, forced once, runs what it says:
    --lf in addopts (judged by a whole-suite oracle, green), a flag file only os.path.exists sees
    (red), `--all -- -k`, `-- --lf`, forget then both shards, and a break undone to green content."""
    import random

    model = generate(SEED)
    rng = random.Random(SEED)
    drawn = {choose_op(model, rng)[0] for _ in range(3000)}
    assert {*NEW_OPS, "break_probe_size"} <= drawn

    session = run_session(SEED, len(NEW_OPS), workdir=tmp_path / "diff", parallel=True, script=NEW_OPS)
    log = "\n".join(session.history)
    steps = {}
    for step in session.steps:
        steps.setdefault(step.index, []).append(step)
    assert "add --lf to the project's addopts" in session.history[0], log
    assert steps[1][0].oracle_returncode == 0, "the oracle of a --lf project must run the whole suite"
    assert "stop.flag" in session.history[1] and steps[2][0].oracle_returncode != 0, log
    commands = [c for s in session.steps for c in s.commands]
    assert any(c.startswith("doit test --all -- -k ") for c in commands), commands
    assert "doit test -- --lf" in commands, commands
    assert ["doit forget test", "doit test --shard 1/2", "doit test --shard 2/2"] == list(steps[5][0].commands)
    red, undone = steps[6]
    assert red.oracle_returncode != 0 and undone.oracle_returncode == 0, log
    assert not session.crashes, session.crashes[0].describe()
