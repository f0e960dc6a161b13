"""Which tests the next run needs: a test file is skipped exactly when a complete green record
exists for its current fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from doit_scout.analyzers.globs import GlobSet

# Outcomes that count as green: the node ran to a verdict that needs no re-run.
GREEN_OUTCOMES = frozenset({"passed", "skipped", "xfailed"})


@dataclass(frozen=True)
class TestRecord:
    """What ran for one test file fingerprint. `complete` when the whole file ran and collected
    without error, so `outcomes` names every node of the file."""

    __test__ = False  # a domain name, not a pytest test class

    complete: bool
    outcomes: Mapping[str, str]

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(sorted(n for n, o in self.outcomes.items() if o not in GREEN_OUTCOMES))


@dataclass(frozen=True)
class TestDecision:
    """`action` is "run" (the whole file), "rerun" (only `nodes`, which failed before) or "skip"."""

    __test__ = False  # a domain name, not a pytest test class

    path: str
    fingerprint: str
    action: str
    nodes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def runs(self) -> bool:
        return self.action != "skip"


def select_tests(
    fingerprints: Mapping[str, str],
    records: Mapping[str, TestRecord],
    *,
    ignore_records: str | None = None,
    always_run: GlobSet = GlobSet(),
    why_changed: Callable[[str], Iterable[str]] = lambda path: (),
) -> list[TestDecision]:
    """Decide for each test file (path -> fingerprint). `ignore_records` says why records do not
    count this time (forget, --all), if they do not; `why_changed(path)` explains a file without a
    matching record. Always-run files run whenever anything else runs."""
    decisions = []
    for path, fingerprint in sorted(fingerprints.items()):
        record = records.get(fingerprint)
        if ignore_records:
            decisions.append(TestDecision(path, fingerprint, "run", reasons=(ignore_records,)))
        elif record is None:
            reasons = tuple(why_changed(path)) or ("no complete record for its current inputs",)
            decisions.append(TestDecision(path, fingerprint, "run", reasons=reasons))
        elif not record.complete:
            # A record of these very inputs: what changed since some other run is no reason.
            decisions.append(TestDecision(path, fingerprint, "run", reasons=(
                "its last run with these inputs did not run all its tests (-k, -m, -x, --lf, or the "
                "session stopped)",)))
        elif record.failing:
            decisions.append(TestDecision(
                path, fingerprint, "rerun", record.failing,
                (f"previously failed: {', '.join(record.failing)}",),
            ))
        else:
            decisions.append(TestDecision(path, fingerprint, "skip", reasons=("a green record matches its inputs",)))
    if any(d.runs for d in decisions):
        decisions = [
            TestDecision(d.path, d.fingerprint, "run", reasons=("always_run",))
            if not d.runs and always_run.matches(d.path) else d
            for d in decisions
        ]
    return decisions
