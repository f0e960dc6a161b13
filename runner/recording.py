"""Writing what one pytest run did into the test records (doit_scout.records)."""

from __future__ import annotations

from typing import Collection, Mapping

from doit_scout.analyzers.selection import TestDecision
from doit_scout.execution import PytestRun
from doit_scout.records import RecordStore


def record_run(store: RecordStore, decisions: Collection[TestDecision], run: PytestRun,
               fingerprints: Mapping[str, Collection[str | None]], stale: set[str]) -> dict[str, set[str]]:
    """Write what ran, under each file's fingerprints as they are after the run (the executed
    code's and the static one: doit_scout.executed); return those recorded complete, by file.
    A file is recorded complete only when every item pytest collected from it ran to a verdict;
    nothing a failure, an error, a crash or an interruption touched is recorded green. A file the
    run did not take whole (-k, -m, --lf, -x, an interruption) has what did run merged into the
    record of the same inputs: a run that left items out makes nothing of theirs worse."""
    complete = run.complete_files()
    reruns = {d.path for d in decisions if d.action == "rerun"}
    outcomes: dict[str, dict[str, str]] = {}
    for node, path in run.items.items():
        if path is not None and node in run.outcomes:
            outcomes.setdefault(path, {})[node] = run.outcomes[node]
    recorded: dict[str, set[str]] = {}
    with store.batch():
        for path, keys in fingerprints.items():
            for fingerprint in keys:
                if fingerprint is None or path in stale:
                    continue
                if path in run.error_files:
                    store.forget_file(fingerprint)  # a file that does not collect: the next run takes it whole
                elif path in complete and (path not in reruns or path in run.widened):
                    store.record_file(fingerprint, path, outcomes.get(path, {}), complete=True)
                    recorded.setdefault(path, set()).add(fingerprint)
                else:
                    # Merged into what is known of these very inputs: every record is of its fingerprint.
                    store.record_nodes(fingerprint, path, outcomes.get(path, {}))
    return recorded
