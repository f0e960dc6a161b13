"""analyzers.state_writes: which function bodies may leave state behind for a later test."""

from __future__ import annotations

import ast
import textwrap

import pytest

from doit_scout.analyzers.state_writes import may_leave_state, state_writers

LEAVES_STATE = {
    "self-attribute": "def f(self, v):\n    self.v = v\n",
    "argument-item": "def f(d, k):\n    d[k] = 1\n",
    "argument-method": "def f(items):\n    items.append(1)\n",
    "global": "def f():\n    global N\n    N = 1\n",
    "nonlocal": "def f():\n    n = 0\n    def g():\n        nonlocal n\n        n += 1\n    return g\n",
    "module-dict-in-nested-function": "def f():\n    def g():\n        REGISTRY['a'] = 1\n    return g\n",
    "item-of-a-made-container": "def f(x):\n    made = {'a': x}\n    made['a'].append(1)\n",
    "name-rebound-to-an-argument": "def f(x):\n    d = {}\n    d = x\n    d['k'] = 1\n",
    "setattr": "def f(o):\n    setattr(o, 'a', 1)\n",
    "heappush": "def f(h, x):\n    import heapq\n    heapq.heappush(h, x)\n",
    "thread-started": "def f(t):\n    import threading\n    threading.Thread(target=t).start()\n",
    "for-target-attribute": "def f(o):\n    for o.a in range(3):\n        pass\n",
    "initializer-registers-itself": "def __init__(self, registry):\n    registry.append(self)\n",
    "initializer-mutates-a-class-list": "def __init__(self):\n    self.items.append(1)\n",
    "initializer-sets-a-class-attribute": "def __init__(self):\n    self.__class__.count = 1\n",
    "not-an-initializer": "def setup(self, n):\n    self.value = n\n",
    "next-of-a-shared-iterator": "def f():\n    return next(SHARED)\n",
}

LEAVES_NOTHING = {
    "serializer": "def f(self, value, attr, obj, **kw):\n    schema = self.schema\n    if value is None:\n"
                  "        return None\n    return schema.dump(value, many=self.many)\n",
    "made-dict": "def f():\n    out = {}\n    out['a'] = 1\n    return out\n",
    "made-list": "def f(x):\n    out = []\n    out.append(x)\n    return out\n",
    "arithmetic": "def f(x):\n    return len(x) + sum(x)\n",
    "initializer": "def __init__(self, a, b):\n    self.a, self.b = a, b\n",
}


@pytest.mark.parametrize("source", LEAVES_STATE.values(), ids=LEAVES_STATE.keys())
def test_a_body_that_writes_somewhere_that_outlives_its_call_may_leave_state(source: str):
    assert may_leave_state(ast.parse(source).body[0])


@pytest.mark.parametrize("source", LEAVES_NOTHING.values(), ids=LEAVES_NOTHING.keys())
def test_a_body_that_only_computes_and_returns_leaves_nothing(source: str):
    assert not may_leave_state(ast.parse(source).body[0])


def test_a_name_defined_twice_leaves_state_when_either_body_does():
    tree = ast.parse(textwrap.dedent("""\
        class C:
            @property
            def v(self):
                return self._v

            @v.setter
            def v(self, value):
                self._v = value

            def total(self):
                return self._v * 2
        """))
    cls = tree.body[0]
    functions = [(f"C.{f.name}", f) for f in cls.body]
    assert state_writers(functions) == {"C.v"}
