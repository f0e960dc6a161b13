import pytest

from todo.errors import InvalidDate
from todo.serialization import dumps, from_dict, loads


def test_round_trip(store):
    tasks = store.all()
    assert [vars(t) for t in loads(dumps(tasks))] == [vars(t) for t in tasks]


def test_bad_date_is_reported():
    with pytest.raises(InvalidDate):
        from_dict({"id": 1, "title": "x", "priority": "low", "due": "tomorrow", "done": False, "tags": []})


def test_reads_a_saved_list():
    from pathlib import Path

    tasks = loads((Path(__file__).parent / "data" / "tasks.json").read_text())
    assert [t.title for t in tasks] == ["buy milk", "ship release"]
