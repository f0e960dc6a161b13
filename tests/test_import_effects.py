"""analyzers.import_effects: which test modules' import may change what other files' tests read."""

from __future__ import annotations

import pytest

from doit_scout.analyzers.import_effects import has_import_effects


@pytest.mark.parametrize("source", [
    "from pkg import m\n\nm.registry['x'] = 1\n",
    "from pkg import m\n\nm.register(1)\n",
    "import random\n\nrandom.seed(1)\n",
    "import enum\n\nif True:\n    enum.StrEnum = enum.Enum\n",
    "from pkg import app\n\n\n@app.route('/')\ndef test_home():\n    pass\n",
    "X = setattr(__import__('pkg'), 'flag', 1)\n",
    "def broken(:\n",
    "from hypothesis import settings\n\nsettings.register_profile('ci', max_examples=5)\nsettings.load_profile('ci')\n",
    "import attr\n\nattr.set_run_validators(False)\n",
])
def test_code_that_changes_other_modules_state_at_import_is_an_effect(source: str):
    assert has_import_effects(source)


@pytest.mark.parametrize("source", [
    '"""Docs."""\nimport pytest\n\nfrom pkg import m\n\nCASES = {}\nCASES["a"] = 1\nALLOWED = set()\nALLOWED.add("x")\n',
    "import pytest\n\nneeds_x = pytest.mark.skipif(False, reason='')\n\n\n@needs_x\n@pytest.mark.parametrize('a', [1])\n"
    "def test_a(a):\n    m.state = a  # in a body: runs in the test's own process\n",
    "import functools\nfrom pkg import make\n\napp = make()\n\n\nclass TestA:\n    @staticmethod\n"
    "    @functools.lru_cache\n    def helper():\n        return 1\n",
    "from hypothesis import given, settings, strategies as st\n\n\n@st.composite\ndef pairs(draw):\n"
    "    return draw(st.integers()), 1\n\n\n@settings(max_examples=5)\n@given(pairs())\ndef test_p(p):\n    pass\n",
    "import attr\nimport attrs\n\n\n@attr.s(eq=True)\nclass C:\n    x = attr.ib()\n\n\n@attrs.define\nclass D:\n    y: int\n",
])
def test_a_module_that_imports_defines_and_assigns_its_own_names_has_no_effect(source: str):
    assert not has_import_effects(source)
