"""The docs build of the example: README.md becomes build/docs/index.html (a stand-in for a real
Sphinx or MkDocs build, which a project would declare the same way)."""

import html
import sys
from pathlib import Path


def build(source: Path, target: Path) -> None:
    blocks = []
    for block in source.read_text(encoding="utf-8").split("\n\n"):
        text = html.escape(block.strip())
        if text.startswith("#"):
            level = len(text) - len(text.lstrip("#"))
            blocks.append(f"<h{level}>{text.lstrip('#').strip()}</h{level}>")
        elif text:
            blocks.append(f"<p>{text}</p>")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("<!doctype html>\n<title>todo_app</title>\n" + "\n".join(blocks) + "\n", encoding="utf-8")


if __name__ == "__main__":
    build(Path("README.md"), Path("build/docs/index.html"))
    print("docs: wrote build/docs/index.html", file=sys.stderr)
