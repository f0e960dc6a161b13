"""grimp's import graph for nodes named by file paths that are not UTF-8.

A file name that is not UTF-8 reaches Python as a str with surrogate escapes (os.fsdecode):
"data/caf\\udce9.txt" for b"data/caf\\xe9.txt". grimp's graph lives in Rust and takes only UTF-8
strings, so such a node would end `doit explain` with a UnicodeEncodeError. In grimp, such a name is
a NUL (which no path or module name holds) and the hex of its bytes; callers see the names they gave.
"""

from __future__ import annotations

from typing import Any

import grimp

_ESCAPED = "\0"


def _in(name: str) -> str:
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return _ESCAPED + name.encode("utf-8", "surrogateescape").hex()
    return name


def _out(name: str) -> str:
    if name.startswith(_ESCAPED):
        return bytes.fromhex(name[1:]).decode("utf-8", "surrogateescape")
    return name


class PathImportGraph(grimp.ImportGraph):
    """grimp.ImportGraph for the calls doit-scout makes, with any str as a node's name."""

    _names: set[str] | None = None  # `modules` as callers name them; made again after a change

    @property
    def modules(self) -> set[str]:
        if self._names is None:
            self._names = {_out(m) for m in super().modules}
        return self._names

    def add_module(self, module: str, is_squashed: bool = False) -> None:
        self._names = None
        super().add_module(_in(module), is_squashed)

    def add_import(self, *, importer: str, imported: str, **details: Any) -> None:
        self._names = None
        super().add_import(importer=_in(importer), imported=_in(imported), **details)

    def find_upstream_modules(self, module: str, as_package: bool = False) -> set[str]:
        return {_out(m) for m in super().find_upstream_modules(_in(module), as_package)}

    def find_shortest_chain(self, importer: str, imported: str, as_packages: bool = False) -> tuple[str, ...] | None:
        chain = super().find_shortest_chain(_in(importer), _in(imported), as_packages)
        return None if chain is None else tuple(_out(m) for m in chain)
