"""doit-scout's pytest plugin, loaded with `-p doit_scout.pytest_plugin`.

Every pytest process (the one process, or the xdist controller and each worker) writes its own
JSON-lines file into the folder named by --scout-dir, and the hooks only write down what pytest
and the running code say; doit_scout.execution interprets it after pytest is done:

- collection (in the processes that collect): every file pytest made a collector for, every item
  with its file, items any plugin deselected (-k, -m, --lf) or left out (collection_kept), errors;
- test reports and warnings (in the process that sees them all: the controller under xdist);
- observed inputs: an audit hook records the project files that running code opened (imports
  included; stats and databases: doit_scout.unaudited), the folders it listed and the files it ran in a
  subprocess, each with the innermost project code on the stack (the code that did it): its file,
  and the function body it ran in (`path::qualname`) when it was one;
- executed code (with DOIT_SCOUT_TRACE=1): which project functions each test ran, and which ran
  outside any test (doit_scout.tracing); tracing starts when this plugin is imported, before
  any conftest.py is;
- the session's start and finish, and its interruption (Ctrl-C or pytest.exit());
- what decides and measures the workers (in the controller): the ini-file `addopts` pytest read,
  each xdist worker that became ready, and the wall-clock times of the start, the first test
  and the finish.

--scout-select names a JSON file: `hide` lists files whose complete green record matches (pytest
need not collect them), `nodes` maps a file to the node names to re-run (its failed nodes). Files
doit-scout does not know are never hidden: pytest decides what a test is.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from types import CodeType
from typing import Any, Iterator, TextIO

import pytest
from _pytest.fixtures import FixtureDef  # public as pytest.FixtureDef only from pytest 8.1
from _pytest.nodes import Node

from doit_scout import collection_kept
from doit_scout.analyzers.inventory import in_excluded_dir
from doit_scout.analyzers.targets import (
    BODY_SEPARATOR,
    CONFIG_TARGET,
    DIR_PREFIX,
    LITERALS_PREFIX,
    MODULE_PREFIX,
    TEXT_PREFIX,
)
from doit_scout.children import NO_PYTHON_PROGRAMS, child_program, reads_only_its_arguments, runs_no_python
from doit_scout.children import realpath as _realpath
from doit_scout.summary_counts import final_line_counts
from doit_scout.trace_events import write_executed
from doit_scout.tracing import (
    DOC_SUFFIX,
    ENVIRON,
    LITERALS,
    TRACE_VARIABLE,
    WHOLE_FILE,
    ExecutedCodeTracer,
    Window,
    code_unit,
    shown_by_pytest,
)
from doit_scout.unaudited import UnauditedReads, read_as_text, reads_only_literals, sqlite_database, watch_stat

_tracer: ExecutedCodeTracer | None = None
if os.environ.get(TRACE_VARIABLE) == "1":
    _tracer = ExecutedCodeTracer()
    _tracer.start()

_NEVER_HIDDEN = ("conftest.py", "__init__.py")
_OBSERVED_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "subprocess.Popen"})
_CHILD_EVENTS = frozenset({"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.system",
                           "os.spawn", "os.startfile"})
_WRITE_MODES = frozenset("wax")
_THIS_FILE = os.path.abspath(__file__)


# Events on disk as soon as written: what a process killed mid-session (os._exit in a test, a
# crash) reported is what the run knows of it. The others (one per collected item: click's
# 33,000) wait in the buffer for the next of these.
_FLUSHED = frozenset({"start", "test", "first_test", "collect_error", "interrupted", "worker_down", "finish"})


class _Recorder:
    """The per-process state of the plugin: where to write, what to hide, what runs now."""

    def __init__(self, config: pytest.Config) -> None:
        self.root = os.path.abspath(config.getoption("--scout-root") or str(config.rootpath))
        self.prefix = self.root + os.sep
        self.real_prefix = os.path.realpath(self.root) + os.sep
        folder = Path(config.getoption("--scout-dir"))
        role = config.workerinput["workerid"] if hasattr(config, "workerinput") else "main"
        self.stream: TextIO | None = open(folder / f"{role}.jsonl", "w", encoding="utf-8")
        self.is_controller = not hasattr(config, "workerinput")
        self.config = config
        self.hidden: set[str] = set()
        self.rerun: dict[str, set[str]] = {}
        self.quiet: frozenset[str] = frozenset()
        selection = config.getoption("--scout-select")
        if selection:
            data = json.loads(Path(selection).read_text(encoding="utf-8"))
            self.hidden = set(data["hide"])
            self.rerun = {path: set(names) for path, names in data["nodes"].items()}
            self.quiet = frozenset(data.get("quiet", ()))
        self.current: str | None = None  # the file being collected or whose item runs
        self.seen: set[tuple[str, str]] = set()
        self.code_paths: dict[str, str | None] = {}  # co_filename -> project path, or None
        # A window's key of a code object (its id) -> its `path::unit` (None: no project code's),
        # and -> the object, which keeps the id its own.
        self.code_names: dict[int, str | None] = {}
        self._named_code: dict[int, CodeType] = {}
        self.unaudited = UnauditedReads(self._project_path, self._cached_code_path)
        self.observing = True
        self.first_test_seen = False

    @property
    def distributed(self) -> bool:
        """This is the controller of an xdist run."""
        return self.is_controller and self.config.pluginmanager.has_plugin("dsession")

    def write(self, event: dict[str, Any]) -> None:
        if self.stream is not None:
            self.stream.write(json.dumps(event) + "\n")
            if event["event"] in _FLUSHED:
                self.stream.flush()

    def relative(self, path: str) -> str | None:
        """The project-relative POSIX path of an absolute path, None outside the project."""
        if path.startswith(self.prefix):
            rel = path[len(self.prefix):]
        elif (real := _realpath(path)).startswith(self.real_prefix):
            rel = real[len(self.real_prefix):]  # through a symlink (PYTHONPATH naming a link to the project)
        else:
            return None
        return rel.replace(os.sep, "/") if os.sep != "/" else rel

    # -- observed inputs --------------------------------------------------------------------

    def audit(self, event: str, args: tuple) -> None:
        if _tracer is not None and self.observing:
            if event in _CHILD_EVENTS and not runs_no_python(event, args) \
                    and (_tracer.windows or self._innermost_project_code() is not None):
                _tracer.child_started(event)  # a plugin's own (pytest-benchmark's git) runs no project code
            elif event == "open" and read_as_text(args[0], sys._getframe(2)):
                read = _tracer.pooled if reads_only_literals(sys._getframe(2)) else _tracer.current.sources
                read.add(os.path.abspath(os.fsdecode(args[0])))
            elif event == _tracer.probe.watched and not _tracer.setting_trace:
                _tracer.foreign()  # paused, replaced or put back: calls in between went unseen
        if event == "sqlite3.connect" and (database := sqlite_database(args)) is not None:
            self.observe_unaudited(database)
        if event not in _OBSERVED_EVENTS or not self.observing:
            return
        self.observing = False  # what this hook itself does is not observed
        try:
            as_text = event == "open" and read_as_text(args[0], sys._getframe(2))
            literals = as_text and reads_only_literals(sys._getframe(2))
            for target in self._targets(event, args):
                if literals and target.endswith(".py"):
                    self._observe(LITERALS_PREFIX + target)  # not the module itself: nothing of it runs
                    continue
                self._observe(target)
                if as_text and target.endswith(".py"):
                    self._observe(TEXT_PREFIX + target)
        except Exception:  # an audit hook must never break the code under test
            pass
        finally:
            self.observing = True

    def _targets(self, event: str, args: tuple) -> Iterator[str]:
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int) or shown_by_pytest(sys._getframe(3)):
                return
            if isinstance(mode, str) and _WRITE_MODES & set(mode) and "+" not in mode:
                return  # written, not read
            if mode is None and isinstance(flags, int) and flags & os.O_WRONLY:
                return
            rel = self._project_path(path)
            if rel is not None:
                yield rel
        elif event in ("os.listdir", "os.scandir"):
            if sys._getframe(3).f_code.co_filename.startswith("<frozen importlib"):
                return  # the import system filling its cache of a folder's names
            rel = self._project_path(args[0] if args and args[0] is not None else ".")
            if rel is not None:
                yield DIR_PREFIX + rel
        else:  # subprocess.Popen(executable, args, cwd, env)
            program = child_program(args)
            if program is not None and os.path.basename(program) in NO_PYTHON_PROGRAMS:
                return
            text_tool = reads_only_its_arguments(program, args[3])
            if not text_tool:
                yield CONFIG_TARGET  # the child may read any config file, and is not audited
            for rel in self._named_in_arguments(args):  # a text tool's files: each its input whole
                yield from (rel, TEXT_PREFIX + rel) if text_tool and rel.endswith(".py") else (rel,)

    def _named_in_arguments(self, args: tuple) -> Iterator[str]:
        """The project files a child's arguments name (a script it runs, a file a text tool
        reads) and the modules `-m` names."""
        _, argv, cwd, _ = args
        words = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv or ())
        for i, word in enumerate(words):
            if not isinstance(word, (str, bytes, os.PathLike)):
                continue
            word = os.fsdecode(word)
            if i > 0 and words[i - 1] == "-m":
                yield MODULE_PREFIX + word
                continue
            candidate = os.path.join(os.fsdecode(cwd) if cwd else os.getcwd(), word)
            if os.path.isfile(candidate):
                rel = self._project_path(candidate)
                if rel is not None:
                    yield rel

    def _project_path(self, path: Any) -> str | None:
        """The project file (the source of a bytecode file) at `path`, None for anything else."""
        rel = self.relative(os.path.abspath(os.fsdecode(path)))
        if rel is None or rel == "":
            return None if rel is None else "."
        rel = _source_of_bytecode(rel)
        return None if in_excluded_dir(rel) else rel

    def observe_unaudited(self, path: Any) -> None:
        """A path project code stat'ed, or a database it opened (doit_scout.unaudited): read as a
        file is. Others' (pytest's, a plugin's) are no input of a test."""
        if not self.observing:
            return
        self.observing = False
        try:
            if (found := self.unaudited.read(path)) is not None:
                self._observe(*found)
        except Exception:  # observing must never break the code under test
            pass
        finally:
            self.observing = True

    def observe_module(self, module: Any) -> None:
        """A module `importlib.import_module` returned: already imported or not, the calling
        code depends on it (the audit hook sees only a module's first import)."""
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and self.observing:
            rel = self._project_path(filename)
            if rel is not None:
                self._observe(rel)

    def _observe(self, target: str, source: str | None = None) -> None:
        if target.removeprefix(TEXT_PREFIX) == self.current:
            # A test's own file, read through project code (click's test_termui opens __file__
            # with click.open_file): the unit's fingerprint holds it, and other tests that reach
            # that code read their own files through it, not this one.
            return
        source = source or self._innermost_project_code(body=True) or self.current or ""
        if target == source.partition(BODY_SEPARATOR)[0] or (source, target) in self.seen:
            return
        self.seen.add((source, target))
        self.write({"event": "input", "source": source, "target": target})

    def _innermost_project_code(self, body: bool = False) -> str | None:
        """The project file of the innermost project frame; with `body`, `path::qualname` when
        that frame runs a function body (what reads there is an input of the code that runs it)."""
        frame = sys._getframe(1)  # this file's own frames are never project code
        while frame is not None:
            rel = self._cached_code_path(frame.f_code.co_filename)
            if rel is not None:
                unit = code_unit(getattr(frame.f_code, "co_qualname", "<3.10>")) if body else None
                return rel if unit is None else f"{rel}{BODY_SEPARATOR}{unit}"
            frame = frame.f_back  # type: ignore[assignment]
        return None

    def executed(self, window: Window) -> list[str]:
        """The functions and methods `window` saw run (`path::qualname`), those whose docstring
        it read (`path::qualname.__doc__`), and the source files it read as text (`path::*`) or
        for their constants (`path::<literals>`)."""
        found = {f"{path}::{WHOLE_FILE}" for path in map(self._project_path, window.sources) if path is not None}
        if _tracer is not None and _tracer.drew(window):  # what Hypothesis took, the test drew from
            found |= {f"{path}::{LITERALS}" for path in map(self._project_path, tuple(_tracer.pooled)) if path is not None}
        found |= {f"{ENVIRON}::{name}" for name, reader in tuple(window.environ) if self._code_path(reader) is not None}
        found.update(filter(None, self._bodies_of(window.code.copy())))  # a copy: other threads may add to it
        docs = window.docs.copy()
        for code, body in zip(docs.values(), self._bodies_of(docs)):
            if body is not None:  # a nested function's docstring is part of the body it is defined in
                found.add(body + DOC_SUFFIX if body.endswith("::" + getattr(code, "co_qualname", "")) else body)
        return sorted(found)

    def _bodies_of(self, code: dict[int, CodeType]) -> Iterator[str | None]:
        """`path::qualname` of the function body each code object belongs to, None for code of no
        project function. Each is named once; the rest is a lookup in C, for windows hold
        hundreds of code objects and every test has its own."""
        names = self.code_names
        for key in code.keys() - names.keys():
            self._name(key, code[key])
        return map(names.__getitem__, code)

    def _name(self, key: int, code: CodeType) -> None:
        path = self._cached_code_path(code.co_filename)
        unit = code_unit(getattr(code, "co_qualname", "<3.10>")) if path is not None else None
        self._named_code[key] = code
        self.code_names[key] = None if unit is None else f"{path}::{unit}"

    def _cached_code_path(self, filename: str) -> str | None:
        rel = self.code_paths.get(filename, "?")
        if rel == "?":
            rel = self.code_paths[filename] = self._code_path(filename)
        return rel

    def _code_path(self, filename: str) -> str | None:
        if not filename.endswith(".py") or os.path.abspath(filename) == _THIS_FILE:
            return None
        rel = self.relative(os.path.abspath(filename))
        return None if rel is None or in_excluded_dir(rel) else rel


def _source_of_bytecode(rel: str) -> str:
    """`pkg/__pycache__/mod.cpython-311.pyc` -> `pkg/mod.py`: the import system opens the
    bytecode of a module whose cache is fresh, and the source file otherwise."""
    folder, _, name = rel.rpartition("/")
    if name.endswith(".pyc") and folder.rpartition("/")[2] == "__pycache__":
        parent = folder.rpartition("/")[0]
        return (parent + "/" if parent else "") + name.partition(".")[0] + ".py"
    return rel


_recorder: _Recorder | None = None
# Warnings a plugin's pytest_configure issues before our recorder exists, written once it does:
# pytest counts them in its summary too. None once configured.
_early_warnings: list[dict[str, Any]] | None = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("doit-scout")
    group.addoption("--scout-dir", default=None, help="doit-scout: folder for this run's reports")
    group.addoption("--scout-select", default=None, help="doit-scout: file naming what to hide and re-run")
    group.addoption("--scout-root", default=None, help="doit-scout: the project root")


def pytest_configure(config: pytest.Config) -> None:
    global _recorder, _early_warnings, _tracer
    early, _early_warnings = _early_warnings or [], None
    if _tracer is not None and not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        _tracer.stop()  # an xdist controller runs no test: its workers trace their own
        _tracer = None
    if not config.getoption("--scout-dir"):
        return
    _recorder = _Recorder(config)
    _recorder.write({"event": "start", "rootdir": str(config.rootpath), "pid": os.getpid(), "time": time.time()})
    if _recorder.is_controller:
        for event in early:
            _recorder.write(event)
        # The project's own addopts, as pytest found and read them (whichever ini-file, format or
        # override): doit-scout must not override a -n of the project's with its own choice.
        _recorder.write({"event": "config", "addopts": [str(a) for a in config.getini("addopts")],
                         "inifile": None if config.inipath is None else str(config.inipath)})
    importlib.import_module = _import_module
    if _tracer is not None:
        _tracer.skip_installed_code(_recorder.root)
        pytest.FixtureRequest.getfixturevalue = _noting_getfixturevalue  # type: ignore[method-assign]
        FixtureDef.finish = _tracing_finish  # type: ignore[method-assign]
        Node.addfinalizer = _owned_addfinalizer  # type: ignore[method-assign]
    collection_kept.register(config, _recorder.relative, _recorder.write)  # --lf, --sw: what they leave out
    sys.addaudithook(_audit)
    watch_stat(_stat_seen)


_original_import_module = importlib.import_module


def _import_module(name: str, package: str | None = None) -> Any:
    module = _original_import_module(name, package)
    if _recorder is not None:
        _recorder.observe_module(module)
    return module


_original_import = builtins.__import__


def _observing_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
    """`__import__` while a doctest runs: its examples are code no file holds, so no static import
    shows what they import, and a module loaded earlier opens no file the audit hook could see."""
    module = _original_import(name, globals, locals, fromlist, level)
    if _recorder is not None:
        try:
            package = (globals or {}).get("__package__") or (globals or {}).get("__name__", "")
            absolute = importlib.util.resolve_name("." * level + name, package) if level else name
            for full in (absolute, *(f"{absolute}.{item}" for item in fromlist or ())):
                if full in sys.modules:
                    _recorder.observe_module(sys.modules[full])
        except Exception:  # observing must never break the code under test
            pass
    return module


def _audit(event: str, args: tuple) -> None:
    if _recorder is not None:
        _recorder.audit(event, args)


def _stat_seen(path: Any) -> None:
    if _recorder is not None:
        _recorder.observe_unaudited(path)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if _recorder is None or collection_path.name in _NEVER_HIDDEN:
        return None
    rel = _recorder.relative(str(collection_path))
    return True if rel is not None and rel in _recorder.hidden else None


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    if _recorder is None:
        return (yield)
    rel = _recorder.relative(str(collector.path)) if isinstance(collector, pytest.File) else None
    previous = _recorder.current
    if rel is not None:
        _recorder.current = rel
    try:
        report = yield
    finally:
        _recorder.current = previous
    if isinstance(collector, pytest.File):
        _recorder.write({"event": "file", "path": rel, "nodeid": collector.nodeid})
    if report.failed:
        _recorder.write({"event": "collect_error", "nodeid": report.nodeid, "path": rel,
                         "message": str(report.longrepr)[-2000:]})
    return report


def pytest_itemcollected(item: pytest.Item) -> None:
    if _recorder is not None:
        _recorder.write({"event": "item", "nodeid": item.nodeid, "path": _recorder.relative(str(item.path))})


def pytest_deselected(items: list[pytest.Item]) -> None:
    if _recorder is not None:
        _recorder.write({"event": "deselected", "nodeids": [item.nodeid for item in items]})


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Re-runs keep only a file's failed nodes; when one of them no longer exists (a renamed
    test, a parameter id that changes between runs), the whole file runs instead."""
    if _recorder is None or not _recorder.rerun:
        return
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        rel = _recorder.relative(str(item.path))
        if rel in _recorder.rerun:
            by_file.setdefault(rel, []).append(item)
    drop: list[pytest.Item] = []
    for rel, file_items in by_file.items():
        wanted = _recorder.rerun[rel]
        names = {item.nodeid.partition("::")[2] for item in file_items}
        if wanted <= names:
            drop += [item for item in file_items if item.nodeid.partition("::")[2] not in wanted]
        else:
            _recorder.write({"event": "widened", "path": rel})
    if drop:
        dropped = set(map(id, drop))
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if id(item) not in dropped]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if _recorder is None:
        return (yield)
    previous, _recorder.current = _recorder.current, _recorder.relative(str(item.path))
    doctest = type(item).__name__ == "DoctestItem"
    if doctest:
        builtins.__import__ = _observing_import
    if _tracer is not None:
        _tracer.open(("item", _recorder.current))
    try:
        return (yield)
    finally:
        if _tracer is not None:
            _tracer.close_item(_recorder.current, item.nodeid)
        _recorder.current = previous
        if doctest:
            builtins.__import__ = _original_import


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any):
    if _tracer is None or not _tracer.windows:
        return (yield)
    _tracer.open(("fixture", fixturedef.argname))
    try:
        return (yield)
    finally:
        _tracer.close_fixture(fixturedef.argname)


_original_getfixturevalue = pytest.FixtureRequest.getfixturevalue
_original_finish = FixtureDef.finish


def _tracing_finish(self: Any, request: Any) -> None:
    """A fixture's teardown runs in whichever test's window ends its scope (a session fixture's in
    the last test's, which may not use it): what it runs counts for the fixture's users too."""
    if _tracer is None or not _tracer.windows:
        return _original_finish(self, request)
    _tracer.open(("fixture", self.argname))
    try:
        return _original_finish(self, request)
    finally:
        _tracer.close_fixture(self.argname)


_original_addfinalizer = Node.addfinalizer


def _owned_addfinalizer(self: Any, fin: Any) -> None:
    _original_addfinalizer(self, _tracer.owned(fin) if _tracer is not None else fin)


def _noting_getfixturevalue(self: Any, argname: str) -> Any:
    """Every fixture a test uses, asked by name or not, set up now or earlier: pytest asks for
    each one through here."""
    if _tracer is not None and _tracer.windows:
        _tracer.windows[-1].fixtures.add(argname)
    return _original_getfixturevalue(self, argname)


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo) -> None:
    # pytest.exit() ends the session here as Ctrl-C does, with whatever status it was given (0 too):
    # the session still "finishes", so this is the only sign that it stopped early.
    if _recorder is not None:
        _recorder.write({"event": "interrupted", "why": f"{excinfo.typename}: {excinfo.value}"[:500]})


def pytest_collectreport(report: pytest.CollectReport) -> None:
    # Under xdist the controller collects nothing: it hears of a worker's failed collection, and of workers
    # that collected different tests, only here (elsewhere the collect report wrapper above wrote it).
    if _recorder is not None and _recorder.distributed and report.failed:
        _recorder.write({"event": "collect_error", "nodeid": report.nodeid, "path": None,
                         "message": str(report.longrepr)[-2000:]})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodeready(node: Any) -> None:
    # xdist's controller: a worker started and is ready for tests. Those are the workers that ran.
    if _recorder is not None:
        _recorder.write({"event": "worker_ready", "id": str(node.gateway.id), "time": time.time()})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    # A worker finished or crashed (xdist may start another in its place, under a new id).
    if _recorder is not None:
        _recorder.write({"event": "worker_down", "id": str(node.gateway.id)})


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    # Under xdist the controller hears of each test a worker starts.
    if _recorder is not None and _recorder.is_controller and not _recorder.first_test_seen:
        _recorder.first_test_seen = True
        _recorder.write({"event": "first_test", "time": time.time()})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Under xdist, workers send their reports to the controller, which sees them all.
    if _recorder is not None and _recorder.is_controller:
        _recorder.write({
            "event": "test", "nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
            "duration": report.duration, "xfail": hasattr(report, "wasxfail"),
        })


def pytest_warning_recorded(warning_message: Any, when: str, nodeid: str, location: Any) -> None:
    # Under xdist the controller hears of every worker's warnings through this hook as well.
    event = {"event": "warning", "when": when, "nodeid": nodeid,
             "category": getattr(warning_message.category, "__name__", ""),
             "message": str(warning_message.message)[:500]}
    if _recorder is None:
        if _early_warnings is not None:
            _early_warnings.append(event)
    elif _recorder.is_controller:
        _recorder.write(event)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _recorder
    if _recorder is None:
        return
    if _tracer is not None:
        _tracer.stop()
        write_executed(_tracer, _recorder.executed, _recorder.write, _recorder.quiet)
    _recorder.write({"event": "finish", "exitstatus": int(exitstatus), "time": time.time(),
                     "counts": final_line_counts(session.config)})
    stream, _recorder.stream = _recorder.stream, None
    if stream is not None:
        stream.close()
