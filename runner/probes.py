"""How doit_scout.tracing sees each call: a probe notes every code object called into the
destination the tracer sets (the open window's code dict), or into the session's while a module
is being imported, and hands the few calls that say more than that they ran to the tracer.

Two probes behind one interface; DOIT_SCOUT_TRACER=c|python chooses, by default the C one when
the extension doit_scout._ctracer imports (setup.py builds it where a compiler is); `c-profile`
makes the C probe a profile function where it would be a frame evaluator (so that tests cover it):

- "c": on CPython 3.11, a frame evaluation function (PEP 523): one for the whole interpreter, so
  every thread's frames; it leaves the specializing interpreter on, which a trace or profile
  function turns off (a profile function that does nothing costs 1.4x-1.5x on call-heavy tests,
  this probe about 1.1x), and sys.settrace and sys.setprofile leave it in place, so coverage, a
  debugger or a profiler hide nothing from it; what can displace it is another frame evaluator (a
  JIT such as torch.compile). Elsewhere, a C profile function (PyEval_SetProfile): call and return
  events, never line events, with sys.setprofile (a profiler) as what can displace it.
- "python": a Python trace function (sys.settrace), for where the extension is not built. What
  can displace it: another trace function (coverage, a debugger), so sys.settrace is watched.

Threads started by threading and by _thread are probed as the thread that starts them."""

from __future__ import annotations

import _thread
import linecache
import os
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Protocol

TRACER_VARIABLE = "DOIT_SCOUT_TRACER"
# Code whose call says more than that it ran. Every read of os.environ (`[]`, `.get`, `in`,
# os.getenv) goes through _Environ.__getitem__; source read as text through linecache
# (inspect.getsource, after the first reader opened the file); multiprocessing's spawn and
# forkserver start methods start processes with no audit event.
ENVIRON_READ = os._Environ.__getitem__.__code__
ENVIRON_SCAN = os._Environ.__iter__.__code__  # `.items()`, `dict(os.environ)`: every name, set or not
LINES_READ = linecache.getlines.__code__
PROCESS_STARTERS = frozenset({"spawnv_passfds", "connect_to_new_process"})

_settrace = sys.settrace
_setprofile = sys.setprofile
_start_new_thread = _thread.start_new_thread

try:
    from doit_scout import _ctracer  # type: ignore[attr-defined]
except ImportError:  # built without a compiler: the Python probe runs
    _ctracer = None  # type: ignore[assignment]

Code = dict[int, CodeType]
# (code, its frame, or None: then the caller's frame is the callback's caller's, and its first two locals)
OnSpecial = Callable[[CodeType, "FrameType | None", Any, Any], None]


class Probe(Protocol):
    kind: str  # "c", "c-profile" or "python"
    watched: str  # the audit event of a call that can take the probe's place ("": none can)
    function: str  # what the probe is, and what can take its place (the record says so)
    replacers: str
    setting: bool  # the probe itself makes that call now (the audit hook asks)

    @property
    def imports(self) -> int: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def set_target(self, code: Code) -> None: ...
    def installed(self) -> bool: ...
    def skip_files(self, skip: tuple[str, ...], keep: tuple[str, ...]) -> None: ...


def tracer_choice() -> str:
    """The probe DOIT_SCOUT_TRACER names, by default the C one where it is built."""
    choice = os.environ.get(TRACER_VARIABLE, "") or ("c" if _ctracer is not None else "python")
    if choice in ("c", "c-profile") and _ctracer is None:
        raise ValueError(f"{TRACER_VARIABLE}=c, but doit_scout._ctracer is not built: reinstall doit-scout "
                         f"where a C compiler is (pip install --force-reinstall doit-scout), or unset "
                         f"{TRACER_VARIABLE} to use the Python tracer")
    if choice not in ("c", "c-profile", "python"):
        raise ValueError(f"{TRACER_VARIABLE}={choice!r} is not a tracer: use c or python (or unset it)")
    return choice


def costs_little(kind: str | None) -> bool:
    """Whether recording with the probe `kind` costs little beside the tests' own time: the frame
    evaluator, which is what "c" is on CPython 3.11 (about a tenth of plain pytest's time on
    call-heavy suites); a profile or trace function turns the specialising interpreter off."""
    return kind == "c" and sys.version_info[:2] == (3, 11)


def make_probe(session: Code, on_special: OnSpecial, on_foreign: Callable[[], None]) -> Probe:
    """The probe tracer_choice() names. `on_special` gets the frame of a call of one of the code
    objects above, `on_foreign` hears of code setting another function in the probe's place."""
    choice = tracer_choice()
    if choice != "python":
        return CProbe(session, on_special, on_foreign, profile=choice == "c-profile")
    return PythonProbe(session, on_special, on_foreign)


class _Switching:
    """What both probes do around their hot path: put it in place (threads included), take it away."""
    kind = watched = function = replacers = ""
    per_thread = True  # each thread's is set on its own (a trace or profile function)

    def __init__(self, on_foreign: Callable[[], None]) -> None:
        self.on_foreign = on_foreign
        self.setting = False

    def _install(self, on: bool) -> None:
        raise NotImplementedError

    def _this_thread(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._switch(True)

    def stop(self) -> None:
        self._switch(False)

    def _switch(self, on: bool) -> None:
        self.setting = True
        try:
            self._install(on)
            # threading's own hook reaches threading's threads only: a raw _thread's is set here
            if self.per_thread:
                _thread.start_new_thread = self._probed_thread if on else _start_new_thread
        finally:
            self.setting = False

    def _probed_thread(self, function: Callable, args: tuple, kwargs: dict | None = None) -> int:
        def run(*args: Any, **kwargs: Any) -> Any:
            self._this_thread()
            return function(*args, **kwargs)
        return _start_new_thread(run, args, kwargs or {})


class PythonProbe(_Switching):
    kind, watched = "python", "sys.settrace"
    function, replacers = "trace function", "coverage, a debugger"

    def __init__(self, session: Code, on_special: OnSpecial, on_foreign: Callable[[], None]) -> None:
        super().__init__(on_foreign)
        self.session = self.target = session
        self.on_special = on_special
        self.imports = 0  # type: ignore[misc]

    def set_target(self, code: Code) -> None:
        self.target = code

    def skip_files(self, skip: tuple[str, ...], keep: tuple[str, ...]) -> None:
        """Nothing here: the fallback notes all code (what no project file holds is named nowhere)."""

    def installed(self) -> bool:
        return sys.gettrace() == self._call

    def _install(self, on: bool) -> None:
        function = self._call if on else None
        _settrace(function)
        threading.settrace(function)  # type: ignore[arg-type]
        sys.settrace = self._guarded_settrace if on else _settrace  # type: ignore[assignment]

    def _this_thread(self) -> None:
        self.setting = True
        try:
            _settrace(self._call)
        finally:
            self.setting = False

    def _guarded_settrace(self, function: Callable | None) -> None:
        """sys.settrace while tracing: putting this tracer back where it already is (doctest
        restores the trace function it found) hides nothing; any other function does."""
        if function != self._call:
            self.on_foreign()
        self.setting = True
        try:
            _settrace(function)
        finally:
            self.setting = False

    def _call(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        code = frame.f_code
        name = code.co_name
        if name == "<module>":
            self.imports += 1
            frame.f_trace_lines = False
            return self._module_event
        (self.session if self.imports else self.target)[id(code)] = code
        if code is ENVIRON_READ or code is ENVIRON_SCAN or code is LINES_READ or name in PROCESS_STARTERS:
            self.on_special(code, frame, None, None)
        return None

    def _module_event(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        if event == "return":
            self.imports -= 1
        return self._module_event


class CProbe(_Switching):
    """The C probe: on CPython 3.11 a frame evaluation function (PEP 523), one for every thread,
    that no sys.settrace or sys.setprofile call displaces; elsewhere a profile function."""
    def __init__(self, session: Code, on_special: OnSpecial, on_foreign: Callable[[], None],
                 profile: bool = False) -> None:
        super().__init__(on_foreign)
        self._probe = _ctracer.Probe(session, (ENVIRON_READ, ENVIRON_SCAN, LINES_READ), PROCESS_STARTERS, on_special)
        # "c-profile": the profile function where the frame evaluator would run (to test it there)
        self.per_thread = profile or not _ctracer.EVAL_FRAME
        self.kind = "c-profile" if profile else "c"
        if self.per_thread:
            self.watched, self.function, self.replacers = "sys.setprofile", "profile function", "a profiler"
        else:
            self.function, self.replacers = "frame evaluation function", "a JIT compiler, a debugger"

    @property
    def imports(self) -> int:
        return int(self._probe.imports)

    def set_target(self, code: Code) -> None:
        self._probe.set_target(code)

    def skip_files(self, skip: tuple[str, ...], keep: tuple[str, ...]) -> None:
        """From now on, code first called from a file under one of `skip` and none of `keep`, or
        from no `.py` file, is not noted."""
        self._probe.skip_files(skip, keep)

    def installed(self) -> bool:
        return sys.getprofile() is self._probe if self.per_thread else bool(self._probe.installed_all())

    def _install(self, on: bool) -> None:
        if not self.per_thread:
            self._probe.start_all() if on else self._probe.stop_all()
            return
        if on:
            self._probe.start()
        elif self.installed():  # not another's, installed since (the window then says so)
            self._probe.stop()
        threading.setprofile(self._thread_hook if on else None)  # type: ignore[arg-type]
        sys.setprofile = self._guarded_setprofile if on else _setprofile  # type: ignore[assignment]

    def _this_thread(self) -> None:
        self.setting = True
        try:
            self._probe.start()
        finally:
            self.setting = False

    def _thread_hook(self, frame: FrameType, event: str, arg: Any) -> None:
        """threading's profile hook: the first event of a new thread puts the C probe in its place."""
        self._this_thread()
        if event == "call":
            self._probe.enter(frame)

    def _guarded_setprofile(self, function: Callable | None) -> None:
        """sys.setprofile while probing: putting the probe back (sys.getprofile() gives it)
        hides nothing; any other function, or none, does."""
        if function is self._probe or function == self._thread_hook:  # (threading's new thread sets its hook)
            self._this_thread()
            return
        self.on_foreign()
        self.setting = True
        try:
            _setprofile(function)
        finally:
            self.setting = False
