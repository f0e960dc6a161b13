"""`doit watch [TASK ...]`: run the tasks now, and again after every change (watchfiles).

Each run is a fresh `python -m doit` process, so a dodo.py or a pyproject.toml broken by an edit is
reported by that run and watching goes on; the next save that fixes it resumes normal runs."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import watchfiles
from doit.cmd_base import Command

from doit_scout.analyzers.inventory import (
    DEFAULT_EXCLUDED_DIRS,
    DEFAULT_EXCLUDED_FILES,
    is_excluded_dir,
    list_project_files,
)

# A burst of saves (a branch switch, a formatter over the tree) within this window is one run...
COALESCE_MS = 1000
# ...and a save is taken once no other change follows within this many milliseconds.
QUIET_MS = 100


class ProjectChangeFilter(watchfiles.DefaultFilter):
    """Changes that can matter: not in .scout/, .git/, caches, build output or environments."""

    def __init__(self, root: Path) -> None:
        super().__init__(ignore_dirs=(*watchfiles.DefaultFilter.ignore_dirs, *DEFAULT_EXCLUDED_DIRS))
        self.root = root

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        if not super().__call__(change, path):
            return False
        relative = Path(path).relative_to(self.root) if Path(path).is_relative_to(self.root) else Path(path)
        if DEFAULT_EXCLUDED_FILES.matches(relative.as_posix()):
            return False
        return not any(is_excluded_dir(part.name, part) for part in (self.root / relative).parents
                       if part.is_relative_to(self.root) and part != self.root)


def not_ignored_by_git(root: Path, paths: list[str]) -> list[str]:
    """The paths git does not ignore (all of them outside a git work tree)."""
    try:
        result = subprocess.run(["git", "check-ignore", "--stdin", "-z"], cwd=root, capture_output=True,
                                input="\0".join(paths).encode("utf-8", "surrogateescape"))
    except OSError:
        return paths
    if result.returncode not in (0, 1):  # 128: not a git work tree
        return paths
    ignored = {p for p in result.stdout.decode().split("\0") if p}
    return [p for p in paths if p not in ignored]


def changes_project_files(root: Path, path: str, known: frozenset[str]) -> bool:
    """Whether an event on `path` can change the project's files. An empty folder a tool creates
    (pytest-benchmark's .benchmarks) cannot; a folder moved in with files, or one removed with files
    the last run saw, can."""
    full = root / path
    if full.is_dir():
        return any(child.is_file() for child in full.rglob("*"))
    if full.exists() or full.is_symlink():
        return True
    return path in known or any(file.startswith(path + "/") for file in known)


class Watch(Command):
    name = "watch"
    doc_purpose = "run tasks (default: the dodo.py's default tasks) now and again after every change"
    doc_usage = "[TASK ...]"
    doc_description = None
    cmd_options = ()

    def execute(self, params, args):
        root = Path.cwd().resolve()
        tasks = list(args)
        batches: queue.Queue[set] = queue.Queue()
        stop = threading.Event()
        # The watcher starts before the first run, so a save during any run is caught and starts
        # the next run right after it.
        watcher = threading.Thread(target=_watch, args=(root, batches, stop), daemon=True)
        watcher.start()
        runs = 1
        try:
            known = self._run(root, tasks, runs, "start")
            while True:
                try:
                    changes = batches.get(timeout=0.5)
                except queue.Empty:
                    continue
                while not batches.empty():  # saves made during the last run: one run for all
                    changes |= batches.get()
                changed = not_ignored_by_git(root, sorted(
                    {Path(p).relative_to(root).as_posix() for _, p in changes if Path(p).is_relative_to(root)}))
                changed = [path for path in changed if changes_project_files(root, path, known)]
                if changed:
                    runs += 1
                    known = self._run(root, tasks, runs, _listing(changed))
        except KeyboardInterrupt:
            print("\nwatch: stopped", flush=True)
        finally:
            stop.set()
        return 0

    @staticmethod
    def _run(root: Path, tasks: list[str], number: int, reason: str) -> frozenset[str]:
        """Runs doit once; returns the project's files as they are after the run."""
        if sys.stdout.isatty():
            print("\033[2J\033[H", end="")  # each run starts on a cleared screen
        print(f"watch: run {number} ({reason})", flush=True)
        code = subprocess.run([sys.executable, "-m", "doit", *tasks], cwd=root, stdin=subprocess.DEVNULL).returncode
        files = frozenset(path for path in list_project_files(root)[0] if (root / path).exists())
        verdict = "ok" if code == 0 else f"failed (exit {code})"
        print(f"watch: watching {len(files)} files · last run {verdict} at {time.strftime('%H:%M:%S')} · "
              "Ctrl-C stops", flush=True)
        return files


def _watch(root: Path, batches: queue.Queue, stop: threading.Event) -> None:
    for changes in watchfiles.watch(root, watch_filter=ProjectChangeFilter(root), debounce=COALESCE_MS,
                                    step=QUIET_MS, stop_event=stop, raise_interrupt=False):
        batches.put(changes)


def _listing(paths: list[str], most: int = 5) -> str:
    return ", ".join(paths[:most]) + (f" and {len(paths) - most} more" if len(paths) > most else "")
