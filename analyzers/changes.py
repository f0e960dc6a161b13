"""What changed between two inventories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class ChangeSet:
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    unchanged: int = 0

    @classmethod
    def between(cls, before: Mapping[str, str], after: Mapping[str, str]) -> "ChangeSet":
        """Compare two {path: content digest} maps."""
        return cls(
            added=tuple(sorted(after.keys() - before.keys())),
            modified=tuple(sorted(p for p in after.keys() & before.keys() if after[p] != before[p])),
            deleted=tuple(sorted(before.keys() - after.keys())),
            unchanged=sum(1 for p, d in after.items() if before.get(p) == d),
        )

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(sorted((*self.added, *self.modified, *self.deleted)))

    def __bool__(self) -> bool:
        return bool(self.added or self.modified or self.deleted)
