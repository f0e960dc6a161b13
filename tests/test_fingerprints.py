from hypothesis import given, settings
from hypothesis import strategies as st

from doit_scout.analyzers.fingerprints import compute_fingerprints, update_fingerprints

GRAPH = {"app": {"core", "util"}, "core": {"util"}, "util": set(), "other": set(), "test_app": {"app"}}
CONTENTS = {n: f"v1-{n}" for n in GRAPH}


def test_a_change_reaches_exactly_its_importers():
    before = compute_fingerprints(CONTENTS, GRAPH)
    after = compute_fingerprints({**CONTENTS, "util": "v2"}, GRAPH)
    changed = {n for n in GRAPH if before[n] != after[n]}
    assert changed == {"util", "core", "app", "test_app"}


def test_shape_change_without_content_change_changes_the_fingerprint():
    before = compute_fingerprints(CONTENTS, GRAPH)
    after = compute_fingerprints(CONTENTS, {**GRAPH, "core": {"util", "other"}})
    assert before["core"] != after["core"] and before["util"] == after["util"]
    assert before["test_app"] != after["test_app"]


def test_cycle_members_share_a_fingerprint_and_see_each_others_changes():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "top": {"a"}, "leaf": set()}
    contents = {n: n for n in graph}
    fps = compute_fingerprints(contents, graph)
    assert fps["a"] == fps["b"] == fps["c"] != fps["top"]
    changed = compute_fingerprints({**contents, "c": "edited"}, graph)
    assert changed["a"] != fps["a"] and changed["top"] != fps["top"] and changed["leaf"] == fps["leaf"]


def test_deep_chains_do_not_hit_the_recursion_limit():
    graph = {f"m{i}": {f"m{i + 1}"} for i in range(5000)} | {"m5000": set()}
    fps = compute_fingerprints({n: "x" for n in graph}, graph)
    assert len(set(fps.values())) == len(graph)


nodes = st.sampled_from([f"n{i}" for i in range(8)])
graphs = st.dictionaries(nodes, st.sets(nodes, max_size=3), min_size=1).map(
    lambda g: {n: {t for t in ts if t in g} for n, ts in g.items()}
)


@settings(max_examples=200, deadline=None)
@given(graphs, graphs, st.data())
def test_incremental_update_equals_full_computation(before_graph, after_graph, data):
    before_contents = {n: data.draw(st.sampled_from(["a", "b"])) for n in before_graph}
    after_contents = {n: data.draw(st.sampled_from(["a", "b"])) for n in after_graph}
    before = compute_fingerprints(before_contents, before_graph)
    dirty = [n for n in after_graph
             if before_contents.get(n) != after_contents[n] or before_graph.get(n) != after_graph[n]]
    updated = update_fingerprints(before, after_contents, after_graph, dirty)
    assert updated == compute_fingerprints(after_contents, after_graph)
