"""Build steps as units of work: what a step's units are, which are stale, and how they batch.

A step's scope says what a unit is: `files` (one per input file, stale when its bytes change),
`dependents` (one per module, stale when its bytes or the interface of anything in its import
closure change: a body-only change elsewhere re-checks nothing) or `all` (one
unit for every input, stale when any of them changes)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import xxhash

SCOPES = ("files", "dependents", "all")
PLACEHOLDERS = ("files", "modules")
ALL_UNIT = "all"


def placeholders_in(argument: str) -> list[str]:
    """The `{names}` in one argument of a command; ValueError on unbalanced braces."""
    return [name for _, name, _, _ in string.Formatter().parse(argument) if name is not None]


def fill_command(command: Sequence[str], files: Sequence[str], modules: Sequence[str]) -> list[str]:
    """An argument that is just `{files}` or `{modules}` becomes one argument per unit; inside a
    longer argument a placeholder becomes the units joined by spaces."""
    filled: list[str] = []
    for argument in command:
        if argument == "{files}":
            filled += files
        elif argument == "{modules}":
            filled += modules
        else:
            filled.append(argument.format(files=" ".join(files), modules=" ".join(modules)))
    return filled


def takes_units(command: Sequence[str]) -> bool:
    """Whether the command names its units; one that does not processes everything at once."""
    return any(placeholders_in(argument) for argument in command)


@dataclass(frozen=True)
class StepUnit:
    """`name` is a file path, or "all" for the single unit of an `all` step."""

    name: str
    fingerprint: str
    files: tuple[str, ...]
    modules: tuple[str, ...]


@dataclass(frozen=True)
class StepDecision:
    unit: StepUnit
    runs: bool
    reasons: tuple[str, ...]


def step_units(
    scope: str,
    inputs: Sequence[str],
    digests: Mapping[str, str],
    module_of: Mapping[str, str],
    interface_fingerprints: Mapping[str, str],
    step_key: str,
) -> list[StepUnit]:
    """The units of a step over its input files (paths with their content `digests`); `module_of`
    maps a path to its module, `interface_fingerprints` a module to the fingerprint of the
    skeletons of its import closure (analyzers.symbol_graph)."""
    inputs = sorted(inputs)
    modules = {path: module_of[path] for path in inputs if path in module_of}
    if scope == "all":
        hasher = xxhash.xxh3_128(f"{step_key}\0all\0".encode("utf-8", "surrogateescape"))
        for path in inputs:
            hasher.update(f"{path}\0{digests[path]}\0".encode("utf-8", "surrogateescape"))
        return [StepUnit(ALL_UNIT, hasher.hexdigest(), tuple(inputs), tuple(modules.values()))]
    units = []
    for path in inputs:
        module = modules.get(path)
        # A dependents unit answers for its own bytes and the interfaces of its import closure (a
        # type checker reads signatures, not bodies, of what a module imports); a file that is no
        # module has nothing but its own bytes.
        content = digests[path]
        if scope == "dependents" and module:
            content += ":" + interface_fingerprints[module]
        fingerprint = xxhash.xxh3_128_hexdigest(f"{step_key}\0{scope}\0{path}\0{content}".encode("utf-8", "surrogateescape"))
        units.append(StepUnit(path, fingerprint, (path,), (module,) if module else ()))
    return units


def select_units(
    units: Iterable[StepUnit],
    green: Iterable[str],
    *,
    ignore_records: str | None = None,
    why_changed: Callable[[StepUnit], Iterable[str]] = lambda unit: (),
) -> list[StepDecision]:
    """A unit is skipped exactly when a green record exists for its fingerprint."""
    green = set(green)
    decisions = []
    for unit in units:
        if ignore_records:
            decisions.append(StepDecision(unit, True, (ignore_records,)))
        elif unit.fingerprint in green:
            decisions.append(StepDecision(unit, False, ("a green record matches its inputs",)))
        else:
            reasons = tuple(why_changed(unit)) or ("no green record for its current inputs",)
            decisions.append(StepDecision(unit, True, reasons))
    return decisions


def batches(units: Sequence[StepUnit], size: int | None) -> list[list[StepUnit]]:
    """Consecutive groups of at most `size` units (all of them at once when `size` is None)."""
    if not units:
        return []
    size = size or len(units)
    return [list(units[i:i + size]) for i in range(0, len(units), size)]
