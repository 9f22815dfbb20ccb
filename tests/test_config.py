from __future__ import annotations

import re
from pathlib import Path

import pytest

from backfill.config import load_settings
from backfill.errors import ConfigError
from backfill.kinds import is_spotify_id, track_id_from_uri

GOOD = "4uLU6hMCjMI75M1A2tKUQC"


@pytest.mark.parametrize(
    "uri",
    [
        None,
        "",
        "spotify:local:Artist:Album:Title:215",
        "spotify:episode:" + GOOD,
        "spotify:track:" + GOOD[:-1],
        "spotify:track:" + GOOD + "x",
        "spotify:track:" + GOOD[:-1] + "!",
        "spotify:track:" + GOOD[:-1] + "é",
        "https://open.spotify.com/track/" + GOOD,
        " spotify:track:" + GOOD,
    ],
)
def test_non_track_uris_give_no_id(uri: str | None) -> None:
    assert track_id_from_uri(uri) is None


def test_track_uri_gives_its_id() -> None:
    assert track_id_from_uri("spotify:track:" + GOOD) == GOOD
    assert is_spotify_id(GOOD)
    assert not is_spotify_id(GOOD + "\n")


def test_settings_defaults(tmp_path: Path) -> None:
    s = load_settings(environ={}, env_file=tmp_path / "none.env")
    assert s.db_path == Path("data/spotify.duckdb")
    assert s.api_url == "https://api.spotify.com/v1"
    assert s.token_url == "https://accounts.spotify.com/api/token"


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SPOTIFY_CLIENT_ID=from-file\nSPOTIFY_CLIENT_SECRET=file-secret\nBACKFILL_DB=file.duckdb\n")
    s = load_settings(environ={"SPOTIFY_CLIENT_ID": "from-env"}, env_file=env_file)
    assert s.client_id == "from-env"
    assert s.client_secret == "file-secret"
    assert s.db_path == Path("file.duckdb")
    assert load_settings("cli.duckdb", environ={}, env_file=env_file).db_path == Path("cli.duckdb")


def test_missing_credentials_name_the_variable(tmp_path: Path) -> None:
    s = load_settings(environ={"SPOTIFY_CLIENT_ID": "x"}, env_file=tmp_path / "none.env")
    with pytest.raises(ConfigError, match="SPOTIFY_CLIENT_SECRET") as err:
        s.require_credentials()
    assert "SPOTIFY_CLIENT_ID" not in str(err.value)


NUMBERS = {
    "BACKFILL_TIMEOUT": ("timeout", "30", 30.0),
    "BACKFILL_GIVE_UP_AFTER": ("give_up_after", "0", 0.0),  # 0: give a silent source up at its first timeouts
    "BACKFILL_EMBED_TIMEOUT": ("embed_timeout", "2.5", 2.5),
    "BACKFILL_WRITE_SECONDS": ("write_seconds", "1", 1.0),
    "BACKFILL_WRITE_RESULTS": ("write_results", "7", 7),
}


@pytest.mark.parametrize("name", sorted(NUMBERS))
def test_every_number_is_read_from_the_env_file_too_and_the_environment_wins(tmp_path: Path, name: str) -> None:
    field, text, value = NUMBERS[name]
    env_file = tmp_path / ".env"
    env_file.write_text(f"{name}={text}\n")
    assert getattr(load_settings(environ={}, env_file=env_file), field) == value
    assert getattr(load_settings(environ={name: "9"}, env_file=env_file), field) == 9


@pytest.mark.parametrize("name", sorted(NUMBERS))
@pytest.mark.parametrize("text", ["soon", "-1", "inf", "nan"])
def test_an_unusable_number_is_an_error_naming_its_variable_not_the_default(
    tmp_path: Path, name: str, text: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={name: text}, env_file=tmp_path / "none.env")


def test_fallback_providers_in_the_order_given_once_each(tmp_path: Path) -> None:
    none = tmp_path / "none.env"
    assert load_settings(environ={}, env_file=none).fallback == ()
    s = load_settings(environ={"BACKFILL_FALLBACK": " MusicBrainz, deezer,musicbrainz "}, env_file=none)
    assert s.fallback == ("musicbrainz", "deezer")
    assert load_settings(environ={"BACKFILL_FALLBACK": "none"}, env_file=none).fallback == ()
    with pytest.raises(ConfigError, match=r"BACKFILL_FALLBACK: unknown provider 'lastfm' \(choose from deezer"):
        load_settings(environ={"BACKFILL_FALLBACK": "deezer,lastfm"}, env_file=none)
    env_file = tmp_path / ".env"
    env_file.write_text("BACKFILL_FALLBACK=deezer\nDEEZER_API_URL=http://127.0.0.1:9/\n")
    s = load_settings(environ={}, env_file=env_file)
    assert (s.fallback, s.deezer_url) == (("deezer",), "http://127.0.0.1:9")


def test_every_variable_the_settings_read_is_documented_in_env_example_and_the_readme() -> None:
    """A variable read by config (a `get("NAME")`) that .env.example or the README does not name: a user
    cannot find it."""
    root = Path(__file__).resolve().parents[1]
    read = set(re.findall(r'get\("([A-Z][A-Z0-9_]+)"', (root / "backfill" / "config.py").read_text()))
    assert {"SPOTIFY_CLIENT_ID", "BACKFILL_CONTACT", "BACKFILL_WRITE_RESULTS"} <= read  # the pattern still finds them
    example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (root / ".env.example").read_text(), re.MULTILINE))
    readme = (root / "README.md").read_text()
    assert read - example == set(), ".env.example does not document these"
    assert {name for name in read if f"`{name}`" not in readme} == set(), "the README does not document these"
