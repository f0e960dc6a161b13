"""What `doit test` costs against plain `pytest` over the same suite, in the same generated project,
interleaved round by round so that the load of a shared machine falls on every variant alike; the
ratios of the medians are what count.

- `unrecorded`: `doit test --all --no-record`, every test runs untraced;
- `recorded-c`, `recorded-python`: `doit test` after an edit of tests/conftest.py (every test file's
  input), so every test runs and is recorded, by the C probe or the Python one (DOIT_SCOUT_TRACER,
  doit_scout.probes); the C one only where the extension is built.

Suites: `tiny`, N one-line tests (the fixed cost of doit); `calls`, N call-heavy tests (each calls
small project functions in loops: the cost of recording, per Python call); or `--project NAME`, a
real project of benchmarks/bench_history.py (a worktree of its clone's HEAD, WORK/NAME, run with
its venv's Python, VENVS/NAME, as bench_history sets them up; the project's tests/conftest.py is
what the recorded runs edit).

    python -m benchmarks.bench_overhead [--suite calls] [--rounds 7] [--tests N] [--tracers c,python]
    python -m benchmarks.bench_overhead --project marshmallow --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DODO = "from doit_scout.dodo import *\n"
CALLS_MODULE = '''\
def add(a, b):
    return a + b


def scale(values, k):
    return [mul(v, k) for v in values]


def mul(a, b):
    return a * b


class Acc:
    def __init__(self):
        self.total = 0

    def push(self, v):
        self.total = add(self.total, v)
        return self


def walk(n):
    for i in range(n):
        yield square(i)


def square(x):
    return x * x
'''
CALLS_TEST = '''\
from pkg.core{m} import Acc, add, scale, walk


def test_{i}_loop():
    acc = Acc()
    for v in range({loops}):
        acc.push(add(v, 1))
    assert acc.total == sum(range(1, {loops} + 1))


def test_{i}_generator_and_comprehension():
    assert sum(walk({loops})) == sum(x * x for x in range({loops}))
    assert scale(list(range(50)), 2)[-1] == 98
'''


def make_project(root: Path, suite: str, tests: int, loops: int) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'bench'\n\n[tool.pytest.ini_options]\n"
                                         "testpaths = ['tests']\n")
    (root / "dodo.py").write_text(DODO)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "tests" / "conftest.py").write_text("")
    if suite == "tiny":
        (root / "pkg" / "core.py").write_text("def add(a, b):\n    return a + b\n")
        for i in range(tests):
            (root / "tests" / f"test_{i}.py").write_text(
                f"from pkg.core import add\n\ndef test_{i}():\n    assert add({i}, 1) == {i + 1}\n")
    else:
        modules = max(1, tests // 20)
        for m in range(modules):
            (root / "pkg" / f"core{m}.py").write_text(CALLS_MODULE)
        for i in range(0, tests, 2):  # two tests a file
            (root / "tests" / f"test_{i}.py").write_text(CALLS_TEST.format(m=i % modules, i=i, loops=loops))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@example.com",
                                                              "commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


CPU: list[float] = []  # the processor seconds of each timed() (user + system, its processes'), in order


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return seconds


def tracers() -> list[str]:
    try:
        import doit_scout._ctracer  # noqa: F401
    except ImportError:
        return ["python"]
    return ["c", "python"]


def recorded(root: Path, env: dict[str, str], tracer: str, doit: list[str]) -> float:
    """One `doit test` that re-runs and records every test: tests/conftest.py, every test's
    input, changed since the last run."""
    conftest = root / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text() + f"_BENCH_EDIT = {time.monotonic_ns()}\n")  # code: a comment is none
    seconds = timed(doit, root, {**env, "DOIT_SCOUT_TRACER": tracer})
    tests = json.loads((root / ".scout" / "last-run.json").read_text())["tests"]
    if tests.get("tracer") != tracer or tests.get("skipped"):
        raise SystemExit(f"the recorded run was not the one meant: tracer {tests.get('tracer')!r} (not {tracer!r}), "
                         f"{len(tests.get('skipped') or [])} files skipped")
    return seconds


def real_project(root: Path, name: str, work: Path, venvs: Path) -> tuple[str, str]:
    """A worktree of the project's clone at its HEAD in `root`, with the one-line dodo.py; the
    venv's Python and the PYTHONPATH that imports the worktree's package."""
    from benchmarks.bench_history import PROJECTS
    project = PROJECTS[name]
    subprocess.run(["git", "-C", str(work / name), "worktree", "add", "--detach", str(root), "HEAD"],
                   check=True, capture_output=True)
    (root / "dodo.py").write_text(DODO)
    exclude = Path(subprocess.run(["git", "rev-parse", "--git-path", "info/exclude"], cwd=root, check=True,
                                  capture_output=True, text=True).stdout.strip())
    exclude = exclude if exclude.is_absolute() else root / exclude
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a") as file:
        file.write("\ndodo.py\n.scout/\n")
    return str(venvs / name / "bin" / "python"), str(root / project.import_root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("tiny", "calls"), default="calls")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tests", type=int, default=None, help="default: 20 (tiny), 400 (calls)")
    parser.add_argument("--loops", type=int, default=3000, help="calls: loop length in each test")
    parser.add_argument("--tracers", default=None, help="comma-separated, of c, c-profile, python "
                        "(default: c and python where c is built)")
    parser.add_argument("--project", default=None, help="a real project of bench_history (its clone and venv)")
    parser.add_argument("--work", default="/work/trials/history", help="--project: the clones, WORK/NAME")
    parser.add_argument("--venvs", default="/work/trials/venvs", help="--project: the venvs, VENVS/NAME")
    options = parser.parse_args()
    tests = options.tests or (20 if options.suite == "tiny" else 400)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "bench"
        env = {**os.environ, "DOIT_SCOUT_CACHE": str(Path(folder) / "cache"), "COLUMNS": "120"}
        env.pop("DOIT_SCOUT_TRACER", None)
        python = sys.executable
        if options.project:
            python, pythonpath = real_project(root, options.project, Path(options.work), Path(options.venvs))
            env["PYTHONPATH"] = pythonpath
            options.suite, tests = options.project, 0
        else:
            make_project(root, options.suite, tests, options.loops)
        plain = [python, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
        doit = [python, "-m", "doit", "test"]
        timed(doit, root, env)  # the first run: the scout from nothing, and pytest asked what the tests are
        variants = {"pytest": lambda: timed(plain, root, env),
                    "unrecorded": lambda: timed([*doit, "--all", "--no-record"], root, env)}
        for tracer in options.tracers.split(",") if options.tracers else tracers():
            variants[f"recorded-{tracer}"] = lambda tracer=tracer: recorded(root, env, tracer, doit)
        times: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(options.rounds):
            for name, run in variants.items():
                times[name].append(run())
                cpu[name].append(CPU[-1])
        noop = statistics.median(timed([python, "-m", "doit"], root, env) for _ in range(3))
        if options.project:
            subprocess.run(["git", "-C", str(Path(options.work) / options.project), "worktree", "remove", "--force",
                            str(root)], capture_output=True)
    medians = {name: statistics.median(seconds) for name, seconds in times.items()}
    cpus = {name: statistics.median(seconds) for name, seconds in cpu.items()}
    load = os.getloadavg()
    print(f"suite {options.suite}: {tests or 'its'} tests, {options.rounds} rounds interleaved, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores; medians:")
    for name, seconds in medians.items():
        print(f"  {name:<16} wall {seconds:7.3f} s {seconds / medians['pytest']:5.2f}x plain pytest "
              f"(min {min(times[name]):.3f} s) · processor {cpus[name]:7.3f} s {cpus[name] / cpus['pytest']:5.2f}x")
    print(f"  no-op doit       {noop:7.3f} s")


if __name__ == "__main__":
    main()
