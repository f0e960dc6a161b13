"""Which functions each test ran, seen by a probe in the pytest process.

The probe (doit_scout.probes: a C frame evaluation function or profile function, or a Python
trace function where the C extension is not built) notes each code object called, a resumed generator's included, into the
set of the window open at the time: a test item's run
(setup, call and teardown), or a fixture's setup, whose code counts for every later test that
uses that fixture (a session fixture is set up once, in the first test's window). Code that runs
while a module is imported (module-level code, and what it calls), or outside any test, counts
for every test: a module is imported once per process, by whichever test came first, and every
later test depends on what that import did. A function's docstring is no code it runs: each
window notes apart the functions whose `__doc__` was read (_WatchedDoc).

A window's record is incomplete (`broken`, with the reason) when something ran code the probe
could not see: a child process, another function in its place (doit_scout.probes says which can
take it), or a compiler that runs functions without their frames (numba, torch.compile)."""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import os
import posix
import sys
import sysconfig
from types import CodeType, FrameType, FunctionType
from typing import Any, Callable, Iterator

from doit_scout.probes import ENVIRON_READ, ENVIRON_SCAN, LINES_READ, PROCESS_STARTERS, make_probe

TRACE_VARIABLE = "DOIT_SCOUT_TRACE"  # "1": the pytest plugin traces from its import on
# What a test's runs read, besides function bodies (`path::qualname`): `path::*`, a whole file
# (code read it as text), and `<environ>::NAME`, an environment variable its code read.
WHOLE_FILE = "*"
LITERALS = "<literals>"  # `path::<literals>`: the module's constants (analyzers.literals)
DOC_SUFFIX = ".__doc__"  # `path::qualname.__doc__`: a function's docstring, read
ENVIRON = "<environ>"
ENVIRON_ALL = "*"  # `<environ>::*`: code went through every variable (os.environ.items())
# Modules that run a Python function's code without a Python frame of it.
_FRAMELESS_COMPILERS = ("numba", "torch._dynamo")
# The frames between an environ read and its reader (frozen modules from Python 3.11 on).
_MAPPING_FILES = ("os.py", "_collections_abc.py", "<frozen os>", "<frozen _collections_abc>")


class Window:
    def __init__(self, owner: tuple[str, str | None] | None = None) -> None:
        # ("item", test file) or ("fixture", name): what the window's code counts for.
        self.owner = owner
        # id -> code object: hashing a code object hashes its contents, an id costs a quarter of
        # that on every call traced; the value keeps the object, so its id stays its own.
        self.code: dict[int, CodeType] = {}
        self.sources: set[str] = set()  # files code read as text (inspect.getsource), absolute
        self.docs: dict[int, CodeType] = {}  # the code of the functions whose `__doc__` was read
        self.fixtures: set[str] = set()
        # Environment variables read, with the file of the code that read them: the path a test
        # takes may depend on them.
        self.environ: set[tuple[str, str]] = set()
        self.broken: str | None = None

    def merge(self, other: "Window") -> None:
        self.code.update(other.code)
        self.docs.update(other.docs)
        self.sources |= other.sources
        self.fixtures |= other.fixtures
        self.environ |= other.environ
        self.broken = self.broken or other.broken


class ExecutedCodeTracer:
    def __init__(self) -> None:
        self.session = Window()
        self.windows: list[Window] = []
        self.fixtures: dict[str, Window] = {}
        self.items: dict[str | None, Window] = {}  # test file -> what its items' windows saw
        # Node id -> its own window, and how many `closed` windows ran before it ended (its own
        # included): each test item's record (doit_scout.item_records).
        self.nodes: dict[str, tuple[Window, int]] = {}
        # Every item's window in the order they closed, and per test file how many had closed
        # when its last item's did: what ran in the process before then may have left state
        # (a cache, a singleton, a memo) that its tests read without running the code that made it.
        self.closed: list[Window] = []
        self.ends: dict[str | None, int] = {}
        self._logged: dict[int, CodeType] = {}
        # The modules whose constants Hypothesis took, whenever it did (analyzers.literals): its
        # pool of values, which every test that draws from it later reads.
        self.pooled: set[str] = set()
        self._drawing: frozenset[int] | None = None
        # What sees the calls (doit_scout.probes: the C profile function or the Python trace
        # function); everything else here is the same whichever it is.
        self.probe = make_probe(self.session.code, self._special, self.foreign)

    @property
    def kind(self) -> str:
        return self.probe.kind

    @property
    def setting_trace(self) -> bool:
        """This tracer itself puts its probe in place (the audit hook asks)."""
        return self.probe.setting

    def start(self) -> None:
        _watch_environ()
        _WatchedEnviron.tracer = self
        _WatchedDoc.tracer = self
        _put_function_doc(_WATCHED_DOC)
        self.probe.start()

    def stop(self) -> None:
        _WatchedEnviron.tracer = None
        _WatchedDoc.tracer = None
        _put_function_doc(_FUNCTION_DOC)
        self.probe.stop()

    def foreign(self) -> None:
        window = self.current
        window.broken = window.broken or f"code set another {self.probe.function}, or paused doit-scout's"

    def _special(self, code: CodeType, frame: FrameType | None, first: object, second: object) -> None:
        """A call of code whose call says more than that it ran (doit_scout.probes), with its frame
        or, before it has one, its first two locals (then its caller is this method's caller)."""
        window = self.current
        caller = frame.f_back if frame is not None else sys._getframe(1)
        if code is ENVIRON_READ:
            self._environ_read(caller, window, frame.f_locals.get("key") if frame is not None else second)
        elif code is ENVIRON_SCAN:
            self._environ_read(caller, window, ENVIRON_ALL)
        elif code is LINES_READ:
            filename = frame.f_locals.get("filename") if frame is not None else first
            if isinstance(filename, str) and not read_by_pytest(caller):
                window.sources.add(os.path.abspath(filename))
        elif code.co_name in PROCESS_STARTERS and "multiprocessing" in code.co_filename:
            window.broken = window.broken or f"a test started a child process (multiprocessing: {code.co_name})"

    @staticmethod
    def _environ_read(reader: FrameType | None, window: Window, key: object) -> None:
        while reader is not None and reader.f_code.co_filename.endswith(_MAPPING_FILES):
            reader = reader.f_back
        if isinstance(key, str) and reader is not None:
            window.environ.add((key, reader.f_code.co_filename))

    def skip_installed_code(self, root: str) -> None:
        """Note no code of the standard library and installed packages (nothing a record names),
        unless the project lies within them; Hypothesis's drawing is noted still (drew)."""
        paths = sysconfig.get_paths()
        installed = {os.path.join(os.path.realpath(paths[k]), "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        installed |= {os.path.join(paths[k], "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        real_root = os.path.join(os.path.realpath(root), "")
        skip = tuple(sorted(p for p in installed if not real_root.startswith(p) and not os.path.join(root, "").startswith(p)))
        loaded = sys.modules.get("hypothesis")
        spec = loaded.__spec__ if loaded is not None else importlib.util.find_spec("hypothesis")
        keep = () if spec is None or not spec.origin else (
            os.path.join(os.path.dirname(spec.origin), *_POOL_DRAWER.split(".")[1:]) + ".py",)
        self.probe.skip_files(skip, keep)

    def drew(self, window: Window) -> bool:
        """Whether `window` ran Hypothesis's generation, which draws from the pool of constants."""
        if self._drawing is None:
            module = sys.modules.get(_POOL_DRAWER)
            if module is None:
                return False
            codes = list(_code_of(module))
            # the function that takes a value from the pool, or, in a Hypothesis without it, any draw
            pool = [c for c in codes if c.co_name == _POOL_READER] or [c for c in codes if "draw" in c.co_name]
            self._drawing = frozenset(map(id, pool))
        return not self._drawing.isdisjoint(window.code.keys())

    @property
    def current(self) -> Window:
        return self.windows[-1] if self.windows and not self.probe.imports else self.session

    def open(self, owner: tuple[str, str | None] | None = None) -> None:
        self.windows.append(Window(owner))
        self.probe.set_target(self.windows[-1].code)

    def close(self) -> Window:
        """The window that ends, with what the windows it held saw; the enclosing window sees it too."""
        window = self.windows.pop()
        self.probe.set_target((self.windows[-1] if self.windows else self.session).code)
        window.code = window.code.copy()  # one C call, no other thread's insert within: from now on only this one reads it
        if not self.probe.installed():
            replaced = f"another {self.probe.function} replaced doit-scout's ({self.probe.replacers})"
            window.broken = window.broken or replaced
        loaded = next((m for m in _FRAMELESS_COMPILERS if m in sys.modules), None)
        if loaded:
            window.broken = window.broken or f"{loaded} may run functions without their frames"
        if self.windows:
            self.windows[-1].merge(window)
        return window

    def close_fixture(self, name: str) -> None:
        """The end of a fixture's setup or teardown: what it ran counts for every test that uses
        the fixture (and, by close(), for the test in whose window it ran), and so do the
        fixtures it asked for by name (getfixturevalue)."""
        self._credit(("fixture", name), self.close())

    def close_item(self, path: str | None, node: str | None = None) -> None:
        window = self.close()
        self._credit(("item", path), window)
        # Only the code no earlier item ran: what `closed` holds grows with the code, not the items.
        new = Window()
        code = window.code
        new.code = {key: code[key] for key in code.keys() - self._logged.keys()}
        new.sources, new.environ, new.docs = window.sources, window.environ, window.docs
        self._logged.update(new.code)
        self.closed.append(new)
        self.ends[path] = len(self.closed)
        if node is not None:
            self.nodes[node] = (window, len(self.closed))

    def _credit(self, owner: tuple[str, str | None], window: Window) -> None:
        kind, name = owner
        if kind == "fixture":
            self.fixtures.setdefault(str(name), Window()).merge(window)
        else:
            self.items.setdefault(name, Window()).merge(window)

    def owned(self, finalizer: Callable[[], object]) -> Callable[[], object]:
        """`finalizer` (given to a node's addfinalizer) run so that its code counts for the
        fixture or the test file that registered it, not only for the test in whose teardown it
        runs (`request.session.addfinalizer` runs in the last test's)."""
        owner = next((w.owner for w in reversed(self.windows) if w.owner), None)
        if owner is None:
            return finalizer

        def run() -> object:
            self.open()
            try:
                return finalizer()
            finally:
                self._credit(owner, self.close())
        return run

    def items_with_fixtures(self) -> Iterator[tuple[str | None, Window, int]]:
        """Each test file's window, with what the fixtures its tests used ran, and how many of
        the `closed` windows ran before its last test ended (its own included)."""
        for path, window in self.items.items():
            yield path, self.with_fixtures(window), self.ends[path]

    def nodes_with_fixtures(self) -> Iterator[tuple[str, Window, int]]:
        """Each test item's own window, with what the fixtures it used ran, and how many of the
        `closed` windows ran before it ended (its own included)."""
        for node, (window, end) in self.nodes.items():
            yield node, self.with_fixtures(window), end

    def with_fixtures(self, window: Window) -> Window:
        """`window` with what setting up the fixtures it used ran, whenever that was, and the
        fixtures those asked for: a cached fixture's setup may have taken another's value from
        the cache, which another test's window set up."""
        pending, seen = list(window.fixtures), set(window.fixtures)
        while pending:
            known = self.fixtures.get(pending.pop())
            if known is None:
                continue
            window.merge(known)
            pending.extend(known.fixtures - seen)
            seen |= known.fixtures
        return window

    def child_started(self, what: str) -> None:
        """A child process runs code no trace function here sees."""
        window = self.current
        window.broken = window.broken or f"a test started a child process ({what})"


# Where Hypothesis draws its generated values, from the constants it took among the rest.
_POOL_DRAWER = "hypothesis.internal.conjecture.providers"
_POOL_READER = "_maybe_draw_constant"


def _code_of(module: Any) -> Iterator[CodeType]:
    """The code objects of the functions and methods `module` defines."""
    for value in vars(module).values():
        functions = vars(value).values() if isinstance(value, type) and value.__module__ == module.__name__ else [value]
        for function in functions:
            function = getattr(function, "fget", function)  # a property's getter
            code = getattr(getattr(function, "__func__", function), "__code__", None)
            if isinstance(code, CodeType) and code.co_filename == module.__file__:
                yield code


class _WatchedEnviron(dict):
    """posix.environ, the dict os.environ and os.environb keep their bytes in: a read of
    os.environb or of posix.environ runs no function the trace function could recognize."""

    tracer: ExecutedCodeTracer | None = None

    def _note(self, key: object) -> None:
        tracer = _WatchedEnviron.tracer
        if tracer is not None and isinstance(key, (str, bytes)):
            # the reader is the caller of the method that called this one
            tracer._environ_read(sys._getframe(2), tracer.current, key if key is ENVIRON_ALL else os.fsdecode(key))

    def __getitem__(self, key: Any) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return super().__contains__(key)

    def __iter__(self) -> Iterator[Any]:
        self._note(ENVIRON_ALL)
        return super().__iter__()

    def keys(self) -> Any:
        self._note(ENVIRON_ALL)
        return super().keys()

    def items(self) -> Any:
        self._note(ENVIRON_ALL)
        return super().items()

    def values(self) -> Any:
        self._note(ENVIRON_ALL)
        return super().values()

    def copy(self) -> dict:
        self._note(ENVIRON_ALL)
        return dict(super().items())


def _watch_environ() -> None:
    """Put a _WatchedEnviron in place of the dict under os.environ, os.environb and posix.environ,
    which on POSIX are one (Windows keeps os.environ's apart, and has no os.environb)."""
    data = getattr(os.environ, "_data", None)
    if os.name != "posix" or data is not posix.environ or isinstance(data, _WatchedEnviron):
        return
    watched = _WatchedEnviron(data)
    os.environ._data = watched  # type: ignore[attr-defined]
    if getattr(os, "environb", None) is not None and os.environb._data is data:  # type: ignore[attr-defined]
        os.environb._data = watched  # type: ignore[attr-defined]
    posix.environ = watched  # type: ignore[misc]


class _WatchedDoc:
    """What `function.__doc__` is while the tracer runs: the function's own docstring, with the
    read noted in the open window. A docstring is no part of the code a test runs, and the only
    way to see it is this attribute: directly, through inspect, pydoc or doctest, or when
    `property`, `staticmethod` or `functools.wraps` copies it (as a module is imported: then it
    counts for every test)."""

    tracer: ExecutedCodeTracer | None = None

    def __get__(self, function: Any, owner: Any = None) -> Any:
        tracer = _WatchedDoc.tracer
        if function is not None and tracer is not None:
            code = function.__code__
            tracer.current.docs[id(code)] = code
        return _FUNCTION_DOC.__get__(function, owner)

    def __set__(self, function: Any, value: Any) -> None:
        _FUNCTION_DOC.__set__(function, value)

    def __delete__(self, function: Any) -> None:
        _FUNCTION_DOC.__delete__(function)


_FUNCTION_DOC = FunctionType.__dict__["__doc__"]
_WATCHED_DOC = _WatchedDoc()


def _put_function_doc(descriptor: Any) -> None:
    """Make `descriptor` what `function.__doc__` looks up. A built-in type's attributes cannot be
    set from Python: its dict is edited, then its caches (the specializing interpreter's too) told."""
    gc.get_referents(FunctionType.__dict__)[0]["__doc__"] = descriptor
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(FunctionType))


_READING_FILES = ("linecache.py", "tokenize.py", "inspect.py", "traceback.py", "pathlib.py")


def read_by_pytest(frame: FrameType | None) -> bool:
    """Whether the code that reads a source file as text (through `frame`, a frame of the reading
    machinery) is pytest's own: it reads test files to report where a test is and to show
    tracebacks, which changes no outcome."""
    for _ in range(12):
        if frame is None:
            return False
        filename = frame.f_code.co_filename
        if not filename.endswith(_READING_FILES) and not filename.startswith("<frozen"):
            return f"{os.sep}_pytest{os.sep}" in filename
        frame = frame.f_back
    return False


def shown_by_pytest(frame: FrameType | None) -> bool:
    """Whether a file is opened (through `frame`) by pytest's rendering of a traceback: compiling
    a failing statement's text, which pytest names `source`, makes Python look for a file of that
    name. What a failure is shown with is no input of the test (an edit that fails and is undone
    would otherwise leave every failed file a new input behind)."""
    for _ in range(12):
        if frame is None:
            return False
        filename = frame.f_code.co_filename
        if not filename.endswith((*_READING_FILES, f"{os.sep}ast.py")) and not filename.startswith("<frozen"):
            return f"{os.sep}_pytest{os.sep}_code{os.sep}" in filename
        frame = frame.f_back
    return False


def code_unit(qualname: str) -> str | None:
    """The function or method a code object belongs to, by the name analyzers.symbols gives
    bodies (`f.<locals>.g` is part of `f`); None for module-level and class-level code
    (a lambda or comprehension there), which is no function body."""
    head = qualname.split(".<locals>.", 1)[0]
    return None if "<" in head else head
