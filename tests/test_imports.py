from doit_scout.analyzers.imports import MAX_PARSE_BYTES, ImportRecord, ParseResult, parse_imports


def only(result: ParseResult) -> ImportRecord:
    assert result.error is None
    (record,) = result.imports
    return record


def test_absolute_and_relative_imports_with_level_and_line():
    result = parse_imports(b"import os.path as p, a.b\n\nfrom ..pkg.mod import x, y\nfrom . import z\n")
    assert [(i.module, i.names, i.level, i.line) for i in result.imports] == [
        ("os.path", (), 0, 1), ("a.b", (), 0, 1), ("pkg.mod", ("x", "y"), 2, 3), ("", ("z",), 1, 4),
    ]


def test_type_checking_imports_are_marked_but_else_branch_is_not():
    source = b"""
import typing
if typing.TYPE_CHECKING:
    from a import A
else:
    import b
"""
    flags = {i.module: i.type_checking for i in parse_imports(source).imports if not i.attribute}
    assert flags == {"typing": False, "a": True, "b": False}


def test_only_typings_own_type_checking_flag_marks_imports_for_a_type_checker():
    source = b"""
from typing import TYPE_CHECKING
import typing as t
from flags import TYPE_CHECKING as OWN
if TYPE_CHECKING:
    import a
if t.TYPE_CHECKING:
    import b
if OWN:
    import c
if other.TYPE_CHECKING:
    import d
"""
    flags = {i.module: i.type_checking for i in parse_imports(source).imports if not i.attribute}
    assert flags == {"typing": False, "flags": False, "a": True, "b": True, "c": False, "d": False}
    # Bound again anywhere in the module, the flag may be true when the code runs.
    rebound = source + b"def enable():\n    global TYPE_CHECKING\n    TYPE_CHECKING = True\n"
    flags = {i.module: i.type_checking for i in parse_imports(rebound).imports if not i.attribute}
    assert flags["a"] is False and flags["b"] is True


def test_attribute_chains_on_imported_names_and_a_module_getattr():
    source = b"""
import pkg
import pkg.sub as s
from other import mod
def __getattr__(name):
    return name
pkg.lazy.value()
pkg.lazy.value.real
s.deep.f
mod.thing
local = object()
local.attr.x
"""
    result = parse_imports(source)
    chains = {i.module for i in result.imports if i.attribute}
    assert chains == {"pkg.lazy.value.real", "pkg.sub.deep.f", "other.mod.thing"}
    assert result.symbols.module_getattr and not parse_imports(b"def f(): pass\n").symbols.module_getattr
    assert ParseResult.from_json(result.to_json()) == result


def test_imports_inside_functions_and_methods_are_marked():
    source = b"import top\nclass C:\n    def m(self):\n        import inner\nasync def f():\n    import ainner\n"
    flags = {i.module: i.in_function for i in parse_imports(source).imports}
    assert flags == {"top": False, "inner": True, "ainner": True}


def test_string_literal_dynamic_imports():
    source = b"""
import importlib
from importlib import import_module
m = importlib.import_module("pkg.plugins.csv")
n = import_module(".sibling", package=__package__)
o = __import__("legacy.mod")
p = importlib.import_module(name_from_config)
"""
    result = parse_imports(source)
    dynamic = [(i.module, i.level, i.line) for i in result.imports if i.dynamic]
    assert dynamic == [("pkg.plugins.csv", 0, 4), ("sibling", 1, 5), ("legacy.mod", 0, 6)]
    assert result.unresolved_dynamic == (7,)


def test_pytest_plugins_declarations():
    result = parse_imports(b'pytest_plugins = ["fixtures.db", "fixtures.web"]\n')
    assert [(i.module, i.pytest_plugin) for i in result.imports] == [("fixtures.db", True), ("fixtures.web", True)]
    assert only(parse_imports(b'pytest_plugins = "fixtures.one"\n')).pytest_plugin


def test_syntax_error_is_reported_with_line_and_no_imports():
    result = parse_imports(b"import a\n\ndef broken(:\n")
    assert result.imports == () and result.error.startswith("syntax error at line 3")


def test_non_utf8_source_is_an_error_not_a_crash():
    assert "utf-8" in parse_imports(b"x = '\xff\xfe'\nimport a\n").error


def test_declared_encoding_is_honoured():
    source = "# -*- coding: latin-1 -*-\nimport caf\xe9\n".encode("latin-1")
    assert only(parse_imports(source)).module == "caf\xe9"


def test_null_bytes_are_an_error():
    assert parse_imports(b"import a\x00\n").error is not None


def test_empty_file_has_no_imports():
    result = parse_imports(b"")
    assert (result.imports, result.error) == ((), None)
    assert result.symbols is not None and result.symbols.definitions == {}


def test_huge_file_is_not_parsed_and_says_so():
    result = parse_imports(b"#" * (MAX_PARSE_BYTES + 1))
    assert result.imports == () and "over the" in result.error


def test_parse_result_round_trips_through_json():
    result = parse_imports(b"if TYPE_CHECKING:\n    from .a import b\npytest_plugins = 'p'\nimport_module(x)\n")
    assert ParseResult.from_json(result.to_json()) == result
