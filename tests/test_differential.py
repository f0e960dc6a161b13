"""Differential check, short: doit-scout against plain pytest on a generated project full of what a
static import graph cannot see (benchmarks/differential.py). doit exiting 0 while plain pytest fails
is a false green, the worst bug there is. The long run is `python -m benchmarks.bench_differential`."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.differential import (  # noqa: E402
    Session,
    check_soundness,
    choose_op,
    format_header,
    generate,
    run_session,
)

# 20 operations of this seed break nine kinds of things (a data file only os.stat sees, a flag file only
# os.path.exists sees), reset and commit, run `doit test -- --lf`, forget then both shards, undo after
# a red run, and put --lf in the addopts; operation 21 is forced: `doit test --all -- -k` after an edit.
SEED = 32
OPS = 21
FORCED = {21: "k_all"}
NEW_KINDS = ["toggle_lf", "lf_run", "forget_shards", "undo_after_red", "k_all", "break_probe_size",
             "break_probe_flag"]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return run_session(SEED, OPS, workdir=tmp_path_factory.mktemp("diff"), parallel=True, script=FORCED)


def test_generated_project_is_sound(tmp_path: Path) -> None:
    """Plain pytest finds the initial project green and collects golden cases, doctests, the
    subprocess test and the path probes; every kind of break makes it red; fixing everything gives
    back its bytes."""
    problems = check_soundness(SEED, tmp_path)
    assert not problems, "\n".join(problems)


def test_no_false_greens_against_plain_pytest(session: Session) -> None:
    """After each of 21 random operations, doit exits 0 only if plain pytest does, and never
    crashes. On failure: the totals and the first false green's operations and outputs."""
    report = [format_header(), session.table_row()]
    first = session.false_greens[:1] + session.crashes[:1]
    report += [finding.describe() for finding in first]
    assert not session.false_greens and not session.crashes, "\n".join(report)


def test_new_operations_are_generated_and_applied(session: Session) -> None:
    """The seeded generator draws every new kind, and the session ran what each says: a flag file
    and a data file's size that only a stat sees (red), `-- --lf`, forget then both shards, a break
    undone to green content (red, then green), --lf in the addopts judged by a whole-suite oracle,
    and `--all -- -k`."""
    model = generate(SEED)
    rng = random.Random(SEED)
    assert set(NEW_KINDS) <= {choose_op(model, rng)[0] for _ in range(3000)}

    log = "\n".join(session.history)
    steps: dict[int, list] = {}
    for step in session.steps:
        steps.setdefault(step.index, []).append(step)

    def step_of(text: str) -> int:
        return next(i for i, h in enumerate(session.history, 1) if text in h)

    assert steps[step_of("create tests/testdata/stop.flag")][0].oracle_returncode != 0, log
    assert steps[step_of("break tests/testdata/blob.dat")][-1].oracle_returncode != 0, log
    assert ("doit test -- --lf", "doit") in [s.commands for s in session.steps], log
    assert ("doit forget test", "doit test --shard 1/2", "doit test --shard 2/2") in [
        s.commands for s in session.steps], log
    red, undone = steps[step_of("put back the last green content")]
    assert red.oracle_returncode != 0 and undone.oracle_returncode == 0, log
    lf = step_of("add --lf to the project's addopts")
    assert steps[lf][0].oracle_returncode in (0, 1), "the oracle of a --lf project must run (not exit 4)"
    assert steps[OPS][0].commands[0].startswith("doit test --all -- -k "), log
