from datetime import date

from todo.filters import open_tasks, overdue, tagged


def test_overdue_skips_done_tasks(store):
    store.get(1).complete()
    assert [t.title for t in overdue(store.all(), date(2026, 5, 1))] == ["file taxes"]


def test_tagged(store):
    assert [t.id for t in tagged(store.all(), "home")] == [2]
    assert len(open_tasks(store.all())) == 3
