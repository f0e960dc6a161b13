"""Synthetic Python projects for benchmarks: nested packages, realistic import fan-out with some
cycles, test files, and a few docs and data files.

    python -m benchmarks.generate_project DEST --files 2000
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


def generate(root: Path, files: int, seed: int = 0, fan_out: int = 4) -> list[str]:
    """Write a project of about `files` files into `root`; returns the module file paths."""
    rng = random.Random(seed)
    n_tests = files // 5
    n_modules = files - n_tests - 4
    packages = [f"app/p{i}/s{j}" for i in range(max(1, n_modules // 200)) for j in range(4)]
    modules: list[tuple[str, str]] = []  # (path, dotted name)
    for pkg in ["app", *{p.rsplit("/", 1)[0] for p in packages}, *packages]:
        modules.append((f"{pkg}/__init__.py", pkg.replace("/", ".")))
    # Packages hold consecutive modules, so that "imports earlier modules" layers the packages too.
    per_package = max(1, (n_modules - len(modules)) // len(packages) + 1)
    while len(modules) < n_modules:
        pkg = packages[min(len(packages) - 1, (len(modules) // per_package))]
        name = f"m{len(modules)}"
        modules.append((f"{pkg}/{name}.py", f"{pkg.replace('/', '.')}.{name}"))
    root.mkdir(parents=True, exist_ok=True)
    for index, (path, _) in enumerate(modules):
        # Mostly import earlier modules (a layered code base); sometimes a later module of the same
        # package, which makes import cycles local to a package, as in real code.
        targets = {modules[rng.randrange(max(1, index))][1] for _ in range(fan_out)}
        package = path.rpartition("/")[0]
        siblings = [name for p, name in modules[index + 1:] if p.rpartition("/")[0] == package]
        if siblings and rng.random() < 0.1:
            targets.add(rng.choice(siblings))
        source = "".join(f"import {t}\n" for t in sorted(targets)) + "import os\n" + BODY.format(n=index)
        _write(root / path, "" if path.endswith("__init__.py") else source)
    for t in range(n_tests):
        imported = sorted({rng.choice(modules)[1] for _ in range(3)})
        lines = "".join(f"import {m}\n" for m in imported)
        _write(root / f"tests/test_{t}.py", lines + f"\n\ndef test_{t}():\n    assert {t} + 1 > {t}\n")
    _write(root / "pyproject.toml", "[project]\nname = 'synthetic'\nversion = '0'\n")
    _write(root / "README.md", "# synthetic\n")
    _write(root / "tests/conftest.py", "import pytest\n")
    _write(root / "app/data.json", "{}\n")
    return [path for path, _ in modules]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generate(args.dest, args.files, args.seed)


if __name__ == "__main__":
    main()
