import sys
from datetime import date

from todo.reports import summary
from todo.serialization import loads


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: todo FILE.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        tasks = loads(f.read())
    print(summary(tasks, date.today()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
