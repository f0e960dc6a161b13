import pytest

from todo.errors import UnknownTask


def test_ids_count_up(store):
    assert [t.id for t in store.all()] == [1, 2, 3]


def test_unknown_id_raises(store):
    with pytest.raises(UnknownTask):
        store.get(99)
