"""The interface of the store a run's results are cached in, whichever store serves them.

Two stores implement it: the local SharedCache (shared_cache.py), and the TieredCache of a local
one and a team's remote server (remote_cache.py). A run opens one (context.py) and every task and
command goes through this interface only. Maintenance of the local folder (`doit cache stats`, gc,
clear) is the local SharedCache's own, and not part of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol, Sequence

if TYPE_CHECKING:  # both modules implement this one: imported for the annotations only
    from doit_scout.remote_counts import RemoteCounts
    from doit_scout.shared_cache import RunCounts


class CacheStore(Protocol):
    """Values by kind and key, each a pure function of content (see shared_cache.py)."""

    # This process's hits, misses and dropped entries, as the run's summary and last-run.json say them.
    counts: RunCounts

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        """The entries found among `keys`; one damaged or not to be trusted is a miss."""
        ...

    def put_many(self, kind: str, values: Mapping[str, Any]) -> None:
        """Keep `values` (by key) of `kind`; a store that cannot write keeps nothing, with a warning."""
        ...

    def delete(self, kind: str, key: str) -> None:
        """Drop one entry: one that passed its checks yet is not what its kind holds."""
        ...

    def take_warnings(self) -> list[str]:
        """The warnings not yet shown (each is shown once)."""
        ...

    def remote_counts(self) -> RemoteCounts | None:
        """What a remote cache did for this process; None when the store has no remote."""
        ...

    def remote_messages(self) -> Sequence[str]:
        """Every warning the remote gave this process, shown or not (none without a remote)."""
        ...

    def close(self) -> None:
        """Add this process's counts to the cumulative ones and let the store go."""
        ...
