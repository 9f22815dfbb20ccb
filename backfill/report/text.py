"""Text for the terminal: its width, the rows, wrapping and rules every summary uses, and the one line an error
shows (no heavy imports)."""

from __future__ import annotations

import shutil
import textwrap

RULE = "=" * 70
LABELS = {"tracks": "TRACKS (album art)", "artists": "ARTISTS (profile photos)"}


def text_width() -> int:
    """The terminal's width (COLUMNS first, 80 when not a terminal), at most 100: longer lines are hard to read."""
    return max(40, min(shutil.get_terminal_size().columns, 100))


def row(label: str, value: int, note: str = "", pad: int = 24) -> list[str]:
    """`  Label:      1,234  note`; at a narrow width the note goes below, wrapped, rather than mid-word."""
    head = f"  {label:<{pad}}{number(value):>9}"
    if not note or len(head) + 2 + len(note) <= text_width():
        return [f"{head}  {note}".rstrip()]
    return [head, *wrap(note, " " * 6)]


def wrap(text: str, indent: str, hang: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        text_width(),
        initial_indent=indent,
        subsequent_indent=indent + hang,
        break_on_hyphens=False,
        break_long_words=False,  # a URL or a path stays whole
    )


def fit(lines: list[str]) -> str:
    """The lines, the rules as wide as the terminal allows and longer lines wrapped at spaces."""
    width, out = text_width(), []
    for line in lines:
        if line == RULE:
            out.append(RULE[:width])
        elif len(line) <= width:
            out.append(line)
        else:
            out += wrap(line.strip(), line[: len(line) - len(line.lstrip())], "  ")
    return "\n".join(out)


def number(value: int) -> str:
    return f"{value:,}"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
