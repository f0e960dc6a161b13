"""The pure parts of the test task: selection, worker choice, and reading pytest's reports."""

import json
from pathlib import Path

import pytest

import doit_scout.testing
from doit_scout.analyzers.globs import GlobSet
from doit_scout.analyzers.selection import TestRecord, select_tests
from doit_scout.config import ConfigError, parse_config
from doit_scout.execution import node_outcome, read_reports, selection_of
from doit_scout.records import RecordStore
from doit_scout.shared_cache import SharedCache

FPS = {"tests/test_a.py": "fa", "tests/test_b.py": "fb", "tests/test_c.py": "fc", "tests/it/test_d.py": "fd"}


def decisions_of(records, **kwargs):
    return {d.path: (d.action, d.nodes) for d in select_tests(FPS, records, **kwargs)}


def test_only_a_complete_green_record_for_the_current_fingerprint_skips():
    records = {
        "fa": TestRecord(True, {"tests/test_a.py::t1": "passed", "tests/test_a.py::t2": "xfailed"}),
        "fb": TestRecord(True, {"tests/test_b.py::t1": "passed", "tests/test_b.py::t2": "failed"}),
        "fc": TestRecord(False, {"tests/test_c.py::t1": "passed"}),
    }
    assert decisions_of(records) == {
        "tests/test_a.py": ("skip", ()),
        "tests/test_b.py": ("rerun", ("tests/test_b.py::t2",)),
        "tests/test_c.py": ("run", ()),
        "tests/it/test_d.py": ("run", ()),
    }


def test_ignoring_records_runs_everything_with_the_reason():
    records = {fp: TestRecord(True, {}) for fp in FPS.values()}
    decisions = select_tests(FPS, records, ignore_records="forgotten")
    assert {d.action for d in decisions} == {"run"} and decisions[0].reasons == ("forgotten",)


def test_always_run_joins_only_when_something_else_runs():
    green = {fp: TestRecord(True, {}) for fp in FPS.values()}
    always = GlobSet.of(["tests/it/**"])
    assert {a for a, _ in decisions_of(green, always_run=always).values()} == {"skip"}
    one_stale = {**green, "fa": TestRecord(False, {})}
    assert decisions_of(one_stale, always_run=always)["tests/it/test_d.py"] == ("run", ())
    assert decisions_of(one_stale, always_run=always)["tests/test_b.py"] == ("skip", ())


@pytest.mark.parametrize("phases, outcome", [
    ({"setup": "passed", "call": "passed", "teardown": "passed"}, "passed"),
    ({"setup": "passed", "call": "failed", "teardown": "passed"}, "failed"),
    ({"setup": "passed", "call": "passed", "teardown": "failed"}, "failed"),
    ({"setup": "failed", "teardown": "passed"}, "failed"),
    ({"setup": "skipped", "teardown": "passed"}, "skipped"),
    ({"setup": "passed", "call": "skipped", "teardown": "passed"}, "skipped"),
])
def test_node_outcome_from_its_phases(phases, outcome):
    reports = {when: {"outcome": o, "xfail": False} for when, o in phases.items()}
    assert node_outcome(reports) == outcome


def test_xfail_is_green_and_strict_xpass_is_not():
    xfailed = {"setup": {"outcome": "passed", "xfail": False}, "call": {"outcome": "skipped", "xfail": True},
               "teardown": {"outcome": "passed", "xfail": False}}
    assert node_outcome(xfailed) == "xfailed"


def _write_events(path: Path, events: list[dict], tail: str = "") -> None:
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n" + tail)


def _passed(nodeid: str, duration: float = 0.5) -> list[dict]:
    return [{"event": "test", "nodeid": nodeid, "when": w, "outcome": "passed", "duration": duration,
             "xfail": False} for w in ("setup", "call", "teardown")]


def test_report_reading_keeps_finished_nodes_and_maps_a_rootdir_below_the_project(tmp_path: Path):
    sub = str(tmp_path / "sub")
    _write_events(tmp_path / "main.jsonl", [
        {"event": "start", "rootdir": sub},
        {"event": "file", "path": "sub/tests/test_a.py", "nodeid": "tests/test_a.py"},
        {"event": "item", "nodeid": "tests/test_a.py::ok", "path": "sub/tests/test_a.py"},
        {"event": "item", "nodeid": "tests/test_a.py::cut", "path": "sub/tests/test_a.py"},
        *_passed("tests/test_a.py::ok"),
        {"event": "test", "nodeid": "tests/test_a.py::cut", "when": "setup", "outcome": "passed",
         "duration": 0.1, "xfail": False},
        {"event": "collect_error", "nodeid": "tests/test_b.py", "path": "sub/tests/test_b.py", "message": "ImportError"},
    ], tail="{truncated")
    run = read_reports(tmp_path, tmp_path, exit_code=2)
    assert run.outcomes == {"sub/tests/test_a.py::ok": "passed"}
    assert run.collection_errors == {"sub/tests/test_b.py": "ImportError"}
    assert run.durations == {"sub/tests/test_a.py": pytest.approx(1.6)}
    assert not run.finished and run.complete_files() == set()


def test_a_file_is_complete_only_when_every_item_pytest_collected_from_it_reported(tmp_path: Path):
    """Items come from the workers' files, verdicts from the controller's (main.jsonl)."""
    _write_events(tmp_path / "gw0.jsonl", [
        {"event": "start", "rootdir": str(tmp_path)},
        {"event": "file", "path": "tests/test_a.py", "nodeid": "tests/test_a.py"},
        {"event": "file", "path": "tests/test_b.py", "nodeid": "tests/test_b.py"},
        {"event": "file", "path": "tests/test_c.py", "nodeid": "tests/test_c.py"},
        {"event": "file", "path": "tests/test_empty.py", "nodeid": "tests/test_empty.py"},
        {"event": "item", "nodeid": "tests/test_a.py::t", "path": "tests/test_a.py"},
        {"event": "item", "nodeid": "tests/test_b.py::t1", "path": "tests/test_b.py"},
        {"event": "item", "nodeid": "tests/test_b.py::t2", "path": "tests/test_b.py"},
        {"event": "item", "nodeid": "tests/test_c.py::t", "path": "tests/test_c.py"},
        {"event": "deselected", "nodeids": ["tests/test_c.py::t"]},
        {"event": "input", "source": "tests/test_a.py", "target": "tests/data/x.json"},
        {"event": "finish", "exitstatus": 1},  # a worker's finish does not count
    ])
    _write_events(tmp_path / "main.jsonl", [
        {"event": "start", "rootdir": str(tmp_path)},
        *_passed("tests/test_a.py::t"), *_passed("tests/test_b.py::t1"),  # t2 never ran (-x)
    ])
    unfinished = read_reports(tmp_path, tmp_path, exit_code=1)
    assert not unfinished.finished and unfinished.complete_files() == set()
    with (tmp_path / "main.jsonl").open("a") as f:
        f.write(json.dumps({"event": "finish", "exitstatus": 1}) + "\n")
    run = read_reports(tmp_path, tmp_path, exit_code=1)
    assert run.complete_files() == {"tests/test_a.py", "tests/test_empty.py"}
    assert run.observed == {"tests/test_a.py": {"tests/data/x.json"}}
    assert read_reports(tmp_path, tmp_path, exit_code=2).complete_files() == set()


def test_selection_hides_green_files_and_names_failed_nodes():
    decisions = select_tests(FPS, {"fb": TestRecord(True, {"tests/test_b.py::x[1 2]": "failed"})})
    selection = selection_of(decisions, ["tests/test_c.py"], {"pkg/a.py::f", "pkg/a.py::Fmt.__init__"})
    assert selection == {"hide": ["tests/test_c.py"], "nodes": {"tests/test_b.py": ["x[1 2]"]},
                         "quiet": ["pkg/a.py::Fmt.__init__", "pkg/a.py::f"]}


def test_test_config_keys_are_checked():
    assert parse_config({"test": {"workers": "auto"}}).test.workers is None
    with pytest.raises(ConfigError, match=r"test.workers = 'many' is not allowed"):
        parse_config({"test": {"workers": "many"}})
    with pytest.raises(ConfigError, match=r"\[tool.scout.test\] has unknown key 'alwaysrun'"):
        parse_config({"test": {"alwaysrun": []}})
    with pytest.raises(ConfigError, match="a table mapping a data glob"):
        parse_config({"test": {"data": ["x"]}})


def test_missing_xdist_runs_in_one_process_with_a_warning(project: Path, monkeypatch):
    (project / "pyproject.toml").write_text("[tool.scout.test]\nworkers = 2\n")
    monkeypatch.setattr(doit_scout.testing, "xdist_available", lambda: False)  # it is installed here
    from doit_scout.config import load_config
    from doit_scout.context import RunContext
    result = doit_scout.testing.run_tests(RunContext(project, load_config(project)))
    assert result.pytest.workers == 0 and result.ok
    assert any("pytest-xdist is not installed" in w for w in result.plan.warnings)


def test_missing_pytest_is_a_clear_error(tmp_path: Path, monkeypatch):
    import importlib.util

    import doit_scout.execution

    real = importlib.util.find_spec
    monkeypatch.setattr(doit_scout.execution.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pytest" else real(name, *a))
    with pytest.raises(doit_scout.execution.PytestMissing, match=r"pytest is not installed for .* -m pip install pytest"):
        doit_scout.execution.run_pytest(tmp_path, [])


def test_audit_keys_are_checked():
    config = parse_config({"test": {"full_every": 5, "full_after": "12h", "audit_misses": "warn"}}).test
    assert (config.full_every, config.full_after, config.audit_misses) == (5, 43200.0, "warn")
    for table, words in [({"full_every": 0}, "full_every = 0"), ({"full_after": 24}, "full_after = 24"),
                         ({"full_after": "soon"}, "full_after = 'soon'"), ({"audit_misses": "ignore"}, '"fail" or "warn"')]:
        with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
            parse_config({"test": table})


def test_an_incomplete_record_of_the_same_inputs_is_the_reason_not_what_changed_elsewhere():
    decisions = select_tests(FPS, {"fa": TestRecord(False, {"tests/test_a.py::x": "passed"})},
                             why_changed=lambda path: ["pkg/reverted.py changed"])
    reasons = {d.path: d.reasons for d in decisions}
    assert reasons["tests/test_a.py"] == ("its last run with these inputs did not run all its tests (-k, -m, -x, "
                                          "--lf, or the session stopped)",)
    assert reasons["tests/test_b.py"] == ("pkg/reverted.py changed",)  # no record: what changed says why


def test_records_written_in_a_batch_are_one_write_and_read_alike(tmp_path: Path):
    cache = SharedCache(tmp_path / "cache")
    store = RecordStore(cache)
    writes = []
    put_many = cache.put_many
    cache.put_many = lambda kind, values: (writes.append(dict(values)), put_many(kind, values))[1]  # type: ignore
    with store.batch():
        store.record_file("fa", "a.py", {"a.py::t1": "failed", "a.py::t2": "passed"}, complete=True)
        store.record_nodes("fa", "a.py", {"a.py::t1": "passed"})  # merged with the pending record
        store.record_file("fb", "b.py", {"b.py::t": "passed"}, complete=True)
        store.forget_file("fb")
        assert store.records({"fa": "a.py"}) == {}  # nothing written yet
    assert len(writes) == 1
    assert store.records({"fa": "a.py", "fb": "b.py"}) == {"fa": TestRecord(True, {"a.py::t1": "passed", "a.py::t2": "passed"})}
    cache.close()
