"""How many pytest-xdist workers a run uses: what the user asked, else what the project's own
pytest configuration asks, else what measurements on this machine say pays off.

Who decides, first match wins:

1. `-n`/`--numprocesses` (or `-p no:xdist`) in the pass-through arguments of the command line;
2. the same in `[tool.scout.test] pytest_args`;
3. a debugger (`--pdb`, `--trace`, `--pdbcls`): one process, which it needs;
4. `[tool.scout.test] workers`: 0 or 1 is one process, N >= 2 is xdist with N workers;
5. `-n` in the project's pytest configuration (its ini-file `addopts`, or PYTEST_ADDOPTS): honoured;
6. doit-scout's own choice (`workers = "auto"`, the default), by the rule below.

In cases 1, 2 and 5 doit-scout adds nothing to pytest's command line: pytest's own precedence
applies, and the plugin reports how many workers really ran.

The rule. One process costs the selection's recorded durations W. xdist with n workers costs its
measured overhead E (starting the workers, their collection, stopping them, and more per test)
plus the work slowed down by contention, split n ways: E + s * max(W / n, longest test). xdist
is used only when that is at least MARGIN less than W. W counts only files with a recorded
duration, so a selection of files that never ran (a first run) runs in one process and measures
them. E and s are measured on this machine from real runs (see `MachineCosts`); until xdist has
run here once, conservative priors stand in for them.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from doit_scout.config import TestConfig

# xdist must be predicted to save at least this share of the one-process time: the estimate is
# rough (durations vary from run to run), and a wrong xdist choice costs more than a missed one.
MARGIN = 0.1
# Until xdist has run on this machine: what two workers cost here before any measurement (a
# 4-test suite took 1.9 s in one process and 4 to 6 s with `-n 2` on the shared 2-core machine),
# and how much slower a test runs beside other workers (2 CPU-bound workers on its 2 cores ran
# each test 1.1 to 1.6 times slower than one process did, by the other load on the machine).
PRIOR_EXTRA_SECONDS = 3.0
PRIOR_SLOWDOWN = 1.5
PRIOR_WORKERS = 2
# Recent measurements kept per project and kind of run, and on the whole machine.
KEPT_PER_PROJECT = 4
KEPT_PER_MACHINE = 48

_NUMPROCESSES = ("-n", "--numprocesses")
_DEBUGGERS = frozenset({"--pdb", "--trace", "--pdbcls"})


# -- what arguments ask for ---------------------------------------------------------------------

def workers_asked(args: Sequence[str]) -> str | None:
    """What pytest arguments ask of xdist, as pytest would read them (the last one wins): the
    value of `-n`/`--numprocesses` ("3", "auto", "logical"), "tx" for `--tx` specs, "0" for
    `-p no:xdist`; None when they say nothing of it."""
    asked: str | None = None
    for i, arg in enumerate(args):
        following = args[i + 1] if i + 1 < len(args) else None
        if arg in _NUMPROCESSES and following is not None:
            asked = following
        elif arg.startswith("--numprocesses="):
            asked = arg.partition("=")[2]
        elif arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):
            asked = arg[2:].lstrip("=")
        elif arg == "--tx" or arg.startswith("--tx="):
            asked = "tx"
        elif arg in ("-p", "-pno:xdist") and (arg == "-pno:xdist" or following == "no:xdist"):
            return "0"  # xdist is not loaded at all: no -n of anyone's counts
    return asked


def count_of(asked: str | None) -> int | None:
    """The number of workers an ask means, when it says: None for "auto", "logical" and specs."""
    if asked is not None and asked.isdigit():
        return int(asked)
    return None


def xdist_loads(args: Sequence[str], installed: bool, env: Mapping[str, str]) -> bool:
    """Whether pytest will load xdist (and so understand `-n`) with these arguments."""
    plugins = [a[2:] for a in args if a.startswith("-p") and len(a) > 2] + [
        args[i + 1] for i, a in enumerate(args[:-1]) if a == "-p"]
    if not installed or "no:xdist" in plugins:
        return False
    # With plugin autoloading off, only `-p xdist` loads it.
    return not env.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") or any(p in ("xdist", "xdist.plugin") for p in plugins)


# -- what the selection costs -------------------------------------------------------------------

@dataclass(frozen=True)
class FileTiming:
    """What one test file cost when it last ran, as in one process: its tests' total seconds,
    how many tests reported, and the longest of them (items 0: not recorded). `traced` when the
    seconds were measured under the trace (doit_scout.tracing), which costs more than plain pytest:
    no measure of what serving the file from its record saves."""

    seconds: float
    items: int = 0
    longest: float = 0.0
    traced: bool = False


@dataclass(frozen=True)
class Work:
    """What a selection is expected to cost in one process, from recorded timings. Files that
    never ran count no seconds: unknown durations never argue for xdist."""

    seconds: float = 0.0
    items: int = 0
    longest: float = 0.0
    unknown_files: int = 0


def expected_work(selection: Iterable[tuple[str, int | None]], timings: Mapping[str, FileTiming]) -> Work:
    """`selection` holds (path, nodes): nodes None runs the whole file, else that many of its
    tests re-run (their share of the file's time, at most the whole)."""
    seconds, items, longest, unknown, files = 0.0, 0, 0.0, 0, 0
    for path, nodes in selection:
        timing = timings.get(path)
        if timing is None or timing.seconds <= 0:
            unknown += 1
            continue
        files += 1
        share = 1.0 if nodes is None or timing.items == 0 else min(1.0, nodes / timing.items)
        seconds += timing.seconds * share
        items += max(1, round(timing.items * share)) if timing.items else 1
        longest = max(longest, min(timing.longest or timing.seconds, timing.seconds * share))
    # Files without a record add tests that cost xdist its per-test overhead, if no seconds.
    items += unknown * max(1, round(items / files)) if files else unknown
    return Work(seconds, items, longest, unknown)


# -- what xdist costs on this machine -----------------------------------------------------------

def machine_id() -> str:
    """What makes start-up costs comparable: the host, its CPU count and the interpreter."""
    return f"{platform.node()}/{os.cpu_count()}/{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True)
class Observation:
    """One completed pytest run on this machine: `outside` is its wall-clock seconds (from
    starting pytest to its exit) less its tests' share of the work (their reported durations
    over the workers), that is start-up, collection, per-test overhead, imbalance and shut-down;
    `slowdown` (xdist runs) how much longer its tests took than they had in one process."""

    project: str
    workers: int
    items: int
    outside: float
    slowdown: float | None = None
    at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"project": self.project, "workers": self.workers, "items": self.items,
                "outside": self.outside, "slowdown": self.slowdown, "at": self.at}

    @staticmethod
    def from_json(value: Any) -> Observation | None:
        try:
            slowdown = value.get("slowdown")
            return Observation(str(value["project"]), int(value["workers"]), int(value["items"]),
                               float(value["outside"]), None if slowdown is None else float(slowdown),
                               float(value.get("at", 0.0)))
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


def _scaled(value: float, actual: float, measured: float) -> float:
    """An upper bound at `actual` of a cost measured as `value` at `measured`, for a cost that
    is a fixed part plus a part proportional to it (both unknown, neither negative)."""
    return value * max(1.0, actual / measured) if measured > 0 else value


def _lower(value: float, actual: float, measured: float) -> float:
    """A lower bound of the same, at `actual`."""
    return value * min(1.0, actual / measured) if measured > 0 else 0.0


@dataclass
class MachineCosts:
    """Recent observations of this machine's pytest runs, of every project, and what they say
    xdist costs. Measured by wall-clock from start to exit, as the user waits: xdist's shut-down
    alone took 1 to 2 s on the shared 2-core machine, after its session had finished."""

    observations: list[Observation] = field(default_factory=list)

    def _of(self, project: str, workers: bool) -> list[Observation]:
        return [o for o in self.observations if o.project == project and (o.workers > 0) == workers]

    def one_process_outside(self, project: str, items: int) -> float:
        """The least a one-process run of this project spends outside its tests, at `items`."""
        return max((_lower(o.outside, items, o.items) for o in self._of(project, False)), default=0.0)

    def extra(self, project: str, items: int, workers: int) -> float:
        """What xdist with `workers` costs beyond one process, at `items` tests: measured on this
        project if it ran with xdist here, else on the machine, else the prior. Each
        measurement is scaled up conservatively to more tests and more workers; the median of
        recent measurements resists one unlucky run."""
        runs = self._of(project, True) or [o for o in self.observations if o.workers > 0]
        if not runs:
            return _scaled(PRIOR_EXTRA_SECONDS, workers, PRIOR_WORKERS)
        bounds = [_scaled(_scaled(max(0.0, o.outside - self.one_process_outside(o.project, o.items)),
                                  items, o.items), workers, o.workers) for o in runs]
        return statistics.median(bounds)

    def slowdown(self) -> float:
        """How much longer tests take beside other xdist workers here (at least 1)."""
        measured = [o.slowdown for o in self.observations if o.workers > 0 and o.slowdown is not None]
        return max(1.0, statistics.median(measured[-8:])) if measured else PRIOR_SLOWDOWN

    def with_observation(self, observation: Observation) -> MachineCosts:
        """These costs with one more observation; old ones are dropped per project and kind."""
        kept: list[Observation] = []
        counts: dict[tuple[str, bool], int] = {}
        for o in reversed([*self.observations, observation]):
            key = (o.project, o.workers > 0)
            counts[key] = counts.get(key, 0) + 1
            if counts[key] <= KEPT_PER_PROJECT and len(kept) < KEPT_PER_MACHINE:
                kept.append(o)
        return MachineCosts(list(reversed(kept)))

    def as_json(self) -> dict[str, Any]:
        return {"observations": [o.as_json() for o in self.observations]}

    @staticmethod
    def from_json(value: Any) -> MachineCosts:
        entries = value.get("observations") if isinstance(value, dict) else None
        found = [Observation.from_json(e) for e in entries] if isinstance(entries, list) else []
        return MachineCosts([o for o in found if o is not None])


def observe_run(
    project: str, workers: int, wall: float, durations: Mapping[str, float], items: int,
    before: Mapping[str, FileTiming], whole_files: Iterable[str],
) -> Observation | None:
    """What a completed run says of this machine. `before` holds the files' one-process timings
    from before the run; the slowdown compares them with the files that ran whole under xdist."""
    if items == 0 or wall <= 0:
        return None
    work = sum(durations.values())
    slowdown = None
    if workers > 0:
        compared = [p for p in whole_files if p in durations and p in before and before[p].seconds > 0]
        was = sum(before[p].seconds for p in compared)
        if was >= 0.5:  # below that, timer noise and warm-up are most of it
            slowdown = sum(durations[p] for p in compared) / was
    return Observation(project, workers, items, wall - work / max(1, workers), slowdown, time.time())


def one_process_timings(
    durations: Mapping[str, float], items: Mapping[str, int], longest: Mapping[str, float], slowdown: float,
) -> dict[str, FileTiming]:
    """Timings to record from a run, as they would be in one process: an xdist run's durations
    are divided by the slowdown measured here, so that the next choice compares like with like."""
    return {path: FileTiming(seconds / slowdown, items.get(path, 0), longest.get(path, 0.0) / slowdown)
            for path, seconds in durations.items()}


# -- the decision -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkerChoice:
    """`workers` is what doit-scout expects (0: one process), None when pytest's configuration
    decides a number it does not know; `args` is what doit-scout adds to pytest's command line
    for it; `source` says who decided ("command line", "pytest_args", "debugger", "workers",
    "project", "auto"), `reason` why, for .scout/last-run.json; `warning` is for the summary."""

    workers: int | None
    args: tuple[str, ...]
    source: str
    reason: str
    warning: str | None = None

    def settled(self, project_args: Sequence[str] | None) -> WorkerChoice:
        """The choice as the run shows it: when doit-scout added nothing and the project's own
        configuration (as pytest reported it) asks for workers, that is who decided."""
        asked = workers_asked(project_args or ())
        if self.args or self.source != "auto" or asked is None:
            return self
        return WorkerChoice(count_of(asked), (), "project", f"{_describe(asked)} from the project's pytest configuration")


@dataclass(frozen=True)
class WorkerContext:
    """What a decision is made from besides the arguments: `project_args` are the project's own
    pytest arguments (its ini-file addopts, then PYTEST_ADDOPTS), None when not known."""

    work: Work
    costs: MachineCosts
    project: str
    cpus: int
    xdist_installed: bool
    project_args: tuple[str, ...] | None
    env: Mapping[str, str] = field(default_factory=dict)


def decide_workers(pass_through: Sequence[str], test: TestConfig, context: WorkerContext) -> WorkerChoice:
    """Who decides the workers, and what they decide (see the module's docstring)."""
    for args, source, whose in ((pass_through, "command line", "the command line"),
                                (test.pytest_args, "pytest_args", "[tool.scout.test] pytest_args")):
        asked = workers_asked(args)
        if asked is not None:
            return WorkerChoice(count_of(asked), (), source, f"{_describe(asked)} from {whose}")
    every = [*(context.project_args or ()), *test.pytest_args, *pass_through]
    xdist = xdist_loads(every, context.xdist_installed, context.env)
    if any(a.split("=")[0] in _DEBUGGERS for a in every):
        # xdist refuses --pdb with workers; -n 0 overrides any configured or the project's own
        return WorkerChoice(0, ("-n", "0") if xdist else (), "debugger",
                            "one process: a debugger (--pdb, --trace) needs the terminal")
    if test.workers is not None:
        return _configured(test.workers, xdist)
    project_asked = workers_asked(context.project_args or ())
    if project_asked is not None:
        return WorkerChoice(count_of(project_asked), (), "project",
                            f"{_describe(project_asked)} from the project's pytest configuration")
    choice = auto_workers(context.work, context.costs, context.project, context.cpus)
    if not choice.workers:
        # Nothing added: pytest's configuration, if not known, could still ask for its own -n.
        return choice if context.project_args is not None else replace(choice, workers=None)
    if not xdist:
        return WorkerChoice(0, (), "auto", "one process: pytest-xdist is not installed or not loaded")
    if context.project_args is None:
        # The project's configuration may ask for its own -n, which ours would override.
        return WorkerChoice(None, (), "auto", "pytest's configuration decides: it changed since pytest last said "
                                              "whether it asks for -n, so doit-scout adds none this run")
    return choice


def _configured(workers: int, xdist: bool) -> WorkerChoice:
    whose = f"[tool.scout.test] workers = {workers}"
    if workers <= 1:
        # -n 0 overrides a -n in the project's own configuration; without xdist, one process is all.
        return WorkerChoice(0, ("-n", "0") if xdist else (), "workers", f"one process ({whose})")
    if not xdist:
        return WorkerChoice(0, (), "workers", f"one process: {whose}, but pytest-xdist is not installed or "
                                              "not loaded", "pytest-xdist is not installed: tests run in one process")
    return WorkerChoice(workers, ("-n", str(workers)), "workers", f"xdist {workers} workers ({whose})")


def _describe(asked: str) -> str:
    if asked == "0":
        return "one process (-n 0 or -p no:xdist)"
    if asked == "tx":
        return "xdist --tx"
    return f"-n {asked}"


def auto_workers(work: Work, costs: MachineCosts, project: str, cpus: int) -> WorkerChoice:
    """doit-scout's own choice: the number of workers with the least expected time, when that
    is at least MARGIN less than one process's; else one process."""
    if work.seconds <= 0:
        return WorkerChoice(0, (), "auto", "one process: no recorded durations for the selected tests yet "
                                           "(this run records them)")
    expected = f"expected {work.seconds:.1f} s of tests in one process"
    if cpus < 2 or work.items < 2:
        return WorkerChoice(0, (), "auto", f"one process: {expected}, {cpus} CPU(s), {work.items} test(s)")
    options = {n: costs.extra(project, work.items, n) + costs.slowdown() * max(work.seconds / n, work.longest)
               for n in range(2, min(cpus, work.items) + 1)}
    best = min(options, key=lambda n: (options[n], n))
    with_xdist = f"{options[best]:.1f} s with {best} xdist workers"
    if options[best] <= (1 - MARGIN) * work.seconds:
        return WorkerChoice(best, ("-n", str(best)), "auto", f"xdist {best} workers: {expected}, {with_xdist}")
    return WorkerChoice(0, (), "auto", f"one process: {expected}, {with_xdist}")
