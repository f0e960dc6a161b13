"""What a remote cache did: this run's counts (the summary and `.scout/last-run.json`) and the
cumulative ones per server, kept in the local cache folder for `doit cache stats`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from doit_scout.shared_cache import RunCounts, SharedCache

MEMO_FOLDER = "remote"  # inside the local cache folder: remembered misses and cumulative counts
TOTALS_KIND = "totals"


@dataclass
class RemoteCounts:
    """What the remote did for this process: per kind hits, misses and rejected entries; requests,
    bytes both ways and time spent waiting for answers."""

    hits: Counter = field(default_factory=Counter)
    misses: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    uploads: Counter = field(default_factory=Counter)
    requests: int = 0
    bytes_down: int = 0
    bytes_up: int = 0
    seconds: float = 0.0
    failures: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"hits": dict(self.hits), "misses": dict(self.misses), "rejected": dict(self.rejected),
                "uploads": dict(self.uploads), "requests": self.requests, "bytes_down": self.bytes_down,
                "bytes_up": self.bytes_up, "seconds": round(self.seconds, 6), "failures": self.failures}

    def add(self, other: Mapping[str, Any]) -> None:
        """Cumulative totals: `other` is an as_json() of another run (or of the totals so far)."""
        for name in ("hits", "misses", "rejected", "uploads"):
            counter = getattr(self, name)
            for kind, n in (other.get(name) or {}).items():
                counter[kind] += int(n)
        self.requests += int(other.get("requests", 0))
        self.bytes_down += int(other.get("bytes_down", 0))
        self.bytes_up += int(other.get("bytes_up", 0))
        self.seconds += float(other.get("seconds", 0.0))
        self.failures += int(other.get("failures", 0))

    @property
    def latency_ms(self) -> float | None:
        return 1000 * self.seconds / self.requests if self.requests else None

    def summary(self) -> str:
        hits, misses = sum(self.hits.values()), sum(self.misses.values())
        text = f"remote {hits} hits / {misses} misses"
        if self.rejected:
            text += f" / {sum(self.rejected.values())} rejected"
        if self.uploads:
            text += f" · {sum(self.uploads.values())} uploaded"
        if self.requests:
            text += f" · {_size(self.bytes_down + self.bytes_up)} in {self.requests} requests, " \
                    f"{self.latency_ms:.1f} ms each"
        return text


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


@dataclass
class TieredCounts(RunCounts):
    """The local cache's counts and the remote's, summed up and reported together."""

    remote: RemoteCounts = field(default_factory=RemoteCounts)

    @classmethod
    def of(cls, local: RunCounts, remote: RemoteCounts) -> TieredCounts:
        # The local cache's very counters, not copies: what it counts from now on is counted here.
        return cls(local.hits, local.misses, local.dropped, local.rejected, remote)

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "remote": self.remote.as_json()}

    def summary(self) -> str:
        return f"{super().summary()} · {self.remote.summary()}"


def add_remote_totals(memo: SharedCache, url: str, counts: RemoteCounts) -> None:
    totals = RemoteCounts()
    previous = memo.get_many(TOTALS_KIND, [url]).get(url)
    if isinstance(previous, dict):
        try:
            totals.add(previous)
        except (TypeError, ValueError, AttributeError):
            pass  # damaged totals start again
    totals.add(counts.as_json())
    memo.put_many(TOTALS_KIND, {url: totals.as_json()})


def remote_totals(cache_folder: Path, url: str) -> RemoteCounts | None:
    """The cumulative counts of the remote at `url`, as `doit cache stats` shows them."""
    folder = cache_folder / MEMO_FOLDER
    if not (folder / "cache.sqlite").exists():
        return None
    memo = SharedCache(folder)
    try:
        value = memo.get_many(TOTALS_KIND, [url]).get(url)
    finally:
        memo.close()
    counts = RemoteCounts()
    try:
        counts.add(value if isinstance(value, dict) else {})
    except (TypeError, ValueError, AttributeError):
        return None
    return counts
