import sys

import pytest

from doit_scout.analyzers.graph import ImportEdge, build_project_graph
from doit_scout.analyzers.imports import parse_imports
from doit_scout.analyzers.modules import locate_modules


def graph_of(files: dict[str, str], source_roots=("",), tests=(), external=sys.stdlib_module_names | {"pytest"}):
    modules = locate_modules(files, source_roots)
    parses = {p: parse_imports(s.encode()) for p, s in files.items()}
    return build_project_graph(
        modules.values(), parses, source_roots=source_roots, test_paths=set(tests),
        is_external=lambda name: name in external,
    )


def pairs(graph):
    return {(e.importer, e.imported) for e in graph.edges}


def test_module_names_for_src_flat_tests_and_namespace_layouts():
    modules = locate_modules([
        "src/app/__init__.py", "src/app/core.py", "src/ns/mod.py", "tests/test_a.py",
        "tests/unit/test_b.py", "pkg/__init__.py", "pkg/tests/__init__.py", "pkg/tests/test_c.py",
        "dodo.py",
    ], ("src", ""))
    summary = {p: (m.node, m.importable, m.root) for p, m in modules.items()}
    assert summary == {
        "src/app/__init__.py": ("app", "app", "src"),
        "src/app/core.py": ("app.core", "app.core", "src"),
        "src/ns/mod.py": ("ns.mod", "ns.mod", "src"),
        "tests/test_a.py": ("tests.test_a", "test_a", "tests"),
        "tests/unit/test_b.py": ("tests.unit.test_b", "test_b", "tests/unit"),
        "pkg/__init__.py": ("pkg", "pkg", ""),
        "pkg/tests/__init__.py": ("pkg.tests", "pkg.tests", ""),
        "pkg/tests/test_c.py": ("pkg.tests.test_c", "pkg.tests.test_c", ""),
        "dodo.py": ("dodo", "dodo", ""),
    }


def test_imports_resolve_to_modules_and_packages_run_their_parents():
    graph = graph_of({
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/leaf.py": "import os\n",
        "pkg/a.py": "import pkg.sub.leaf\nfrom pkg.sub import leaf\nfrom . import b\nfrom .sub.leaf import name\n",
        "pkg/b.py": "from .. import outside\n",
    })
    assert pairs(graph) == {
        ("pkg.a", "pkg.sub.leaf"), ("pkg.a", "pkg.sub"), ("pkg.a", "pkg"), ("pkg.a", "pkg.b"),
        ("pkg.b", "pkg"), ("pkg.sub", "pkg"), ("pkg.sub.leaf", "pkg.sub"),
        ("pkg.b", "missing:..outside"),
    }
    assert graph.missing == {"missing:..outside"}


def test_missing_project_module_stays_visible_and_external_imports_are_not_edges():
    graph = graph_of({
        "pkg/__init__.py": "",
        "pkg/a.py": "import json\nimport pkg.gone\nfrom pkg import also_gone\nimport deleted_top\n",
    })
    assert {"missing:pkg.gone", "missing:deleted_top"} <= graph.missing
    assert ("pkg.a", "pkg") in pairs(graph)
    assert not any("json" in e.imported for e in graph.edges)


def test_tests_outside_packages_import_siblings_and_depend_on_conftest_chain():
    graph = graph_of({
        "conftest.py": "",
        "pkg/__init__.py": "",
        "tests/conftest.py": "import pytest\n",
        "tests/helpers.py": "import pkg\n",
        "tests/unit/conftest.py": "",
        "tests/unit/test_x.py": "import helpers_nearby\n",
        "tests/unit/helpers_nearby.py": "",
        "tests/test_y.py": "import helpers\nfrom pkg import thing\n",
    }, tests={"tests/unit/test_x.py", "tests/test_y.py"})
    edges = pairs(graph)
    assert {("tests.unit.test_x", "tests.unit.conftest"), ("tests.unit.test_x", "tests.conftest"),
            ("tests.unit.test_x", "conftest"), ("tests.unit.test_x", "tests.unit.helpers_nearby")} <= edges
    assert {("tests.test_y", "tests.helpers"), ("tests.test_y", "pkg"), ("tests.test_y", "tests.conftest"),
            ("tests.test_y", "conftest")} <= edges
    assert ("tests.test_y", "tests.unit.conftest") not in edges


def test_edge_kinds_and_lines():
    graph = graph_of({
        "pkg/__init__.py": "",
        "pkg/t.py": "",
        "pkg/a.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.t\n"
                     "def f():\n    import pkg.b\nimport importlib\nimportlib.import_module('pkg.c')\n"
                     "pytest_plugins = ['pkg.d']\n"),
        "pkg/b.py": "", "pkg/c.py": "", "pkg/d.py": "",
    })
    kinds = {e.imported: (e.kind, e.line) for e in graph.edges if e.importer == "pkg.a"}
    assert kinds == {"pkg.t": ("type_checking", 3), "pkg.b": ("function", 5), "pkg.c": ("dynamic", 7),
                     "pkg.d": ("plugin", 8), "pkg": ("parent", 0)}


def test_src_layout_resolution_and_broken_file():
    graph = graph_of({
        "src/app/__init__.py": "",
        "src/app/core.py": "from app import broken\n",
        "src/app/broken.py": "def (:\n",
        "tests/test_core.py": "from app.core import thing\n",
    }, source_roots=("src", ""), tests={"tests/test_core.py"})
    assert ("tests.test_core", "app.core") in pairs(graph)
    assert ("app.core", "app.broken") in pairs(graph)
    assert graph.broken == {"app.broken": "syntax error at line 1: invalid syntax"}


def test_grimp_graph_holds_the_same_modules_and_edges():
    graph = graph_of({
        "pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n", "pkg/b.py": "import pkg.c\n",
        "pkg/c.py": "import pkg.gone\n",
    })
    imports = graph.to_import_graph()
    assert imports.modules == {"pkg", "pkg.a", "pkg.b", "pkg.c", "missing:pkg.gone"}
    assert imports.find_upstream_modules("pkg.a") == {"pkg", "pkg.b", "pkg.c", "missing:pkg.gone"}
    assert imports.find_shortest_chain(importer="pkg.a", imported="missing:pkg.gone") == (
        "pkg.a", "pkg.b", "pkg.c", "missing:pkg.gone")
    assert imports.count_imports() == len(graph.edges)


def test_duplicate_module_names_keep_the_first_file_and_report_the_other():
    graph = graph_of({"app/__init__.py": "", "src/app/__init__.py": ""}, source_roots=("src", ""))
    assert graph.modules == {"app": "app/__init__.py"} and graph.shadowed == ("src/app/__init__.py",)
    assert isinstance(graph.edges, tuple) and all(isinstance(e, ImportEdge) for e in graph.edges)


def test_data_files_are_inputs_of_their_package_and_of_nearby_tests():
    from doit_scout.analyzers.data_deps import data_inputs, rules_from_config
    modules = locate_modules([
        "pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/m.py", "tests/test_a.py", "tests/unit/test_b.py",
        "tests/integration/test_c.py",
    ], ("",))
    reads = data_inputs(
        modules.values(),
        ["pkg/sub/table.csv", "pkg/templates/page.html", "tests/data/one.json", "tests/unit/fixtures/two.json",
         "fixtures/big.sql"],
        test_paths={"tests/test_a.py", "tests/unit/test_b.py", "tests/integration/test_c.py"},
        test_dirs=("tests",),
        rules=rules_from_config({"fixtures/*.sql": ["tests/integration/**"]}),
    )
    assert reads == {
        "pkg.sub": ["data:pkg/sub/table.csv"],
        "pkg": ["data:pkg/templates/page.html"],
        "tests.test_a": ["data:tests/data/one.json"],
        "tests.unit.test_b": ["data:tests/data/one.json", "data:tests/unit/fixtures/two.json"],
        "tests.integration.test_c": ["data:fixtures/big.sql", "data:tests/data/one.json"],
    }


# A lazy loader: `__getattr__` imports a submodule by a computed name. attrs binds it by assignment
# (`__getattr__ = _make_getattr(__name__)`); click, pluggy, marshmallow answer only `__version__`.
LOAD = b"        import importlib\n        return importlib.import_module('.' + name, __name__)\n"
GETATTR_DEF = b"def __getattr__(name):\n    if name:\n" + LOAD
GETATTR_ASSIGNED = (b"def _make_getattr(mod_name):\n    def __getattr__(name):\n        if name:\n    " + LOAD.replace(b"\n    ", b"\n        ")
                    + b"    return __getattr__\n\n\n__getattr__ = _make_getattr(__name__)\n")
GETATTR_VERSION = (b"def __getattr__(name):\n    if name == '__version__':\n        from importlib.metadata import version\n"
                   b"        return version('pkg')\n    raise AttributeError(name)\n")


@pytest.mark.parametrize("package_source, lazy", [(GETATTR_DEF, True), (GETATTR_ASSIGNED, True), (GETATTR_VERSION, False)],
                         ids=["def", "assigned", "version-only"])
def test_attribute_chains_reach_submodules_and_a_lazy_loading_package_reaches_all_of_its_modules(package_source, lazy):
    from doit_scout.analyzers.graph import build_project_graph
    from doit_scout.analyzers.imports import parse_imports

    files = {
        "pkg/__init__.py": package_source,
        "pkg/lazy.py": b"",
        "pkg/sub/__init__.py": b"",
        "pkg/sub/deep.py": b"",
        "tests/test_a.py": b"import pkg\n\ndef test():\n    pkg.sub.deep.f()\n    pkg.nothing.here\n",
    }
    modules = locate_modules(files, [""])
    graph = build_project_graph(
        modules.values(), {p: parse_imports(b) for p, b in files.items()}, source_roots=[""],
        test_paths={"tests/test_a.py"}, is_external=lambda name: True,
    )
    edges = {(e.importer, e.imported, e.kind) for e in graph.edges}
    assert ("tests.test_a", "pkg.sub.deep", "attribute") in edges
    assert ({("pkg", "pkg.lazy", "getattr"), ("pkg", "pkg.sub", "getattr")} <= edges) is lazy
    assert not graph.missing  # an attribute that is no module is not a missing module
