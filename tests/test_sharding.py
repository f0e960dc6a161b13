import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from doit_scout.analyzers.sharding import parse_shard, shard_files


@pytest.mark.parametrize("text, expected", [("1/4", (1, 4)), ("4/4", (4, 4)), ("1/1", (1, 1))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "x/2", "2", "-1/3"])
def test_bad_shards_are_named(text):
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text)


paths = st.lists(st.from_regex(r"tests/test_[a-z]{1,6}\.py", fullmatch=True), unique=True, max_size=40)


@given(paths, st.integers(1, 6), st.data())
def test_every_file_lands_in_exactly_one_shard_and_loads_balance(files, count, data):
    durations = {p: data.draw(st.floats(0.1, 100)) for p in files if data.draw(st.booleans())}
    shards = shard_files(files, durations, count)
    assert sorted(p for s in shards for p in s) == sorted(files)
    assert shard_files(list(reversed(files)), durations, count) == shards  # deterministic
    if files:
        median = statistics.median(durations.values()) if durations else 1.0
        weight = {p: durations.get(p, median) for p in files}
        loads = [sum(weight[p] for p in s) for s in shards]
        # Longest-first greedy: no shard exceeds the mean by more than the heaviest file.
        assert max(loads) <= sum(loads) / count + max(weight.values()) + 1e-6


def test_unknown_durations_count_as_the_median():
    shards = shard_files(["a", "b", "c", "d"], {"a": 10.0, "b": 1.0, "c": 3.0}, 2)
    assert shards == [["a"], ["b", "c", "d"]]  # d weighs 3 (the median)


@given(st.lists(st.sampled_from(["run", "skip"]), min_size=1, max_size=30), st.integers(1, 5), st.data())
def test_shards_run_exactly_the_unsharded_selection_whatever_ran_before(actions, count, data):
    """A shard's part never depends on what is green: running shard 1 first, recording its files
    green, cannot move a file into shard 1's part in shard 2's view."""
    from doit_scout.analyzers.selection import TestDecision
    from doit_scout.plan_filters import keep_shard

    paths = [f"tests/test_{i}.py" for i in range(len(actions))]
    durations = {p: data.draw(st.floats(0.1, 10)) for p in paths}
    before = [TestDecision(p, "f" + p, a) for p, a in zip(paths, actions)]
    ran: list[str] = []
    for index in data.draw(st.permutations(range(1, count + 1))):
        # Shards that already ran left their files green.
        current = [TestDecision(d.path, d.fingerprint, "skip" if d.path in ran else d.action) for d in before]
        ran += [d.path for d in keep_shard(current, durations, index, count) if d.runs]
    assert sorted(ran) == sorted(d.path for d in before if d.runs)
