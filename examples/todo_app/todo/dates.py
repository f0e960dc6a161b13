from datetime import date

from todo.errors import InvalidDate


def parse_due(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise InvalidDate(f"not a date (YYYY-MM-DD): {text!r}") from err


def days_left(due: date, today: date) -> int:
    return (due - today).days
