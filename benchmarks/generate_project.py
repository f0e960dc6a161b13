"""Synthetic Python projects for benchmarks: nested packages, realistic import fan-out (mostly
within a package, some across) with cycles inside packages, test files, and docs and data files.

    python -m benchmarks.generate_project DEST --modules 1600 --tests 400
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

BODY = '''

class Thing{n}:
    """A class so that parsing has something to chew on."""

    def __init__(self, value: int = {n}) -> None:
        self.value = value
        self.items: list[int] = [i * {n} for i in range(10)]

    def total(self) -> int:
        return sum(self.items) + self.value

    def describe(self) -> str:
        return f"Thing{n}({{self.value}}) with {{len(self.items)}} items"


def helper_{n}(x: int, y: int = 2) -> int:
    if x > y:
        return x * y
    for i in range(y):
        x += i
    return x
'''

# CPU work without sleeping: the loop count sets how long a test takes.
TEST_BODY = '''

def _work(rounds: int) -> int:
    total = 0
    for i in range(rounds):
        total += i * i % 7
    return total


def test_{t}_first():
    assert _work({rounds}) >= 0


def test_{t}_second():
    assert _work({rounds}) >= 0
'''


def generate(
    root: Path, modules: int, tests: int, *, seed: int = 0, fan_out: int = 4, test_rounds: int = 0,
) -> list[str]:
    """Write the project into `root`; returns the module file paths, in import-layer order
    (a module imports only earlier ones, except for cycles inside its package)."""
    rng = random.Random(seed)
    packages = [f"app/p{i}/s{j}" for i in range(max(1, modules // 200)) for j in range(4)]
    entries: list[tuple[str, str]] = []  # (path, dotted name)
    for pkg in ["app", *sorted({p.rsplit("/", 1)[0] for p in packages}), *packages]:
        entries.append((f"{pkg}/__init__.py", pkg.replace("/", ".")))
    first_module = len(entries)
    # Packages hold consecutive modules, so that "imports earlier modules" layers the packages too.
    per_package = max(1, (modules - first_module) // len(packages) + 1)
    while len(entries) < max(modules, first_module + 1):
        pkg = packages[min(len(packages) - 1, (len(entries) - first_module) // per_package)]
        name = f"m{len(entries)}"
        entries.append((f"{pkg}/{name}.py", f"{pkg.replace('/', '.')}.{name}"))
    root.mkdir(parents=True, exist_ok=True)
    for index, (path, _) in enumerate(entries):
        if path.endswith("__init__.py"):
            _write(root / path, "")
            continue
        package = path.rpartition("/")[0]
        earlier = [e for e in entries[first_module:index]]
        local = [e for e in earlier if e[0].rpartition("/")[0] == package]
        targets = set()
        for _ in range(fan_out):
            pool = local if local and rng.random() < 0.75 else earlier
            if pool:
                targets.add(rng.choice(pool)[1])
        later_siblings = [n for p, n in entries[index + 1:] if p.rpartition("/")[0] == package]
        if later_siblings and rng.random() < 0.1:
            targets.add(rng.choice(later_siblings))  # a cycle inside the package
        source = "".join(f"import {t}\n" for t in sorted(targets)) + "import os\n" + BODY.format(n=index)
        _write(root / path, source)
    module_entries = entries[first_module:]
    for t in range(tests):
        # A test file tests one module, and uses one more now and then.
        imported = {module_entries[t % len(module_entries)][1]}
        if rng.random() < 0.3:
            imported.add(rng.choice(module_entries)[1])
        lines = "".join(f"import {m}\n" for m in sorted(imported))
        _write(root / f"tests/test_{t}.py", lines + TEST_BODY.format(t=t, rounds=test_rounds))
    _write(root / "pyproject.toml", "[project]\nname = 'synthetic'\nversion = '0'\n\n"
                                    "[tool.pytest.ini_options]\ntestpaths = ['tests']\npythonpath = ['.']\n")
    _write(root / "README.md", "# synthetic\n")
    _write(root / "docs/index.rst", "synthetic\n=========\n")
    _write(root / "tests/conftest.py", "import pytest\n")
    _write(root / "app/data.json", "{}\n")
    return [path for path, _ in module_entries]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--modules", type=int, default=1600)
    parser.add_argument("--tests", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generate(args.dest, args.modules, args.tests, seed=args.seed)


if __name__ == "__main__":
    main()
