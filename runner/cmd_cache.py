"""`doit cache stats|gc|clear`: the shared content-addressed cache."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from doit.cmd_base import Command
from doit.exceptions import InvalidCommand
from rich.console import Console

from doit_scout.config import ScoutConfig, load_config_for_doit, parse_age, parse_size
from doit_scout.remote_counts import remote_totals
from doit_scout.report import add_row, make_console, make_table, print_warning
from doit_scout.shared_cache import SharedCache, cache_location, cache_trust

ACTIONS = ("stats", "gc", "clear")
cmd_options = (
    {"name": "max_size", "long": "max-size", "type": str, "default": "",
     "help": "gc: evict least recently used entries until the cache holds at most this much (500MB, 2GB)"},
    {"name": "max_age", "long": "max-age", "type": str, "default": "",
     "help": "gc: evict entries not used for this long (30d, 12h)"},
    {"name": "yes", "long": "yes", "short": "y", "type": bool, "default": False,
     "help": "clear: do not ask for confirmation"},
)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "-"


class Cache(Command):
    name = "cache"
    doc_purpose = "show (stats), trim (gc) or empty (clear) doit-scout's shared cache"
    doc_usage = "stats | gc [--max-size SIZE] [--max-age AGE] | clear [--yes]"
    doc_description = None
    cmd_options = cmd_options

    def parse_execute(self, in_args):
        # doit's option parser stops at the first word; `doit cache gc --max-age 30d` reads better.
        actions = [a for a in in_args if a in ACTIONS]
        return super().parse_execute([a for a in in_args if a not in ACTIONS] + actions)

    def execute(self, params, args):
        if len(args) != 1 or args[0] not in ACTIONS:
            raise InvalidCommand(f"doit cache takes one of: {', '.join(ACTIONS)} (got {' '.join(args) or 'nothing'})")
        config = load_config_for_doit(Path.cwd())
        folder = cache_location(config.cache_dir)
        if folder is None:
            raise InvalidCommand("the shared cache is switched off (DOIT_SCOUT_CACHE=off)")
        trust, problem = cache_trust(config.cache_trust)
        cache = SharedCache(folder, trust=trust)
        console = make_console(sys.stdout)
        try:
            for warning in ([problem] if problem else []) + cache.take_warnings():
                print_warning(console, warning)
            if not cache.enabled:
                return 1
            status = getattr(self, f"_{args[0]}")(cache, console, params)
            if args[0] == "stats":
                _remote_stats(config, cache, console)
            return status
        finally:
            cache.close()

    def _stats(self, cache: SharedCache, console: Console, params) -> int:
        table = make_table("kind", "entries", "size", "hits", "misses", "hit rate", "dropped", "oldest use",
                           "newest use", title=f"doit-scout cache at {cache.folder}")
        for s in cache.kind_stats():
            rate = f"{100 * s.hit_rate:.0f}%" if s.hit_rate is not None else "-"
            add_row(table, s.kind, str(s.entries), _size(s.size), str(s.hits), str(s.misses), rate,
                    str(s.dropped), _when(s.oldest_use), _when(s.newest_use))
        console.print(table)
        return 0

    def _gc(self, cache: SharedCache, console: Console, params) -> int:
        try:
            max_bytes = parse_size(params["max_size"]) if params["max_size"] else None
            max_age = parse_age(params["max_age"]) if params["max_age"] else None
        except ValueError as err:
            raise InvalidCommand(str(err)) from None
        if max_bytes is None and max_age is None:
            raise InvalidCommand("doit cache gc needs --max-size, --max-age or both")
        evicted = cache.collect_garbage(max_bytes=max_bytes, max_age_seconds=max_age)
        console.print(f"evicted {evicted} entries from {cache.folder}", markup=False)
        return 0

    def _clear(self, cache: SharedCache, console: Console, params) -> int:
        if not params["yes"]:
            if not sys.stdin.isatty():
                console.print("doit cache clear empties the shared cache of every project on this machine; "
                              "run it at a terminal to confirm, or pass --yes")
                return 1
            answer = input(f"Empty the shared cache at {cache.folder}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                console.print("nothing cleared")
                return 1
        console.print(f"cleared {cache.clear()} entries from {cache.folder}", markup=False)
        return 0


def _remote_stats(config: ScoutConfig, cache: SharedCache, console: Console) -> None:
    """The configured remote cache: what it served and cost on this machine, over all runs."""
    if not config.remote_cache or cache.folder is None:
        return
    role = "reads and writes" if config.remote_cache_write else "reads only"
    totals = remote_totals(cache.folder, config.remote_cache)
    title = f"remote cache at {config.remote_cache} ({role})"
    if totals is None:
        console.print(f"{title}: not used from this machine yet", markup=False)
        return
    table = make_table("kind", "hits", "misses", "hit rate", "rejected", "uploaded", title=title)
    for kind in sorted(set(totals.hits) | set(totals.misses) | set(totals.rejected) | set(totals.uploads)):
        asked = totals.hits[kind] + totals.misses[kind]
        rate = f"{100 * totals.hits[kind] / asked:.0f}%" if asked else "-"
        add_row(table, kind, str(totals.hits[kind]), str(totals.misses[kind]), rate, str(totals.rejected[kind]),
                str(totals.uploads[kind]))
    console.print(table)
    latency = f"{totals.latency_ms:.1f} ms" if totals.latency_ms is not None else "-"
    console.print(f"{totals.requests} requests · {_size(totals.bytes_down)} down · {_size(totals.bytes_up)} up · "
                  f"mean latency {latency} · {totals.failures} runs switched it off after a failure", markup=False)
