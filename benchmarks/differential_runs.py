"""Operations of the differential check (benchmarks/differential.py) that change how doit runs, not
only what the project holds, and the path-probe test file of the generated project.

- `--lf` in the project's addopts (`toggle_lf`), or `doit test -- --lf` after an edit (`lf_run`);
- `doit forget test`, then `doit test --shard 1/2` and `--shard 2/2` (`forget_shards`): the two
  shards together are judged, as one run;
- `doit test --all -- -k EXPR` after an edit, then a plain `doit` (`k_all`);
- undo after a red run (`undo_after_red`): break something, `doit` (red), put back the last content
  that was green by construction, `doit` again;
- tests/test_probe.py: a module lookup that tries `pkg/m0.py/__init__.py` (NotADirectoryError) before
  `pkg/m0.py`, and checks of a data file's size (`os.stat`) and a flag file's existence
  (`os.path.exists`), which nothing opens (`break_probe_size`, `break_probe_flag`).

A narrowed run (`-k`, `--lf` after `--`) is not judged against the oracle: it may rightly be green
while the suite is red. The plain `doit` after it is, and a crash in any run counts.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from benchmarks.differential import Model, Project

PROBED = "m0"          # every seed has plain modules m0, m1, ...: the one the probe looks up
BLOB_SIZE = 24         # bytes of tests/testdata/blob.dat when nothing is broken


@dataclass
class Invocation:
    args: tuple[str, ...] = ()     # after `python -m doit`
    judged: bool = True            # its exit status is compared with the oracle's
    narrowed: bool = False         # -k / --lf: exit 5 (nothing selected) is no crash

    def command(self) -> str:
        return " ".join(("doit", *self.args))


@dataclass
class Phase:
    """doit invocations on one content; `edit` (model change and sync) comes first."""
    invocations: list[Invocation] = field(default_factory=lambda: [Invocation()])
    edit: Callable[[], None] | None = None


PLAIN_RUN = [Phase()]


# ---------------------------------------------------------------------------------------------
# The path-probe test file
# ---------------------------------------------------------------------------------------------

PROBE_TEST = '''\
"""Probes paths without reading them: a module lookup through a file, os.stat and os.path.exists."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "testdata"


def locate(name):
    """The first of pkg/<name>.py/__init__.py, pkg/<name>/__init__.py, pkg/<name>.py that opens."""
    for candidate in (ROOT / "pkg" / f"{{name}}.py" / "__init__.py", ROOT / "pkg" / name / "__init__.py",
                      ROOT / "pkg" / f"{{name}}.py"):
        try:
            with open(candidate, "rb"):
                return candidate
        except (FileNotFoundError, NotADirectoryError):
            continue
    return None


def test_module_lookup_through_a_file():
    through = ROOT / "pkg" / "{probed}.py" / "__init__.py"
    assert not os.path.exists(through)
    try:
        os.stat(through)
    except NotADirectoryError:
        pass
    assert locate("{probed}") == ROOT / "pkg" / "{probed}.py"


def test_data_file_size():
    assert os.stat(DATA / "blob.dat").st_size == {size}
    assert os.path.getsize(DATA / "blob.dat") == {size}


def test_no_stop_flag():
    assert not os.path.exists(DATA / "stop.flag")
'''


def render_probe(model: Model) -> dict[str, str]:
    """tests/test_probe.py and the data files it only stats."""
    files = {
        "tests/test_probe.py": PROBE_TEST.format(probed=PROBED, size=BLOB_SIZE),
        "tests/testdata/blob.dat": "x" * (BLOB_SIZE - 1 + (1 if model.probe_size_broken else 0)) + "\n",
    }
    if model.probe_flag_broken:
        files["tests/testdata/stop.flag"] = "stop\n"
    return files


def break_probe_size(model: Model, rng: random.Random) -> str | None:
    if model.probe_size_broken:
        return None
    model.probe_size_broken = True
    return "break tests/testdata/blob.dat (one byte more: only os.stat sees it)"


def break_probe_flag(model: Model, rng: random.Random) -> str | None:
    if model.probe_flag_broken:
        return None
    model.probe_flag_broken = True
    return "create tests/testdata/stop.flag (only os.path.exists sees it)"


def probe_items(model: Model) -> list[tuple[str, Callable[[], None]]]:
    items: list[tuple[str, Callable[[], None]]] = []
    if model.probe_size_broken:
        items.append(("fix tests/testdata/blob.dat (its size)", lambda: setattr(model, "probe_size_broken", False)))
    if model.probe_flag_broken:
        items.append(("delete tests/testdata/stop.flag", lambda: setattr(model, "probe_flag_broken", False)))
    return items


def toggle_lf(model: Model, rng: random.Random) -> str | None:
    model.lf = not model.lf
    return "add --lf to the project's addopts" if model.lf else "remove --lf from the project's addopts"


# ---------------------------------------------------------------------------------------------
# Operations that run doit otherwise: (project, rng) -> (description, phases), or None
# ---------------------------------------------------------------------------------------------


def _content_op(project: Project, rng: random.Random) -> str:
    """An ordinary edit of the project (break, fix, edit, add, delete), drawn as any operation is."""
    from benchmarks.differential import choose_op

    while True:
        _, op = choose_op(project.model, rng)
        if callable(op):
            description = op(project.model, rng)
            if description is not None:
                project.sync()
                return description


def _k_expression(model: Model, rng: random.Random) -> str:
    names = sorted({f.name for _, f in model.all_funcs()})
    kind = rng.choice(["func", "not func", "file", "case"])
    if kind == "func":
        return rng.choice(names)
    if kind == "not func":
        return f"not {rng.choice(names)}"
    if kind == "file":
        return rng.choice([t.name for t in model.tests] + ["test_probe"])
    return rng.choice([c.name for c in model.cases]) if model.cases else "case"


def _described(edit: str, phases: list[Phase]) -> str:
    runs = "; ".join(inv.command() for phase in phases for inv in phase.invocations)
    return f"{edit}; then {runs}"


def k_all(project: Project, rng: random.Random) -> tuple[str, list[Phase]]:
    edit = _content_op(project, rng)
    expression = _k_expression(project.model, rng)
    phases = [Phase([Invocation(("test", "--all", "--", "-k", expression), judged=False, narrowed=True),
                     Invocation()])]
    return _described(edit, phases), phases


def lf_run(project: Project, rng: random.Random) -> tuple[str, list[Phase]]:
    edit = _content_op(project, rng)
    phases = [Phase([Invocation(("test", "--", "--lf"), judged=False, narrowed=True), Invocation()])]
    return _described(edit, phases), phases


def forget_shards(project: Project, rng: random.Random) -> tuple[str, list[Phase]]:
    phases = [Phase([Invocation(("forget", "test"), judged=False), Invocation(("test", "--shard", "1/2")),
                     Invocation(("test", "--shard", "2/2"))])]
    return _described("nothing edited", phases), phases


def undo_after_red(project: Project, rng: random.Random) -> tuple[str, list[Phase]] | None:
    from benchmarks.differential import BREAKS

    green = project.last_green
    if green is None:
        return None
    breaks = sorted(BREAKS)
    while True:
        broke = BREAKS[rng.choice(breaks)](project.model, rng)
        if broke is not None:
            break
    project.sync()

    def revert() -> None:
        project.model = copy.deepcopy(green)
        project.sync()

    phases = [Phase(), Phase(edit=revert)]
    return f"{broke}; then doit (red); then put back the last green content; then doit", phases


RUNS: dict[str, tuple[float, Callable[[Project, random.Random], tuple[str, list[Phase]] | None]]] = {
    "k_all": (1.5, k_all),
    "lf_run": (1.5, lf_run),
    "forget_shards": (1.5, forget_shards),
    "undo_after_red": (1.5, undo_after_red),
}
