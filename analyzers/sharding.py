"""Splitting test files over N CI jobs, balanced by how long each file takes."""

from __future__ import annotations

import statistics
from typing import Mapping, Sequence

DEFAULT_SECONDS = 1.0  # for a file when no duration is known at all


def parse_shard(text: str) -> tuple[int, int]:
    """(K, N) from "K/N" with 1 <= K <= N; ValueError that says what is expected otherwise."""
    k, slash, n = text.partition("/")
    if not slash or not k.strip().isdigit() or not n.strip().isdigit():
        raise ValueError(f"--shard takes K/N, such as 2/4 (got {text!r})")
    index, count = int(k), int(n)
    if count < 1 or not 1 <= index <= count:
        raise ValueError(f"--shard {text}: K must be between 1 and N, and N at least 1")
    return index, count


def shard_files(paths: Sequence[str], durations: Mapping[str, float], count: int) -> list[list[str]]:
    """Longest first onto the least loaded shard; a file without a recorded duration counts as
    the median of the known ones. Deterministic: ties go by path, then by shard number."""
    known = [durations[p] for p in paths if p in durations]
    default = statistics.median(known) if known else DEFAULT_SECONDS
    weight = {p: durations.get(p, default) for p in paths}
    shards: list[list[str]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for path in sorted(set(paths), key=lambda p: (-weight[p], p)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        shards[lightest].append(path)
        loads[lightest] += weight[path]
    return [sorted(s) for s in shards]
