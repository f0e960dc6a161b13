"""doit-scout's pytest plugin, loaded with `-p runner.pytest_plugin`: it writes every test and
collection report as one JSON line to the file named by --scout-report. Under pytest-xdist only the
controller writes; it sees every worker's reports. The hooks stay thin: interpretation happens in
runner.execution, after pytest is done."""

from __future__ import annotations

import json
from typing import Any, TextIO

import pytest

_stream: TextIO | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--scout-report", default=None, help="doit-scout: file for per-node results")


def pytest_configure(config: pytest.Config) -> None:
    global _stream
    path = config.getoption("--scout-report")
    if path and not hasattr(config, "workerinput"):  # xdist workers report to the controller
        _stream = open(path, "w", encoding="utf-8", buffering=1)
        _write({"event": "start", "rootdir": str(config.rootpath)})


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
