"""Build-step benchmark on a generated project of 2,000 modules, in one run: a files-scope step
(ruff) and a dependents-scope step (mypy) after one leaf change and after one hub change, against
the same command over all files.

    python -m benchmarks.bench_steps

Both tools run without their own caches (`--no-cache`, `--no-incremental`), so the figures show
what doit-scout's selection saves, not what the tools' caches save.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generate_project import generate
from doit_scout.config import ScoutConfig
from doit_scout.context import RunContext
from doit_scout.scout import run_scout

STEPS = {
    # --isolated: no ruff configuration but the defaults; the generated modules import what they
    # do not use, in an order isort would not choose, by design.
    "lint": (["python", "-m", "ruff", "check", "--no-cache", "--isolated", "--ignore", "F401,I001"], "files"),
    "types": (["python", "-m", "mypy", "--no-incremental", "--ignore-missing-imports"], "dependents"),
}


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{shlex.join(command[:6])} … failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.perf_counter() - started


def _importers(root: Path, modules: list[str]) -> dict[str, int]:
    """How many modules import each module, directly or not (from the scout's graph)."""
    state = run_scout(RunContext(root, ScoutConfig())).state
    graph = state.import_graph
    node_of = state.module_of()
    return {path: len(graph.find_downstream_modules(node_of[path])) for path in modules}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        modules = generate(root, 2000, 0)
        (root / "dodo.py").write_text("from doit_scout.dodo import *\n")
        with (root / "pyproject.toml").open("a") as f:
            for name, (command, scope) in STEPS.items():
                f.write(f"\n[tool.scout.steps.{name}]\ncommand = {json.dumps([*command, '{files}'])}\n"
                        f"scope = \"{scope}\"\n")
        env = {**os.environ, "DOIT_SCOUT_CACHE": str(Path(tmp) / "cache")}
        doit = [sys.executable, "-m", "doit"]
        files = sorted(str(p.relative_to(root)) for p in root.glob("app/**/*.py"))
        baseline = {name: _timed([sys.executable, *command[1:], *files], root, env)
                    for name, (command, _) in STEPS.items()}
        first = {name: _timed([*doit, f"build:{name}"], root, env) for name in STEPS}
        unchanged = {name: _timed([*doit, f"build:{name}"], root, env) for name in STEPS}
        importers = _importers(root, modules)
        leaf = min(modules, key=lambda p: (importers[p], p))
        hub = max(modules, key=lambda p: (importers[p], p))
        rows = []
        for label, path in (("leaf", leaf), ("hub", hub)):
            with open(root / path, "a") as f:
                f.write(f"\nCHANGED_{label.upper()} = True\n")
            for name in STEPS:
                seconds = _timed([*doit, f"build:{name}"], root, env)
                ran = json.loads((root / ".scout" / "last-run.json").read_text())["steps"][name]["ran"]
                rows.append((name, label, path, importers[path], ran, seconds))

    print(f"2,000 modules ({len(files)} .py files under app/); baseline: the step's command over all files")
    print()
    print("| step (scope) | change | units run | `doit build:<step>` | same command over all files | "
          "all files ÷ doit-scout |")
    print("|---|---|---:|---:|---:|---:|")
    for name, label, path, count, ran, seconds in rows:
        print(f"| {name} ({STEPS[name][1]}) | one {label} module ({count} importers) | {ran} | "
              f"{seconds:.2f} s | {baseline[name]:.2f} s | {baseline[name] / seconds:.2f} |")
    print()
    print("`doit build:<step>` with nothing changed (doit's start and the scout): " + ", ".join(
        f"{name} {unchanged[name]:.2f} s" for name in STEPS))
    print("first `doit build:<step>` (every unit, records written): " + ", ".join(
        f"{name} {first[name]:.2f} s ({first[name] / baseline[name]:.2f}x its baseline)" for name in STEPS))


if __name__ == "__main__":
    main()
