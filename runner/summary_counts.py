"""pytest's own counts for its final line (`1 passed, 7 skipped in 1.31s`), as its terminal
reporter keeps them: doit-scout's summary repeats them rather than counting again. Reports of
tests alone miss what pytest counts while collecting (a module that calls `pytest.skip(...,
allow_module_level=True)`, an `importorskip`, a doctest module that skips), so they said 262
skipped where pytest said 302."""

from __future__ import annotations

from typing import Any

# pytest's keys, by the words doit-scout prints (execution.COUNT_WORDS).
_WORDS = {"error": "errors"}


def final_line_counts(config: Any) -> dict[str, int] | None:
    """The counts of pytest's final line, by doit-scout's words; None without pytest's terminal
    reporter (`-p no:terminal`), which keeps them."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", None)
    if not isinstance(stats, dict):
        return None
    # as pytest's `_get_reports_to_display`: a report counts unless it says it does not (subtests)
    return {_WORDS.get(key) or key: sum(1 for r in reports if getattr(r, "count_towards_summary", True))
            for key, reports in stats.items() if key}
