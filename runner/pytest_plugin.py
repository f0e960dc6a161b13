"""doit-scout's pytest plugin, loaded with `-p runner.pytest_plugin`.

- --scout-select names a JSON file of what to run: whole test files, and for others only some nodes.
  Passing hundreds of file paths on pytest's command line makes its collection several times
  slower, so pytest gets their folders and this plugin leaves the other files uncollected.
- --scout-report names a file that receives every test and collection report as one JSON line.
  Under pytest-xdist only the controller writes; it sees every worker's reports.

The hooks stay thin: interpretation happens in runner.execution, after pytest is done."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

import pytest

_stream: TextIO | None = None
_whole_files: set[str] = set()
_some_nodes: dict[str, set[str]] = {}  # file path -> the node names after "::" to run
_NEVER_IGNORED = ("conftest.py", "__init__.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--scout-report", default=None, help="doit-scout: file for per-node results")
    parser.addoption("--scout-select", default=None, help="doit-scout: file naming what to run")


def pytest_configure(config: pytest.Config) -> None:
    global _stream, _whole_files, _some_nodes
    selection = config.getoption("--scout-select")
    if selection:
        data = json.loads(Path(selection).read_text(encoding="utf-8"))
        _whole_files = set(data["files"])
        _some_nodes = {path: set(names) for path, names in data["nodes"].items()}
    path = config.getoption("--scout-report")
    if path and not hasattr(config, "workerinput"):  # xdist workers report to the controller
        _stream = open(path, "w", encoding="utf-8", buffering=1)
        _write({"event": "start", "rootdir": str(config.rootpath)})


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if not (_whole_files or _some_nodes) or collection_path.suffix != ".py":
        return None
    if collection_path.name in _NEVER_IGNORED:
        return None
    path = str(collection_path)
    return True if path not in _whole_files and path not in _some_nodes else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _some_nodes:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        names = _some_nodes.get(str(item.path))
        (drop if names is not None and item.nodeid.partition("::")[2] not in names else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _write(event: dict[str, Any]) -> None:
    if _stream is not None:
        _stream.write(json.dumps(event) + "\n")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _write({
        "event": "test", "nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
        "duration": report.duration, "xfail": hasattr(report, "wasxfail"),
    })


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _write({"event": "collect_error", "nodeid": report.nodeid, "message": str(report.longrepr)[-2000:]})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _stream
    _write({"event": "finish", "exitstatus": int(exitstatus)})
    if _stream is not None:
        _stream.close()
        _stream = None
