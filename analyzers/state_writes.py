"""Which function bodies may leave state behind them for a later test to read.

A test can read what an earlier test's call left in the process (a module-level dict it filled, an
attribute of a shared object, a registry, a memo) without running the code that left it: so what
ran before a test counts for it (doit_scout.executed). Only a body that writes somewhere that
outlives its call can leave anything: through an attribute or an item of an object it did not make
(`self.x = ...`, `REGISTRY[k] = ...`, `shared.append(...)`), a `global` or `nonlocal` name, or a
call that changes state outside the program's objects (`setattr`, `os.chdir`, `heapq.heappush`, a
thread started). A body that only computes from its arguments and returns (a serializer, a
validator, a formatter) leaves nothing a later test could read, so editing it is an input only of
the tests that ran it.

The test is syntactic and errs toward writing: any store through an attribute or a subscript of
a name the body did not bind to a new container, any call of a method that mutates the built-in
containers or runs code later (`start`, `submit`, `register`), and the calls named below. Calls of
project code are judged by the callee's own body, which the trace records when it runs."""

from __future__ import annotations

import ast
from typing import Iterable

# Methods that change the object they are called on (containers, files, queues, loggers, locks,
# generators, databases), or make code run later (threads, executors, event loops, hooks).
MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "remove", "pop", "popitem", "popleft", "appendleft", "extendleft",
    "rotate", "clear", "update", "setdefault", "add", "discard", "difference_update",
    "intersection_update", "symmetric_difference_update", "sort", "reverse", "move_to_end",
    "__setitem__", "__delitem__", "__setattr__", "__delattr__", "__set__", "__delete__", "__next__",
    "__enter__", "__exit__", "write", "writelines", "seek", "truncate", "flush", "put", "put_nowait",
    "send", "throw", "start", "submit", "map_async", "apply_async", "register", "unregister", "set",
    "setLevel", "addHandler", "removeHandler", "addFilter", "removeFilter", "setFormatter", "acquire",
    "release", "cache_clear", "push", "enter_context", "callback", "seed", "shuffle", "execute",
    "executemany", "executescript", "commit", "rollback", "create_task", "ensure_future", "call_soon",
    "call_later", "call_at", "run_until_complete", "set_result", "set_exception", "connect",
})

# Functions (by the last part of their name) that change state outside the objects they return:
# attributes by name, interpreter and process settings, arguments they mutate, code run later.
WRITING_CALLS = frozenset({
    "setattr", "delattr", "exec", "eval", "next", "globals", "vars", "__import__", "import_module",
    "reload", "chdir", "putenv", "unsetenv", "setlocale", "simplefilter", "filterwarnings",
    "resetwarnings", "seed", "shuffle", "signal", "setrecursionlimit", "setdefaulttimeout",
    "start_new_thread", "settrace", "setprofile", "basicConfig", "disable", "captureWarnings",
    "register", "set_event_loop", "setcontext", "heappush", "heappop", "heapify", "heapreplace",
    "heappushpop", "insort", "insort_left", "insort_right", "setitem", "delitem", "iadd", "copyto",
    "install", "addLevelName", "setLoggerClass", "set_start_method", "atexit",
})

# Calls that make a new container: storing into one the body made is no state of anyone else.
_NEW_CONTAINERS = frozenset({"dict", "list", "set", "bytearray", "defaultdict", "OrderedDict", "Counter", "deque"})
_NEW_VALUES = (ast.Dict, ast.List, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp)


def state_writers(functions: Iterable[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]) -> frozenset[str]:
    """The qualified names (`Class.method`) among `functions` whose body may leave state behind:
    one defined twice (a property's getter and setter) does when any of its bodies does."""
    return frozenset(qualname for qualname, function in functions if may_leave_state(function))


# Methods that set up the object they are called on: their attribute stores on it make a new
# object, which outlives the call only where a caller keeps it (and that caller is the writer).
_INITIALIZERS = frozenset({"__init__", "__new__", "__post_init__", "__attrs_post_init__", "__setstate__"})


def may_leave_state(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the body (functions nested in it included: they are part of it) may write
    somewhere that outlives the call."""
    fresh = _new_containers(function)
    if function.name in _INITIALIZERS and function.args.args:
        fresh = fresh | {f"{function.args.args[0].arg}."}
    for node in ast.walk(ast.Module(body=function.body, type_ignores=[])):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            return True
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target] if not isinstance(node, ast.AnnAssign) or node.value is not None else []
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            targets = [node.target]
        elif isinstance(node, ast.withitem):
            targets = [node.optional_vars] if node.optional_vars is not None else []
        elif isinstance(node, ast.Call):
            if _writing_call(node.func, fresh):
                return True
            continue
        else:
            continue
        if any(_writes_through(target, fresh) for target in targets):
            return True
    return False


def _writes_through(target: ast.expr, fresh: set[str]) -> bool:
    """Whether assigning to `target` stores into an object the body did not make."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return any(_writes_through(t, fresh) for t in target.elts)
    if isinstance(target, ast.Starred):
        return _writes_through(target.value, fresh)
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and f"{target.value.id}." in fresh:
        return False  # `self.x = ...` in an initializer
    if isinstance(target, (ast.Attribute, ast.Subscript)):
        return not _made_here(target.value, fresh)
    return False  # a plain name: a local of the call


def _writing_call(func: ast.expr, fresh: set[str]) -> bool:
    if isinstance(func, ast.Attribute):
        if func.attr in MUTATING_METHODS and not _made_here(func.value, fresh):
            return True
        return func.attr in WRITING_CALLS
    return isinstance(func, ast.Name) and func.id in WRITING_CALLS


def _made_here(expr: ast.expr, fresh: set[str]) -> bool:
    """Whether `expr` is a container the body made: a name it bound only to one (what that
    container holds may be anyone's, so `made[k].append(x)` writes)."""
    return isinstance(expr, ast.Name) and expr.id in fresh


def _new_containers(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Local names the body binds only to a container or value it makes itself (never to an
    argument or anything it was handed or looked up)."""
    made: set[str] = set()
    other: set[str] = {a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)}
    other |= {a.arg for a in (function.args.vararg, function.args.kwarg) if a is not None}
    for node in ast.walk(ast.Module(body=function.body, type_ignores=[])):
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            (made if _is_new(node.value) else other).update(names)
            other.update(n.id for t in node.targets if not isinstance(t, ast.Name)
                         for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            pass  # counted by the statement that binds it, below
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.comprehension, ast.withitem,
                               ast.NamedExpr)):
            target = getattr(node, "target", None) or getattr(node, "optional_vars", None)
            if target is not None:
                other.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            other.update(node.names)
    return made - other


def _is_new(value: ast.expr) -> bool:
    if isinstance(value, _NEW_VALUES):
        return True
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in _NEW_CONTAINERS
