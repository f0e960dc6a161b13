"""What pytest's collection kept of each test file, for doit-scout's pytest plugin.

A plugin may answer for a file without collecting it: pytest's own --lf, once it knows of a
failure, reports every file without one as collected with nothing in it ("skipped N files"). It
also drops, from what a file with a failure collected, the tests that did not fail. Neither goes
through `pytest_deselected`, so each is asked of pytest's collect reports here: what the file's
collector itself returned (the innermost view) against what the session kept (the outermost). A
file pytest did not examine whole is reported `left_out`, and is never recorded complete.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest


class _Collected:
    """The innermost wrapper: the children a file's collection returned, before other plugins'
    wrappers change them."""

    def __init__(self) -> None:
        self.children: dict[int, set[str]] = {}

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_make_collect_report(self, collector: pytest.Collector):
        report = yield
        if isinstance(collector, pytest.File):
            self.children[id(collector)] = {child.nodeid for child in report.result or ()}
        return report


class _Kept:
    """The outermost wrapper: what the session kept of a file."""

    def __init__(self, collected: _Collected, relative: Callable[[str], str | None],
                 write: Callable[[dict[str, Any]], None]) -> None:
        self.collected, self.relative, self.write = collected, relative, write

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_make_collect_report(self, collector: pytest.Collector):
        report = yield
        if not isinstance(collector, pytest.File) or not report.passed:
            return report
        returned = self.collected.children.pop(id(collector), set())
        kept = {child.nodeid for child in report.result or ()}
        # pytest's own collection (runner.pytest_make_collect_report) hands on the call of
        # `collector.collect()` with its report, as `call`: an empty report without one came from
        # a plugin that answered instead (--lf's skipped files).
        why = ("pytest did not collect it: a plugin answered for it (--lf skips files without a known failure)"
               if not kept and "call" not in vars(report) else
               "a plugin dropped some of its tests in collection (--lf keeps only the failed ones)"
               if returned - kept else None)
        path = self.relative(str(collector.path)) if why else None
        if path is not None:
            self.write({"event": "left_out", "path": path, "why": why})
        return report


def register(config: pytest.Config, relative: Callable[[str], str | None],
             write: Callable[[dict[str, Any]], None]) -> None:
    if config.getoption("lf", False) or config.getoption("stepwise", False):
        # they collect or keep only what failed before: nothing of a file proves it whole
        write({"event": "narrowed", "why": "--lf or --sw keep only what failed before"})
    collected = _Collected()
    config.pluginmanager.register(collected, "doit-scout-collected")
    config.pluginmanager.register(_Kept(collected, relative, write), "doit-scout-kept")
