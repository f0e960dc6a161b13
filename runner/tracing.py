"""Which functions each test ran, seen by a trace function in the pytest process.

A trace function that Python calls once per frame (it returns no local tracer, so no line
events) notes each code object into the set of the window open at the time: a test item's run
(setup, call and teardown), or a fixture's setup, whose code counts for every later test that
uses that fixture (a session fixture is set up once, in the first test's window). Code that runs
while a module is imported (module-level code, and what it calls), or outside any test, counts
for every test: a module is imported once per process, by whichever test came first, and every
later test depends on what that import did.

A window's record is incomplete (`broken`, with the reason) when something ran code the trace
function could not see: a child process, another trace function in its place (coverage, a
debugger), or a compiler that runs functions without their frames (numba, torch.compile)."""

from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable

TRACE_VARIABLE = "DOIT_SCOUT_TRACE"  # "1": the pytest plugin traces from its import on
# Modules that run a Python function's code without a Python frame of it.
_FRAMELESS_COMPILERS = ("numba", "torch._dynamo")


class Window:
    def __init__(self) -> None:
        self.code: set[CodeType] = set()
        self.sources: set[str] = set()  # project .py files code read as text (inspect.getsource)
        self.fixtures: set[str] = set()
        self.broken: str | None = None


class ExecutedCodeTracer:
    def __init__(self) -> None:
        self.session = Window()
        self.windows: list[Window] = []
        self.fixtures: dict[str, Window] = {}
        self._imports = 0

    def start(self) -> None:
        sys.settrace(self._call)
        threading.settrace(self._call)

    def stop(self) -> None:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]

    def _call(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        code = frame.f_code
        if code.co_name == "<module>":
            self._imports += 1
            frame.f_trace_lines = False
            return self._module_event
        (self.windows[-1] if self.windows and not self._imports else self.session).code.add(code)
        return None

    def _module_event(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        if event == "return":
            self._imports -= 1
        return self._module_event

    @property
    def current(self) -> Window:
        return self.windows[-1] if self.windows and not self._imports else self.session

    def open(self) -> None:
        self.windows.append(Window())

    def close(self) -> Window:
        """The window that ends, with what the windows it held saw; the enclosing window sees it too."""
        window = self.windows.pop()
        window.code = set(tuple(window.code))  # from now on only this thread reads it
        if sys.gettrace() != self._call:
            window.broken = window.broken or "another trace function replaced doit-scout's (coverage, a debugger)"
        loaded = next((m for m in _FRAMELESS_COMPILERS if m in sys.modules), None)
        if loaded:
            window.broken = window.broken or f"{loaded} may run functions without their frames"
        if self.windows:
            outer = self.windows[-1]
            outer.code |= window.code
            outer.sources |= window.sources
            outer.fixtures |= window.fixtures
            outer.broken = outer.broken or window.broken
        return window

    def close_fixture(self, name: str) -> None:
        window = self.close()
        known = self.fixtures.setdefault(name, Window())
        known.code |= window.code
        known.sources |= window.sources
        known.broken = known.broken or window.broken

    def with_fixtures(self, window: Window) -> Window:
        """`window` with what setting up the fixtures it used ran, whenever that was."""
        for name in window.fixtures:
            known = self.fixtures.get(name)
            if known is not None:
                window.code |= known.code
                window.sources |= known.sources
                window.broken = window.broken or known.broken
        return window

    def child_started(self, what: str) -> None:
        """A child process runs code no trace function here sees."""
        window = self.current
        window.broken = window.broken or f"a test started a child process ({what})"


def code_unit(qualname: str) -> str | None:
    """The function or method a code object belongs to, by the name analyzers.symbols gives
    bodies (`f.<locals>.g` is part of `f`); None for module-level and class-level code
    (a lambda or comprehension there), which is no function body."""
    head = qualname.split(".<locals>.", 1)[0]
    return None if "<" in head else head
