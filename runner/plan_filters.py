"""Narrowing a plan to what a run was asked for: what changed since a revision (--since), the
paths given to pytest, one shard of several."""

from __future__ import annotations

from typing import Collection

from doit_scout.analyzers.selection import TestDecision
from doit_scout.analyzers.sharding import shard_files
from doit_scout.since import ChangesSince


def keep_affected(decisions: list[TestDecision], changes: ChangesSince) -> list[TestDecision]:
    """Unaffected tests do not run; affected ones run unless a green record matches them."""
    reason = (f"a config file changed since {changes.revision}" if changes.everything
              else f"affected by what changed since {changes.revision}")
    return [
        TestDecision(d.path, d.fingerprint, d.action, d.nodes, (reason, *d.reasons) if d.runs else d.reasons)
        if d.path in changes.affected or not d.fingerprint
        else TestDecision(d.path, d.fingerprint, "skip", reasons=(f"not affected by changes since {changes.revision}",))
        for d in decisions
    ]


OUTSIDE_THE_PATHS = "not under the paths given to pytest"


def keep_under(decisions: list[TestDecision], paths: Collection[str]) -> list[TestDecision]:
    """pytest collects only what is under the paths it was given: the rest does not run."""
    folders = tuple("" if p in (".", "") else p.rstrip("/") + "/" for p in paths)
    return [
        d if d.path in paths or d.path.startswith(folders)
        else TestDecision(d.path, d.fingerprint, "skip", reasons=(OUTSIDE_THE_PATHS,))
        for d in decisions
    ]


def keep_shard(decisions: list[TestDecision], durations: dict[str, float], index: int, count: int) -> list[TestDecision]:
    """Every test file belongs to one shard, by a partition of all of them that every shard
    computes alike; a shard runs those of its own files that need to run."""
    shards = shard_files([d.path for d in decisions], durations, count)
    home = {path: i for i, paths in enumerate(shards, start=1) for path in paths}
    return [
        d if home[d.path] == index
        else TestDecision(d.path, d.fingerprint, "skip", reasons=(f"runs in shard {home[d.path]}/{count}",))
        for d in decisions
    ]
