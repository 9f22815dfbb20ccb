"""argparse, adjusted: help wrapped to the terminal, errors that main() can also answer in JSON, `run` implied."""

from __future__ import annotations

import argparse
import difflib
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from backfill import __version__
from backfill.report.text import text_width


class ArgumentError(Exception):
    """argparse's complaint, raised instead of exiting so that main() can also answer in JSON."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """No abbreviated options: `--ref` must not start a `--refresh`; a typo is an error with a suggestion."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(self, message)


class HelpFormatter(argparse.HelpFormatter):
    """Wrapped to the terminal (at most 100 columns); the description and epilog keep their lines and tables."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=text_width() - 2)

    def _split_lines(self, text: str, width: int) -> list[str]:
        # An option's help: never split "--retry-misses" or "client-secret" at their hyphens.
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(line for raw in text.splitlines() for line in _fill_line(raw, width, indent))


def _fill_line(line: str, width: int, indent: str) -> list[str]:
    """One line of a description or epilog, wrapped; in a "  NAME    meaning" table the meaning keeps its column."""
    if len(indent + line) <= width:
        return [indent + line]
    lead = len(line) - len(line.lstrip())
    table = re.match(r"(\s+\S.*?\s{2,})(\S.*)", line)
    first: list[str] = []
    if table and len(table.group(1)) > _MEANING_COLUMN:  # a long name: alone on its line, the meaning below
        first, line = [indent + table.group(1).rstrip()], " " * _MEANING_COLUMN + table.group(2)
    hang = min(len(table.group(1)), _MEANING_COLUMN) if table else lead
    wrapper = textwrap.TextWrapper(
        width, initial_indent=indent, subsequent_indent=indent + " " * hang, break_on_hyphens=False
    )
    wrapper.break_long_words = False  # URLs stay whole
    return first + wrapper.wrap(line)


_MEANING_COLUMN = 22


def number(kind: type[float] | type[int], *, zero_ok: bool = False) -> Callable[[str], float | int]:
    """An argparse type: a finite number > 0; with zero_ok, any number >= 0 (infinity included)."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            if kind is int and _is_float(text):
                raise argparse.ArgumentTypeError(f"must be a whole number: {text!r}") from None
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if math.isnan(value):
            raise argparse.ArgumentTypeError(f"not a number: {text!r}")
        if zero_ok and value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
        if not zero_ok and not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a number greater than 0: {text!r}")
        return value

    return parse


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def version_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-V", "--version", action="version", version=f"backfill {__version__}")


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def with_command_first(parser: argparse.ArgumentParser, argv: Sequence[str], default: str) -> list[str]:
    """The command first, wherever it was given (`backfill --db x verify`); `default` when none was."""
    argv = list(argv)
    known = commands(parser)
    takes_value = {o for p in known.values() for a in p._actions if a.nargs != 0 for o in a.option_strings}
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] in known:
            return [argv[i], *argv[:i], *argv[i + 1 :]]
        i += 2 if argv[i] in takes_value else 1
    if any(a in ("-h", "--help", "-V", "--version") for a in argv):
        return argv  # the overview, or the version
    return [default, *argv]


def parse(parser: argparse.ArgumentParser, argv: Sequence[str], default: str) -> argparse.Namespace:
    """Parse with `default` as the implied command; errors raise ArgumentError from the command's own parser."""
    args, extras = parser.parse_known_args(with_command_first(parser, argv, default))
    if extras:  # argparse would blame the top-level parser and show its usage, not the command's
        known = commands(parser)
        for word in extras:  # a mistyped command: `backfill verfy` was parsed as `run` with a stray word
            if not word.startswith("-") and (hint := suggestion(word, list(known))):
                parser.error(f"no command {word!r}{hint}")
        command = known[args.command]
        options = [o for a in command._actions for o in a.option_strings if o.startswith("--")]
        hints = [suggestion(w.split("=")[0], options) for w in extras if w.startswith("--")]
        command.error(f"unrecognized arguments: {' '.join(extras)}{next((h for h in hints if h), '')}")
    return args


def suggestion(word: str, choices: Sequence[str]) -> str:
    """ " (did you mean X?)" when `word` starts one of `choices` or is close to one, else nothing."""
    guess = [c for c in choices if c.startswith(word)] or difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {' or '.join(guess)}?)" if guess else ""
