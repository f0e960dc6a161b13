import os
import shutil
from pathlib import Path

from helpers import age_files, close_shared_caches, git, git_init, scout, write_files

import doit_scout.analyzers.hashing
from doit_scout.analyzers.fingerprints import compute_fingerprints
from doit_scout.analyzers.graph import node_contents
from doit_scout.analyzers.imports import MAX_PARSE_BYTES
from doit_scout.config import ScoutConfig
from doit_scout.context import RunContext
from doit_scout.parsing import PARALLEL_PARSE_THRESHOLD
from doit_scout.scout import current_state, run_scout
from doit_scout.scout_state import ScoutState


def test_scout_builds_the_graph_of_a_project(project: Path):
    run = scout(project)
    graph = run.state.graph
    assert set(graph.modules) == {"pkg", "pkg.core", "pkg.util", "pkg.extra", "tests.conftest",
                                  "tests.test_core", "tests.test_extra"}
    imports = run.state.import_graph
    assert imports.find_upstream_modules("tests.test_core") == {
        "pkg", "pkg.core", "pkg.util", "tests.conftest", "data:pkg/data/table.csv"}
    assert (project / ".scout" / ".gitignore").read_text().strip().endswith("*")


def test_module_fingerprints_cover_the_conftest_closures_and_follow_them(project: Path):
    (project / "tests" / "conftest.py").write_text("import pytest\nfrom pkg import core\n")
    before = scout(project).state.fingerprints
    # what collection can depend on (pkg/__init__.py reads the table)
    assert set(before) == {"tests.conftest", "pkg", "pkg.core", "pkg.util", "data:pkg/data/table.csv"}
    (project / "pkg" / "util.py").write_text("def base():\n    return 40\n")
    after = scout(project).state.fingerprints
    assert {n for n in after if after[n] != before[n]} == {"pkg.util", "pkg.core", "tests.conftest"}
    (project / "tests" / "conftest.py").write_text("import pkg.extra\n")
    assert set(scout(project).state.fingerprints) == {"tests.conftest", "pkg", "pkg.extra", "data:pkg/data/table.csv"}


def test_git_inventory_lists_untracked_but_not_ignored_files(project: Path):
    write_files(project, {".gitignore": "ignored.txt\n", "ignored.txt": "x"})
    git_init(project)
    write_files(project, {"untracked.py": "import pkg\n", "pkg/__pycache__/core.cpython-311.pyc": "x",
                          ".venv/lib/x.py": "", "venv2/pyvenv.cfg": "", "venv2/lib/y.py": ""})
    run = scout(project)
    assert run.inventory == "git"
    assert "untracked.py" in run.state.files and "ignored.txt" not in run.state.files
    assert not any(p.startswith((".venv/", "venv2/", ".scout/")) or p.endswith(".pyc") for p in run.state.files)


def test_tracked_file_deleted_from_the_work_tree_counts_as_deleted(project: Path):
    git_init(project)
    scout(project)
    (project / "pkg" / "extra.py").unlink()  # still in git's index
    run = scout(project)
    assert run.changes.deleted == ("pkg/extra.py",)
    assert "missing:pkg.extra" in run.state.graph.missing


def test_walk_inventory_outside_git_skips_environments_and_symlink_loops(project: Path):
    write_files(project, {"env/pyvenv.cfg": "", "env/lib/m.py": "", "build/lib/pkg/core.py": "",
                          "node_modules/x/index.js": ""})
    os.symlink(project / "loop", project / "loop")
    os.symlink(project / "pkg", project / "pkg_link")  # a folder link is not entered
    run = scout(project)
    assert run.inventory == "walk"
    assert not any(p.startswith(("env/", "build/", "node_modules/", "pkg_link/")) for p in run.state.files)
    assert "loop" in run.state.files and any("cannot read loop" in w for w in run.warnings)


def test_scout_of_a_subfolder_of_a_git_repository(tmp_path: Path, project: Path):
    outer = project.parent
    write_files(outer, {"other/thing.py": ""})
    git_init(outer)
    run = scout(project)
    assert run.inventory == "git" and "pkg/core.py" in run.state.files and "other/thing.py" not in run.state.files


def test_syntax_error_marks_the_file_and_its_dependents_change(project: Path):
    before = scout(project).state
    (project / "pkg" / "util.py").write_text("def base(:\n")
    after = scout(project).state
    assert after.graph.broken == {"pkg.util": "syntax error at line 1: invalid syntax"}
    assert module_fingerprints(after)["pkg.core"] != module_fingerprints(before)["pkg.core"]
    assert module_fingerprints(after)["tests.test_extra"] == module_fingerprints(before)["tests.test_extra"]
    assert ("pkg.core", "pkg.util") in {(e.importer, e.imported) for e in after.graph.edges}


def module_fingerprints(state: ScoutState) -> dict[str, str]:
    return compute_fingerprints(node_contents(state.graph, state.digests()), state.graph.successors())


def test_non_utf8_empty_and_huge_files_are_handled(project: Path):
    write_files(project, {
        "pkg/latin.py": b"name = '\xe9'\n",
        "pkg/empty.py": b"",
        "pkg/huge.py": b"# " + b"x" * MAX_PARSE_BYTES + b"\nimport pkg.core\n",
        "pkg/blob.bin": os.urandom(5 * 1024 * 1024),
    })
    state = scout(project).state
    assert "utf-8" in state.graph.broken["pkg.latin"]
    assert "pkg.empty" in state.graph.modules and "pkg.empty" not in state.graph.broken
    assert "over the" in state.graph.broken["pkg.huge"]
    assert state.files["pkg/blob.bin"].category.value == "data"


def test_unreadable_file_is_reported_and_never_up_to_date(project: Path, monkeypatch):
    path = project / "pkg" / "util.py"

    # Permissions cannot stop root, which CI runs as: refuse the read where the scout opens files.
    def refusing_open(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return open(file, *args, **kwargs)

    monkeypatch.setattr(doit_scout.analyzers.hashing, "open", refusing_open, raising=False)
    first = scout(project)
    second = scout(project)
    assert any("cannot read pkg/util.py: Permission denied" in w for w in first.warnings)
    assert first.state.graph.broken["pkg.util"] == "file could not be read"
    assert second.changes.modified == ("pkg/util.py",)
    assert first.state.digests()["pkg/util.py"] != second.state.digests()["pkg/util.py"]


def test_corrupt_or_truncated_state_is_rebuilt_with_a_warning(project: Path):
    good = scout(project).state.facts()
    state_file = project / ".scout" / "state.json"
    text = state_file.read_text()
    # An import edge moved to another module: still valid JSON, caught by the graph's checksum.
    moved = text.replace("pkg.util", "pkg.extr", 1) if "pkg.util" in text else None
    assert moved is not None and moved != text
    for damage in (text[: len(text) // 2], "[]", '{"schema": 1}', '{"schema": 999}', "\xff", moved):
        state_file.write_text(damage)
        run = scout(project)
        assert any("rebuilt from scratch" in w for w in run.warnings), damage
        assert run.state.facts() == good


def test_damaged_shared_cache_is_replaced_with_a_warning(project: Path, shared_cache_folder: Path):
    scout(project)
    close_shared_caches()
    (project / ".scout" / "state.json").unlink()
    (shared_cache_folder / "cache.sqlite").write_bytes(b"this is not a database" * 100)
    run = scout(project)
    assert any("was damaged" in w for w in run.warnings)
    assert run.parsed == len({run.state.files[p].digest for p in run.state.graph.modules.values()})


def test_each_content_is_parsed_once(project: Path):
    scout(project)
    shutil.rmtree(project / "pkg")
    write_files(project, {"lib/__init__.py": "", "lib/core.py": "from pkg import util\n\ndef answer():\n"
                          "    return util.base() + 1\n"})
    # lib/core.py has pkg/core.py's bytes and lib/__init__.py those of pkg/__init__.py.
    moved = scout(project)
    contents = {moved.state.files[p].digest for p in moved.state.graph.modules.values()}
    assert moved.parsed == 0 and moved.parse_cache_hits == len(contents)
    (project / ".scout" / "state.json").unlink()
    fresh = scout(project)  # the whole graph comes from the shared cache
    assert fresh.from_snapshot and fresh.parsed == 0 and fresh.state.facts() == moved.state.facts()


def test_parallel_parsing_gives_the_same_state(tmp_path: Path, monkeypatch):
    files = {"pkg/__init__.py": ""}
    for i in range(PARALLEL_PARSE_THRESHOLD + 20):
        files[f"pkg/m{i}.py"] = f"from pkg import m{(i * 7) % 50}\nimport pkg.m{(i + 1) % 30}\nX = {i}\n"
    serial, parallel = tmp_path / "a", tmp_path / "b"
    write_files(serial, files)
    write_files(parallel, files)
    one = scout(serial, ScoutConfig(parse_workers=0))
    monkeypatch.setenv("DOIT_SCOUT_CACHE", str(tmp_path / "another-cache"))
    two = scout(parallel, ScoutConfig(parse_workers=2))
    assert two.parsed == one.parsed == len(files)
    assert one.state.facts() == two.state.facts()


def test_config_categories_and_excludes_apply(project: Path):
    write_files(project, {"examples/demo/app.py": "import pkg\n", "scratch/tmp.py": ""})
    run = scout(project, ScoutConfig(parse_workers=0, categories={"data": ("examples/**",)},
                                      exclude=("scratch/**",)))
    assert run.state.files["examples/demo/app.py"].category.value == "data"
    assert "scratch/tmp.py" not in run.state.files
    assert not any(n.startswith("examples") for n in run.state.graph.modules)


def test_renamed_module_leaves_its_importers_pointing_at_a_missing_module(project: Path):
    git_init(project)
    scout(project)
    git(project, "mv", "pkg/extra.py", "pkg/extras.py")
    run = scout(project)
    assert run.changes.added == ("pkg/extras.py",) and run.changes.deleted == ("pkg/extra.py",)
    assert "missing:pkg.extra" in run.state.graph.missing
    assert ("tests.test_extra", "missing:pkg.extra") in {(e.importer, e.imported) for e in run.state.graph.edges}


def test_lost_parse_cache_is_refilled_from_unchanged_files(project: Path, shared_cache_folder: Path):
    age_files(project)
    scout(project)
    close_shared_caches()
    shutil.rmtree(shared_cache_folder)
    write_files(project, {"pkg/new.py": "import pkg.util\n"})  # a new module: every import is resolved again
    run = scout(project)
    assert run.files_read == 1 and run.parsed == len({run.state.files[p].digest for p in run.state.graph.modules.values()})
    assert ("pkg.new", "pkg.util") in {(e.importer, e.imported) for e in run.state.graph.edges}
    assert not run.state.graph.broken and not run.warnings


def test_the_gates_of_one_run_read_the_state_once_and_again_after_a_scout(project: Path):
    context = RunContext(project, ScoutConfig(parse_workers=0))
    run_scout(context)
    first = current_state(context)
    assert current_state(context) is first  # the steps' and the tests' gates share it
    (project / "pkg" / "util.py").write_text("def base():\n    return 40 + 1\n")
    run_scout(context)  # a step re-scouts after running: what follows must see that state
    after = current_state(context)
    assert after is not first
    assert after.files["pkg/util.py"].digest != first.files["pkg/util.py"].digest
