"""What the trace of one pytest process saw, written to its report at the session's end
(doit_scout.tracing; read back by doit_scout.execution)."""

from __future__ import annotations

from typing import Callable, Collection

from doit_scout.tracing import DOC_SUFFIX, ENVIRON, ExecutedCodeTracer, Window


def write_executed(tracer: ExecutedCodeTracer, names: Callable[[Window], list[str]],
                   write: Callable[[dict], None], quiet: Collection[str] = frozenset()) -> None:
    """Written when every fixture has been torn down: a teardown runs in the window of the test
    that ends its scope, after its users' windows closed. What ran before each file's last test,
    and before each item ended, is a prefix of one log, in the order the code first ran, of the
    windows that may have left state behind: those that ran code not among `quiet` (the bodies
    that write nothing that outlives their call, analyzers.state_writes; reading an environment
    variable or a docstring writes nothing). What a window where
    only quiet code ran computed went back to its caller, and is gone when its test ends."""
    log: dict[str, None] = {}
    marks = [0]
    for window in tracer.closed:
        ran = names(window)
        if any(name not in quiet and not name.startswith(ENVIRON + "::") and not name.endswith(DOC_SUFFIX)
               for name in ran):
            log.update(dict.fromkeys(ran))
        marks.append(len(log))
    write({"event": "executed_log", "code": list(log)})
    for path, window, end in tracer.items_with_fixtures():
        write({"event": "executed", "path": path, "code": names(window), "before": marks[end],
               "broken": window.broken})
    for node, window, end in tracer.nodes_with_fixtures():
        write({"event": "executed_item", "nodeid": node, "code": names(window), "before": marks[end],
               "broken": window.broken})
    write({"event": "executed_session", "code": names(tracer.session), "broken": tracer.session.broken,
           "tracer": tracer.kind})
