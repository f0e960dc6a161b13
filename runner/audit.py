"""The safety valve: periodic full runs that check the incremental selection missed nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

from doit_scout.analyzers.selection import TestDecision
from doit_scout.config import TestConfig
from doit_scout.execution import PytestRun
from doit_scout.project_state import CorruptState, read_state_json, state_dir, write_state_json

AUDIT_FILE = "audit.json"


@dataclass
class AuditLog:
    """`.scout/audit.json`: test runs since the last audit, when that was, and every miss found."""

    runs_since_audit: int = 0
    last_audit_at: float | None = None
    misses: list[dict[str, Any]] = field(default_factory=list)


def load_audit_log(root: Path) -> AuditLog:
    try:
        data: Any = read_state_json(state_dir(root) / AUDIT_FILE)  # checked by the except clause
        return AuditLog(int(data["runs_since_audit"]), data["last_audit_at"], list(data["misses"]))
    except (CorruptState, TypeError, KeyError, ValueError):
        return AuditLog()  # none yet, or unreadable: count from here


def save_audit_log(root: Path, log: AuditLog) -> None:
    write_state_json(state_dir(root) / AUDIT_FILE, {
        "runs_since_audit": log.runs_since_audit, "last_audit_at": log.last_audit_at, "misses": log.misses,
    })


def audit_due(log: AuditLog, config: TestConfig, now: float) -> str | None:
    """Why this run must be an audit, if it must."""
    if config.full_every is not None and log.runs_since_audit + 1 >= config.full_every:
        return f"audit: every {config.full_every} runs ([tool.scout.test] full_every)"
    if config.full_after is not None and (log.last_audit_at or 0) + config.full_after <= now:
        return "audit: the last full run is older than [tool.scout.test] full_after"
    return None


def next_audit(log: AuditLog, config: TestConfig, now: float) -> dict[str, Any]:
    """For `doit explain --json`: whether the next run is an audit, and when one is due."""
    runs_until = None if config.full_every is None else max(0, config.full_every - 1 - log.runs_since_audit)
    at = None if config.full_after is None else (log.last_audit_at or 0) + config.full_after
    return {
        "due": audit_due(log, config, now) is not None,
        "runs_until": runs_until,
        "at": None if at is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(max(at, now))),
        "last_audit_at": log.last_audit_at,
    }


def selection_misses(
    incremental: list[TestDecision], hidden: Collection[str], would_run_pytest: bool, run: PytestRun,
) -> dict[str, list[str]]:
    """Tests that fail but that the incremental selection would not have run: those of files it
    would have skipped, those a re-run of some of a file's items would have left out, and, when
    it would not have started pytest at all, any other file pytest collects (a test doit-scout did not know about). Path -> failing nodes."""
    failing: dict[str, list[str]] = {}
    for node, outcome in run.outcomes.items():
        if outcome == "failed":
            failing.setdefault(run.items.get(node) or node.split("::")[0], []).append(node)
    for node in run.collection_errors:
        failing.setdefault(node.split("::")[0], []).append(node)
    planned = {d.path: d for d in incremental}

    def would_run(path: str, node: str) -> bool:
        decision = planned.get(path)
        if decision is not None:  # a re-run of some items (failed ones, stale ones) runs those
            return decision.runs and (decision.action != "rerun" or node in decision.nodes or "::" not in node)
        return would_run_pytest and path not in hidden

    missed = {path: sorted(n for n in nodes if not would_run(path, n)) for path, nodes in sorted(failing.items())}
    return {path: nodes for path, nodes in missed.items() if nodes}
