"""Counting tests, not only test files: how many of the suite's tests a plan runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from doit_scout.analyzers.selection import TestDecision
from doit_scout.workers import FileTiming


@dataclass(frozen=True)
class TestCounts:
    """Tests and files a plan runs, of all it knows. A file's tests are counted as its last whole
    run collected them (`known` False when some file has not run whole yet: the totals are then
    at least what they say)."""

    __test__ = False  # a domain name, not a pytest test class

    tests: int
    total_tests: int
    files: int
    total_files: int
    known: bool

    def phrase(self) -> str:
        """"3 of 120 tests in 2 of 15 files"."""
        more = "" if self.known else "+"
        return (f"{self.tests}{more} of {self.total_tests}{more} tests in {self.files} of "
                f"{self.total_files} files")


def count_tests(decisions: Sequence[TestDecision], timings: Mapping[str, FileTiming]) -> TestCounts:
    tests = total = 0
    known = True
    for d in decisions:
        items = timings[d.path].items if d.path in timings else 0
        if not items:
            known = False
            items = len(d.nodes)
        total += items
        if d.runs:
            tests += len(d.nodes) if d.action == "rerun" else items
    return TestCounts(tests, total, sum(1 for d in decisions if d.runs), len(decisions), known)
