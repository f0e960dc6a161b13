from datetime import date

from todo.reports import summary


def test_summary(store):
    assert summary(store.all(), date(2026, 2, 1)) == "3 open, 2 urgent, 1 overdue (3 tasks)"
