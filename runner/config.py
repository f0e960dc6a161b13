"""The `[tool.scout]` table of a project's pyproject.toml, validated before any work is done."""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field, replace
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from doit.exceptions import InvalidDodoFile

from doit_scout.analyzers.categories import Category
from doit_scout.analyzers.steps import PLACEHOLDERS, SCOPES, placeholders_in
from doit_scout.toml_guard import invalid_toml


class ConfigError(Exception):
    """A configuration problem, worded for the user: what is wrong, and what is allowed."""


@dataclass(frozen=True)
class TestConfig:
    """`[tool.scout.test]`: `data` maps data globs to the test globs that read them; `env` names
    environment variables whose values the tests depend on; `pytest_args` are passed to pytest."""

    always_run: tuple[str, ...] = ()
    data: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    env: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = ()
    workers: int | None = None  # 0 or 1: one process; N >= 2: xdist; None: chosen (doit_scout.workers)
    full_every: int | None = None  # every N-th run is an audit
    full_after: float | None = None  # seconds since the last audit after which a run is one
    audit_misses: str = "fail"  # or "warn"
    timeout: float | None = None  # seconds after which the pytest session is stopped
    after: tuple[str, ...] = ()  # build steps that must run before the tests
    executed_code: bool = True  # trace which functions each test file runs (doit_scout.executed)


@dataclass(frozen=True)
class StepConfig:
    """`[tool.scout.steps.<name>]`: a command run over the step's stale units (see analyzers.steps).
    `inputs` None means the source .py files; `batch` None means all stale units in one invocation;
    `env` is set for the command and counts in its fingerprint."""

    name: str
    command: tuple[str, ...]
    scope: str = "files"
    inputs: tuple[str, ...] | None = None
    batch: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    after: tuple[str, ...] = ()

    @property
    def task(self) -> str:
        return step_task(self.name)


def step_task(name: str) -> str:
    """The doit task of the step `name`."""
    return f"build:{name}"


@dataclass(frozen=True)
class ScoutConfig:
    """None for packages, test_dirs and source_roots means: detect them."""

    packages: tuple[str, ...] | None = None
    test_dirs: tuple[str, ...] | None = None
    source_roots: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    parse_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    test: TestConfig = field(default_factory=TestConfig)
    cache_dir: str | None = None
    cache_max_bytes: int = 2 * 1024**3
    cache_trust: str = "private"  # or "shared": see CACHE_TRUSTS
    steps: tuple[StepConfig, ...] = ()
    remote_cache: str | None = None  # a Bazel HTTP cache's base URL (doit_scout.remote_cache)
    remote_cache_write: bool = False  # only trusted writers (CI on main) upload
    remote_cache_timeout: float = 2.0  # seconds per request; the first failure switches it off for the run
    remote_cache_trust: str = "signed"  # or "server": see REMOTE_CACHE_TRUSTS


_FOLDER_LISTS = ("packages", "test_dirs", "source_roots")
ALLOWED_KEYS = (*_FOLDER_LISTS, "exclude", "categories", "parse_workers", "test", "cache_dir", "cache_max_size",
                "cache_trust", "steps", "remote_cache", "remote_cache_write", "remote_cache_timeout",
                "remote_cache_trust")
# Whose writes the shared cache may hold. "private": the user's alone; a folder that another user
# owns or that anyone else can write is refused. "shared": a folder a team shares on purpose; every
# entry is authenticated with the team's key (DOIT_SCOUT_CACHE_KEY).
CACHE_TRUSTS = ("private", "shared")
CACHE_TRUST_ALLOWED = ('"private" (the default: the cache folder is yours alone) or "shared" (a folder a team '
                       'shares on purpose, its entries authenticated with the team key in DOIT_SCOUT_CACHE_KEY)')
TEST_KEYS = ("always_run", "data", "env", "pytest_args", "workers", "full_every", "full_after", "audit_misses",
             "after", "timeout", "executed_code")
STEP_KEYS = ("command", "scope", "inputs", "batch", "env", "after")
STEP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def load_config(project_root: Path) -> ScoutConfig:
    pyproject = project_root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except FileNotFoundError:
        return remote_from_environment(ScoutConfig(), os.environ)  # the variables need no pyproject.toml
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {pyproject}: {err}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(invalid_toml(str(pyproject), text, err)) from err
    table = data.get("tool", {}).get("scout", {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.scout] in {pyproject} must be a table, got {table!r}")
    config = remote_from_environment(parse_config(table), os.environ)
    _check_folders_exist(project_root, config)
    return config


def load_config_for_doit(project_root: Path) -> ScoutConfig:
    """load_config for doit's task creators and commands: doit prints an InvalidDodoFile as one
    "ERROR:" line, without a traceback, and stops before any task runs."""
    try:
        return load_config(project_root)
    except ConfigError as err:
        raise InvalidDodoFile(str(err)) from None


def _check_folders_exist(project_root: Path, config: ScoutConfig) -> None:
    for key in _FOLDER_LISTS:
        folders = getattr(config, key)
        for folder in folders or ():
            if not (project_root / folder).is_dir():
                raise _bad(key, list(folders), f"folders of the project; {folder!r} is not a folder "
                                               f"in {project_root}")


def parse_config(table: Mapping[str, Any]) -> ScoutConfig:
    unknown = sorted(set(table) - set(ALLOWED_KEYS))
    if unknown:
        raise ConfigError(
            f"[tool.scout] has unknown key {unknown[0]!r}; allowed keys are: {', '.join(ALLOWED_KEYS)}"
        )
    values: dict[str, Any] = {}
    for key in _FOLDER_LISTS:
        if key in table:
            # "" and "." both name the project root (a source root in flat layouts).
            folders = _string_list(key, table[key], allow_empty=True)
            values[key] = tuple("" if p.strip("/") == "." else p.strip("/") for p in folders)
    if "exclude" in table:
        values["exclude"] = _string_list("exclude", table["exclude"])
    if "categories" in table:
        values["categories"] = _categories(table["categories"])
    if "parse_workers" in table:
        values["parse_workers"] = _whole_number(
            "parse_workers", table["parse_workers"], 0, "a whole number >= 0 (0 parses in this process)")
    if "test" in table:
        values["test"] = _test_config(table["test"])
    if "cache_dir" in table:
        if not isinstance(table["cache_dir"], str) or not table["cache_dir"]:
            raise _bad("cache_dir", table["cache_dir"], "a folder path (DOIT_SCOUT_CACHE overrides it)")
        values["cache_dir"] = table["cache_dir"]
    if "cache_max_size" in table:
        try:
            values["cache_max_bytes"] = parse_size(table["cache_max_size"])
        except ValueError:
            raise _bad("cache_max_size", table["cache_max_size"], 'a size such as "500MB" or "2GB"') from None
    if "cache_trust" in table:
        if table["cache_trust"] not in CACHE_TRUSTS:
            raise _bad("cache_trust", table["cache_trust"], CACHE_TRUST_ALLOWED + " (DOIT_SCOUT_CACHE_TRUST overrides it)")
        values["cache_trust"] = table["cache_trust"]
    if "steps" in table:
        values["steps"] = _steps(table["steps"])
    values.update(_remote_values(table))
    config = ScoutConfig(**values)
    _check_order(config)
    return config


REMOTE_ENV = "DOIT_SCOUT_REMOTE_CACHE"
REMOTE_WRITE_ENV = "DOIT_SCOUT_REMOTE_CACHE_WRITE"
REMOTE_TRUST_ENV = "DOIT_SCOUT_REMOTE_CACHE_TRUST"
# Which action entries on the server a reader believes. "signed": only those signed with the team
# secret (DOIT_SCOUT_REMOTE_CACHE_SECRET; without it the remote is not used). "server": any entry
# that passes the content checks, so whoever can write to the server decides what is green.
REMOTE_CACHE_TRUSTS = ("signed", "server")
_REMOTE_TRUST_ALLOWED = '"signed" (the default: only entries signed with DOIT_SCOUT_REMOTE_CACHE_SECRET) or ' \
                        '"server" (whoever can write to the server is trusted)'
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")
_REMOTE_URL = 'an http:// or https:// URL such as "https://cache.example.com/doit-scout", without user or ' \
              'password (those come from DOIT_SCOUT_REMOTE_CACHE_USER/_PASSWORD or _TOKEN)'


def _remote_values(table: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "remote_cache" in table:
        values["remote_cache"] = parse_remote_url(table["remote_cache"], "[tool.scout] remote_cache")
    if "remote_cache_write" in table:
        if not isinstance(table["remote_cache_write"], bool):
            raise _bad("remote_cache_write", table["remote_cache_write"],
                       f"true or false ({REMOTE_WRITE_ENV}=1 or 0 overrides it)")
        values["remote_cache_write"] = table["remote_cache_write"]
    if "remote_cache_timeout" in table:
        values["remote_cache_timeout"] = parse_timeout(table["remote_cache_timeout"], "remote_cache_timeout")
    if "remote_cache_trust" in table:
        if table["remote_cache_trust"] not in REMOTE_CACHE_TRUSTS:
            raise _bad("remote_cache_trust", table["remote_cache_trust"],
                       f"{_REMOTE_TRUST_ALLOWED} ({REMOTE_TRUST_ENV} overrides it)")
        values["remote_cache_trust"] = table["remote_cache_trust"]
    return values


def parse_remote_url(value: Any, where: str) -> str:
    """The base URL of a remote cache, without a trailing slash; ConfigError naming `where`."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        raise ConfigError(f"{where} = {value!r} is not allowed; expected {_REMOTE_URL}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{where} = {value!r} holds credentials, which do not belong in a file or a URL: "
                          "set DOIT_SCOUT_REMOTE_CACHE_TOKEN, or DOIT_SCOUT_REMOTE_CACHE_USER and _PASSWORD")
    try:
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError:
        raise ConfigError(f"{where} = {value!r} has an invalid port; expected {_REMOTE_URL}") from None
    return value.rstrip("/")


def remote_from_environment(config: ScoutConfig, environ: Mapping[str, str]) -> ScoutConfig:
    """DOIT_SCOUT_REMOTE_CACHE (a URL, or "off"), DOIT_SCOUT_REMOTE_CACHE_WRITE (1 or 0) and
    DOIT_SCOUT_REMOTE_CACHE_TRUST win over the table, as DOIT_SCOUT_CACHE does: CI sets them without editing the project."""
    changes: dict[str, Any] = {}
    url = environ.get(REMOTE_ENV)
    if url == "off":
        changes["remote_cache"] = None
    elif url:
        changes["remote_cache"] = parse_remote_url(url, REMOTE_ENV)
    write = environ.get(REMOTE_WRITE_ENV)
    if write is not None:
        flag = write.strip().lower()
        if flag not in _TRUE + _FALSE:
            raise ConfigError(f"{REMOTE_WRITE_ENV}={write!r} is not allowed; expected 1 or 0 (true or false)")
        changes["remote_cache_write"] = flag in _TRUE
    trust = environ.get(REMOTE_TRUST_ENV)
    if trust:
        if trust not in REMOTE_CACHE_TRUSTS:
            raise ConfigError(f"{REMOTE_TRUST_ENV}={trust!r} is not allowed; expected {_REMOTE_TRUST_ALLOWED}")
        changes["remote_cache_trust"] = trust
    return replace(config, **changes) if changes else config


_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(value: Any) -> int:
    """Bytes from 1024, "500MB", "2GB"; ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value).strip().upper().replace(" ", "")
    number = text.rstrip("KMGTB")
    unit = text[len(number):]
    if unit not in _SIZE_UNITS or not number.replace(".", "", 1).isdigit():
        raise ValueError(f"not a size: {value!r} (examples: 500MB, 2GB)")
    return int(float(number) * _SIZE_UNITS[unit])


def parse_age(value: str) -> float:
    """Seconds from "30d", "12h", "90m", "3600s", "2w"; ValueError otherwise."""
    text = value.strip().lower()
    number, unit = text[:-1], text[-1:]
    if unit not in _AGE_UNITS or not number.replace(".", "", 1).isdigit():
        raise ValueError(f"not an age: {value!r} (examples: 30d, 12h, 90m)")
    return float(number) * _AGE_UNITS[unit]


def parse_timeout(value: Any, key: str) -> float:
    """Seconds from a positive number or an age ("90s", "20m"); ConfigError otherwise."""
    try:
        seconds = parse_age(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if isinstance(value, bool) or not seconds > 0:
        raise _bad(key, value, 'a number of seconds > 0, or a duration such as "90s" or "20m"')
    return seconds


def _test_config(table: Any) -> TestConfig:
    if not isinstance(table, dict):
        raise _bad("test", table, f"a table with the keys {', '.join(TEST_KEYS)}")
    unknown = sorted(set(table) - set(TEST_KEYS))
    if unknown:
        raise ConfigError(
            f"[tool.scout.test] has unknown key {unknown[0]!r}; allowed keys are: {', '.join(TEST_KEYS)}"
        )
    values: dict[str, Any] = {}
    for key in ("always_run", "env", "pytest_args", "after"):
        if key in table:
            values[key] = _string_list(f"test.{key}", table[key])
    if "data" in table:
        data = table["data"]
        if not isinstance(data, dict):
            raise _bad("test.data", data, 'a table mapping a data glob to a list of test globs, '
                                          'such as { "fixtures/**" = ["tests/integration/**"] }')
        values["data"] = {glob: _string_list(f"test.data.{glob!r}", tests) for glob, tests in data.items()}
    if "workers" in table and table["workers"] != "auto":
        values["workers"] = _whole_number(
            "test.workers", table["workers"], 0, '"auto", 0 or 1 (one process), or a number >= 2 of xdist workers')
    if "full_every" in table:
        values["full_every"] = _whole_number(
            "test.full_every", table["full_every"], 1, "a whole number of runs >= 1 (every N-th run runs every test)")
    if "full_after" in table:
        after = table["full_after"]
        try:
            if not isinstance(after, str):
                raise ValueError(after)
            values["full_after"] = parse_age(after)
        except ValueError:
            raise _bad("test.full_after", after, 'an age such as "24h" or "7d"') from None
    if "timeout" in table:
        values["timeout"] = parse_timeout(table["timeout"], "test.timeout")
    if "executed_code" in table:
        if not isinstance(table["executed_code"], bool):
            raise _bad("test.executed_code", table["executed_code"], "true or false")
        values["executed_code"] = table["executed_code"]
    if "audit_misses" in table:
        if table["audit_misses"] not in ("fail", "warn"):
            raise _bad("test.audit_misses", table["audit_misses"], '"fail" or "warn"')
        values["audit_misses"] = table["audit_misses"]
    return TestConfig(**values)


def _steps(table: Any) -> tuple[StepConfig, ...]:
    if not isinstance(table, dict):
        raise _bad("steps", table, 'a table of steps, such as [tool.scout.steps.lint] command = "ruff check {files}"')
    return tuple(_step(name, value) for name, value in table.items())


def _step(name: str, table: Any) -> StepConfig:
    key = f"steps.{name}"
    if not STEP_NAME.match(name):
        raise _bad(key, table, "a step name of letters, digits, '_', '-' and '.'", what="key")
    if not isinstance(table, dict):
        raise _bad(key, table, f"a table with the keys {', '.join(STEP_KEYS)}")
    unknown = sorted(set(table) - set(STEP_KEYS))
    if unknown:
        raise ConfigError(f"[tool.scout.{key}] has unknown key {unknown[0]!r}; allowed keys are: {', '.join(STEP_KEYS)}")
    if "command" not in table:
        raise ConfigError(f"[tool.scout.{key}] needs a command, such as command = [\"ruff\", \"check\", \"{{files}}\"]")
    values: dict[str, Any] = {"command": _command(f"{key}.command", table["command"])}
    if "scope" in table:
        if table["scope"] not in SCOPES:
            raise _bad(f"{key}.scope", table["scope"], " or ".join(f'"{s}"' for s in SCOPES) +
                       " (files: each file alone; dependents: each module with what it imports; all: one unit)")
        values["scope"] = table["scope"]
    if "inputs" in table:
        values["inputs"] = _string_list(f"{key}.inputs", table["inputs"])
    if "batch" in table:
        values["batch"] = _whole_number(f"{key}.batch", table["batch"], 1, "a whole number >= 1 of units per invocation")
    if "env" in table:
        env = table["env"]
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise _bad(f"{key}.env", env, 'a table of environment variables for the command, such as { NO_COLOR = "1" }')
        values["env"] = dict(env)
    if "after" in table:
        values["after"] = _string_list(f"{key}.after", table["after"])
    return StepConfig(name, **values)


def _command(key: str, value: Any) -> tuple[str, ...]:
    try:
        command = shlex.split(value) if isinstance(value, str) else value
    except ValueError as err:
        raise _bad(key, value, f"a command line shlex can split ({err})") from None
    if not isinstance(command, list) or not command or not all(isinstance(a, str) and a for a in command):
        raise _bad(key, value, 'a non-empty list of arguments or a string, such as "ruff check {files}"')
    for argument in command:
        try:
            names = placeholders_in(argument)
        except ValueError:
            raise _bad(key, value, "balanced braces: {files} and {modules} are placeholders, "
                                   "{{ and }} stand for literal braces") from None
        unknown = [n for n in names if n not in PLACEHOLDERS]
        if unknown:
            raise _bad(key, value, f"only the placeholders {', '.join('{' + p + '}' for p in PLACEHOLDERS)}; "
                                   f"{{{unknown[0]}}} is unknown (write {{{{ and }}}} for literal braces)")
    return tuple(command)


def _check_order(config: ScoutConfig) -> None:
    """Every `after` names a step (or, for a step, "test"), and the order has no cycle."""
    names = {step.name for step in config.steps}
    order: dict[str, tuple[str, ...]] = {"test": config.test.after}
    for step in config.steps:
        order[step.name] = step.after
    for owner, after in order.items():
        allowed = names | ({"test"} if owner != "test" else set())
        key = "test.after" if owner == "test" else f"steps.{owner}.after"
        what = "names of declared steps" + (' or "test"' if owner != "test" else "")
        for name in after:
            if name not in allowed:
                declared = ", ".join(sorted(names)) or "no steps"
                raise _bad(key, list(after), f"{what}; {name!r} is none (declared: {declared})")
    try:
        tuple(TopologicalSorter(order).static_order())
    except CycleError as err:
        cycle = " waits for ".join(reversed(err.args[1]))
        raise ConfigError(f"[tool.scout] the `after` lists make a cycle: {cycle}; remove one of these "
                          "so that each step can run after the ones it waits for") from None


def _categories(value: Any) -> dict[str, tuple[str, ...]]:
    names = [c.value for c in Category]
    if not isinstance(value, dict):
        raise _bad("categories", value, f"a table mapping a category ({', '.join(names)}) to a list of globs")
    for name in value:
        if name not in names:
            raise _bad(f"categories.{name}", value[name], f"a category name, one of: {', '.join(names)}",
                       what="key")
    return {name: _string_list(f"categories.{name}", globs) for name, globs in value.items()}


def _whole_number(key: str, value: Any, minimum: int, allowed: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _bad(key, value, allowed)
    return value


def _string_list(key: str, value: Any, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and (v or allow_empty) for v in value):
        raise _bad(key, value, "a list of folders (\"\" is the project root)" if allow_empty
                   else "a list of non-empty strings")
    return tuple(value)


def _bad(key: str, value: Any, allowed: str, what: str = "value") -> ConfigError:
    if what == "key":
        return ConfigError(f"[tool.scout] has unknown key {key!r}; allowed: {allowed}")
    return ConfigError(f"[tool.scout] {key} = {value!r} is not allowed; expected {allowed}")
