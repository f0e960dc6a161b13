"""Path globs as users write them in `[tool.scout]`.

Semantics follow .gitignore and pathlib: `*` and `?` stay inside one folder, `**` spans folders
(`a/**/b.py` also matches `a/b.py`), a pattern without `/` matches a file name in any folder, and a
pattern ending in `/` matches everything below that folder. Paths are relative POSIX paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("/"):
        pattern += "**"
    anchored = "/" in pattern
    body = pattern.lstrip("/")
    out: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "[":
            end = body.find("]", i + 1)
            if end == -1:
                out.append(re.escape("["))
                i += 1
            else:
                inner = body[i + 1 : end].replace("\\", "\\\\")
                if inner.startswith("!"):
                    inner = "^" + inner[1:]
                out.append(f"[{inner}]")
                i = end + 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(prefix + "".join(out) + r"\Z")


def glob_matches(path: str, pattern: str) -> bool:
    return compile_glob(pattern).match(path) is not None


@dataclass(frozen=True)
class GlobSet:
    """A set of globs matched together, compiled once."""

    patterns: tuple[str, ...] = ()
    _regex: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.patterns:
            joined = "|".join(f"(?:{compile_glob(p).pattern})" for p in self.patterns)
            object.__setattr__(self, "_regex", re.compile(joined))

    @classmethod
    def of(cls, patterns: Iterable[str]) -> "GlobSet":
        return cls(tuple(patterns))

    def matches(self, path: str) -> bool:
        return self._regex is not None and self._regex.match(path) is not None
