"""What the tool prints fits the terminal: no word cut at 60 columns, `--help` wrapped, at most 100 wide."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from standin import Emulator
from tests.conftest import FAST

NOTES = (
    "remembered; --retry-misses to ask again",
    "left empty; the next run tries again",
    "local files, episodes, empty: never sent",
)


def assert_fits(text: str, width: int) -> None:
    for line in text.splitlines():
        # Only a single unbreakable word (a URL, a path) may be longer.
        assert len(line) <= width or " " not in line.strip(), f"{len(line)} > {width}: {line!r}"


def test_the_summary_fits_60_columns_without_cutting_notes(cli, db_path: Path, emulator: Emulator, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = cli("run", "--db", db_path, *FAST)
    assert result.code == 0, result.err
    assert_fits(result.out, 60)
    lines = [line.strip() for line in result.out.splitlines()]
    for note in NOTES:
        assert note in lines  # whole, on a line of its own
    assert "=" * 60 in lines and "=" * 61 not in result.out
    for args in (("verify",), ("run", "--dry-run")):
        out = cli(*args, "--db", db_path).out
        assert_fits(out, 60)
        assert "=" * 60 in out


def test_notes_stay_on_their_row_when_there_is_room(cli, db_path: Path, emulator: Emulator, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = cli("run", "--db", db_path, *FAST).out
    assert_fits(out, 100)
    assert re.search(r"Not found:\s+[\d,]+  remembered; --retry-misses to ask again", out)


@pytest.mark.parametrize("columns", [60, 80, 200])
@pytest.mark.parametrize("command", [[], ["run"], ["verify"], ["demo"], ["sync"], ["undo"]])
def test_help_is_wrapped_to_the_terminal(
    command: list[str], columns: int, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from backfill.cli.main import main

    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    assert_fits(text, min(columns, 100))
    # Table rows keep their meaning in one column: a wrapped line continues under the meaning, not at 0.
    tables = text[text.index("environment" if "environment" in text else "exit codes:") :]
    assert all(line.startswith("  ") for line in tables.splitlines()[1:] if line and not line.endswith(":"))


# Each command's help lists the variables it reads and the exit codes it can end with, and no others.
VARIABLES = ("SPOTIFY_CLIENT_ID", "BACKFILL_DB", "SPOTIFY_API_URL", "SPOTIFY_OEMBED_URL", "POSTGRES_URL", "HTTPS_PROXY")
HELP_LISTS = {
    "run": (set(VARIABLES), {0, 1, 2, 75, 130, 141}),
    "sync": ({"BACKFILL_DB", "POSTGRES_URL"}, {0, 2, 130, 141}),
    "verify": ({"BACKFILL_DB"}, {0, 2, 130, 141}),
    "undo": ({"BACKFILL_DB"}, {0, 2, 130, 141}),
    "demo": (set(), {0, 1, 2, 130}),
}


@pytest.mark.parametrize("command", sorted(HELP_LISTS))
def test_each_help_lists_only_its_own_variables_and_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from backfill.cli.main import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    before, exit_codes = capsys.readouterr().out.split("\nexit codes:\n")
    environment = before.split("\nenvironment")[1] if "\nenvironment" in before else ""
    variables, codes = HELP_LISTS[command]
    assert {v for v in VARIABLES if v in environment} == variables
    assert {int(c) for c in re.findall(r"^  (\d+) ", exit_codes, re.MULTILINE)} == codes


def test_a_short_wait_says_when_to_the_second(cli, db_path: Path, emulator: Emulator) -> None:
    emulator.inject((429, 9))
    result = cli("run", "--db", db_path, *FAST, "--max-wait", "1", "--json")
    assert result.code == 75, result.err
    resume = datetime.fromisoformat(result.json["resume_after"])
    assert f"Run again after {resume:%H:%M:%S}" in result.err


def test_a_run_with_nothing_to_fetch_says_so(cli, db_path: Path, emulator: Emulator, monkeypatch) -> None:
    assert "Nothing to fetch" not in cli("run", "--db", db_path, *FAST).out
    monkeypatch.setenv("COLUMNS", "200")
    again = cli("run", "--db", db_path, *FAST)
    assert again.code == 0
    assert "Nothing to fetch: every row has an image, has no usable id, or is a known miss" in " ".join(
        again.out.split()
    )
    assert len(again.out.strip().splitlines()) == 1  # one line, not a table of zeros
