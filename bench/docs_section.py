"""Each benchmark rewrites its own section of docs/benchmarks.md, between ``<!-- name:begin -->`` and
``<!-- name:end -->``, and leaves the others alone."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def markers(section: str) -> tuple[str, str]:
    return f"<!-- {section}:begin -->", f"<!-- {section}:end -->"


def replace_section(section: str, lines: list[str], path: Path = DOCS) -> None:
    """Write ``lines`` (without the markers) as the section, replacing the old one or appending a new one."""
    begin, end = markers(section)
    body = "\n".join([begin, *lines, end])
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + body + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
