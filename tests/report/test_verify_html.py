"""`backfill verify --html`: the page's content, through the CLI, on small hand-made histories.

The page in a real browser is tested in test_e2e_browser.py.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import digest

GOOD = "spotify:track:" + "A" * 22
OTHER = "spotify:track:" + "B" * 22
THIRD = "spotify:track:" + "C" * 22
LOCAL = "spotify:local:Someone:Something:Song:200"
NASTY = "<script>alert(\"x\")</script> & 'Café' Ünïcødé"
NASTY_URL = 'https://i.scdn.co/image/a"b<c>&d'


def make_history(
    path: Path,
    tracks: list[tuple[str, str, str, str | None]],  # uri, track name, artist name, image url
    artists: list[tuple[str, str | None, str | None]],  # name, spotify id, image url
    plays: list[tuple[str | None, str, str, int]] | None,  # uri, track name, artist name, ms_played
    *,
    ms_played: bool = True,
    log: list[tuple[str, str, str]] = (),  # kind, id, outcome
) -> Path:
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE tracks (spotify_track_uri TEXT PRIMARY KEY, track_name TEXT NOT NULL, "
        "primary_artist_name TEXT NOT NULL, album_name TEXT, album_image_url TEXT)"
    )
    con.execute("CREATE TABLE artists (artist_name TEXT PRIMARY KEY, spotify_artist_id TEXT, image_url TEXT)")
    con.executemany("INSERT INTO tracks VALUES (?, ?, ?, 'Album', ?)", tracks)
    con.executemany("INSERT INTO artists VALUES (?, ?, ?)", artists)
    if plays is not None:
        ms = "ms_played BIGINT, " if ms_played else ""
        con.execute(f"CREATE TABLE plays ({ms}spotify_track_uri TEXT, track_name TEXT, artist_name TEXT)")
        for uri, name, artist, ms_value in plays:
            values = [ms_value, uri, name, artist] if ms_played else [uri, name, artist]
            con.execute(f"INSERT INTO plays VALUES ({', '.join('?' * len(values))})", values)
    if log:
        con.execute(
            "CREATE TABLE backfill_log (kind VARCHAR, spotify_id VARCHAR, outcome VARCHAR, checked_at TIMESTAMP)"
        )
        con.executemany("INSERT INTO backfill_log VALUES (?, ?, ?, now())", log)
    con.close()
    return path


class Items(HTMLParser):
    """The page's Top list items as the browser would read them: unescaped text and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict[str, Any]] = []
        self.tags: list[str] = []
        self._class: list[str] = []  # the class of each open element
        self._in_item = False
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "li" and "item" in (a.get("class") or "").split():
            self.items.append({"kind": a["data-kind"], "rank": a["data-rank"], "name": None, "by": None, "src": None})
            self._in_item = True
        if tag == "img" and self.items:
            self.items[-1]["src"] = a["src"]
        if tag not in ("img", "meta"):  # void elements have no end tag
            self._class.append(a.get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        self._class.pop()
        if tag == "li":
            self._in_item = False

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._in_item and self._class and self._class[-1] in ("name", "by", "stats", "why"):
            key = self._class[-1]
            self.items[-1][key] = (self.items[-1].get(key) or "") + data


def render(cli, db: Path, tmp_path: Path) -> tuple[str, Items]:
    out = tmp_path / "page.html"
    before = digest(db)
    result = cli("verify", "--db", db, "--html", out)
    assert result.code == 0, result.err
    assert digest(db) == before  # verify stays read-only
    text = out.read_text(encoding="utf-8")
    parser = Items()
    parser.feed(text)
    return text, parser


def names(items: Items, kind: str) -> list[str]:
    return [i["name"] for i in items.items if i["kind"] == kind]


def test_ranked_by_listening_time_not_play_count(cli, tmp_path: Path) -> None:
    db = make_history(
        tmp_path / "h.duckdb",
        [(GOOD, "Long", "Ann", "https://i.scdn.co/image/1"), (OTHER, "Often", "Bob", None)],
        [("Ann", "a" * 22, "https://i.scdn.co/image/2"), ("Bob", "b" * 22, None)],
        [(GOOD, "Long", "Ann", 3_600_000)] + [(OTHER, "Often", "Bob", 60_000)] * 3,
    )
    text, items = render(cli, db, tmp_path)
    assert names(items, "track") == ["Long", "Often"]
    assert names(items, "artist") == ["Ann", "Bob"]
    first = items.items[0]
    assert first["src"] == "https://i.scdn.co/image/1" and first["by"] == "Ann"
    assert first["stats"] == "1 play · 1.00 h"
    assert items.items[1]["stats"] == "3 plays · 0.05 h"
    assert "by listening time" in text


def test_ranked_by_play_count_without_ms_played(cli, tmp_path: Path) -> None:
    db = make_history(
        tmp_path / "h.duckdb",
        [(GOOD, "Long", "Ann", None), (OTHER, "Often", "Bob", None)],
        [("Ann", "a" * 22, None), ("Bob", "b" * 22, None)],
        [(GOOD, "Long", "Ann", 3_600_000)] + [(OTHER, "Often", "Bob", 60_000)] * 3,
        ms_played=False,
    )
    text, items = render(cli, db, tmp_path)
    assert names(items, "track") == ["Often", "Long"]
    assert names(items, "artist") == ["Bob", "Ann"]
    assert items.items[0]["stats"] == "3 plays"
    assert "by play count" in text.lower()


def test_without_plays_lists_by_name_unranked(cli, tmp_path: Path) -> None:
    db = make_history(
        tmp_path / "h.duckdb",
        [(OTHER, "Zed", "Ann", None), (GOOD, "Alpha", "Bob", None)],
        [("Zoe", "a" * 22, None), ("Abe", "b" * 22, None)],
        None,
    )
    text, items = render(cli, db, tmp_path)
    assert "No plays table" in text
    assert names(items, "track") == ["Alpha", "Zed"]
    assert names(items, "artist") == ["Abe", "Zoe"]
    assert all(i["rank"] == "" and not i.get("stats") for i in items.items)


def test_text_is_escaped_and_the_stored_url_kept_exactly(cli, tmp_path: Path) -> None:
    db = make_history(
        tmp_path / "h.duckdb",
        [(GOOD, NASTY, NASTY, NASTY_URL)],
        [(NASTY, "a" * 22, NASTY_URL)],
        [(GOOD, NASTY, NASTY, 1000)],
    )
    text, items = render(cli, db, tmp_path)
    assert "<script>alert" not in text and "<c>" not in text
    assert items.tags.count("script") == 0
    track, artist = items.items
    assert track["name"] == NASTY and track["by"] == NASTY and track["src"] == NASTY_URL
    assert artist["name"] == NASTY and artist["src"] == NASTY_URL


def test_self_contained(cli, tmp_path: Path) -> None:
    db = make_history(
        tmp_path / "h.duckdb",
        [(GOOD, "Song", "Ann", "https://i.scdn.co/image/1")],
        [("Ann", "a" * 22, None)],
        [(GOOD, "Song", "Ann", 1000)],
    )
    text, items = render(cli, db, tmp_path)
    assert set(items.tags) <= {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "div", "p"} | {
        "span",
        "ol",
        "li",
        "img",
        "table",
        "tr",
        "td",
        "code",
    }
    for external in ("<link", "<script", "@import", "url(", "@font-face", 'src="http://', "//fonts"):
        assert external not in text
    assert text.count("<img ") == 1  # the one stored image URL is the only external reference


def test_why_images_are_missing(cli, tmp_path: Path) -> None:
    unknown, no_image = "spotify:track:" + "D" * 22, "spotify:track:" + "E" * 22
    db = make_history(
        tmp_path / "h.duckdb",
        [
            (LOCAL, "Local", "Ann", None),
            (GOOD, "Pending", "Ann", None),
            (unknown, "Gone", "Ann", None),
            (no_image, "Bare", "Ann", None),
        ],
        [("Ann", None, None), ("Bob", "b" * 22, None), ("Cy", "c" * 22, None)],
        [
            (LOCAL, "Local", "Ann", 5000),
            (GOOD, "Pending", "Bob", 4000),
            (unknown, "Gone", "Cy", 3000),
            (no_image, "Bare", "Cy", 2000),
            (THIRD, "Unlisted", "Dee", 1000),
        ],
        log=[("track", "D" * 22, "not_found"), ("track", "E" * 22, "no_image"), ("artist", "c" * 22, "not_found")],
    )
    _, items = render(cli, db, tmp_path)
    why = {i["name"]: i["why"] for i in items.items}
    assert why["Local"] == "no image: invalid URI: local file, episode or no track id"
    assert why["Pending"] == "no image: not yet fetched"
    assert why["Gone"] == "no image: remembered miss: not on Spotify"
    assert why["Bare"] == "no image: remembered miss: Spotify has no image"
    assert why["Unlisted"] == "no image: not in the tracks table"
    assert why["Ann"] == "no image: no artist id"
    assert why["Bob"] == "no image: not yet fetched"
    assert why["Cy"] == "no image: remembered miss: not on Spotify"
    assert why["Dee"] == "no image: not in the artists table"
    assert all(i["src"] is None for i in items.items)


def test_top_fifty_and_the_missing_counts(cli, db_path: Path, tmp_path: Path) -> None:
    text, items = render(cli, db_path, tmp_path)
    assert len(names(items, "track")) == len(names(items, "artist")) == 50
    both = cli("verify", "--db", db_path, "--json", "--html", tmp_path / "again.html")
    report = both.json  # stdout stays one JSON object; the page's note goes to stderr
    assert "again.html" in both.err
    assert (tmp_path / "again.html").read_text() == text
    for kind, reason in (("tracks", "invalid"), ("artists", "no_id")):
        section = text[text.index(f'id="missing-{kind}"') :]
        section = section[: section.index("</table>")]
        for key in (reason, "remembered_not_found", "remembered_no_image", "pending"):
            assert f'<td class="n">{report[kind][key]:,}</td>' in section, (kind, key)
    # The page and the JSON are made from one record: the row the JSON calls recovered_ids is on the page too.
    assert report["artists"]["recovered_ids"] > 0
    artists = text[text.index('id="missing-artists"') :]
    row = f'<td>of those, ids recoverable from tracks</td><td class="n">{report["artists"]["recovered_ids"]:,}</td>'
    assert row in artists[: artists.index("</table>")]


@pytest.mark.parametrize("existing", [b"my notes\n", None])
def test_never_replaces_what_is_not_a_report(cli, tmp_path: Path, db_path: Path, existing: bytes | None) -> None:
    target = tmp_path / "notes.txt" if existing else db_path
    if existing:
        target.write_bytes(existing)
    before = target.read_bytes()
    result = cli("verify", "--db", db_path, "--html", target)
    assert result.code == 2
    assert result.err.startswith("backfill: error: cannot write") and result.err.count("\n") == 1
    assert target.read_bytes() == before


def test_replaces_an_earlier_report_and_reports_a_missing_folder(cli, tmp_path: Path, db_path: Path) -> None:
    out = tmp_path / "page.html"
    assert cli("verify", "--db", db_path, "--html", out).code == 0
    out.write_text(out.read_text().replace("Top 50 tracks", "old"))  # an earlier report
    assert cli("verify", "--db", db_path, "--html", out).code == 0
    assert "Top 50 tracks" in out.read_text()
    result = cli("verify", "--db", db_path, "--html", tmp_path / "nowhere" / "page.html")
    assert result.code == 2 and "cannot write" in result.err
    assert not (tmp_path / "nowhere").exists()


def test_the_host_of_an_image_that_did_not_load_is_escaped(cli, tmp_path: Path) -> None:
    url = 'https://"><b>x/'
    db = make_history(tmp_path / "h.duckdb", [(GOOD, "Song", "Ann", url)], [("Ann", "a" * 22, None)], None)
    text, items = render(cli, db, tmp_path)
    assert "b" not in items.tags  # the host stays text, never markup
    assert "<b>" not in text
    assert 'image did not load from "><b>x' in items.text  # shown as the text it is


@pytest.mark.parametrize("name", ["", " ", "{db}.wal", "{db}.tmp", "{db}.tmp/page.html"])
def test_refuses_an_empty_path_and_the_databases_own_files(cli, tmp_path: Path, db_path: Path, name: str) -> None:
    target = name.format(db=db_path)
    why = "an empty path" if not name.strip() else "one of the database's own files"
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("verify", "--db", db_path, "--html", target)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("backfill: error: cannot write") and result.err.count("\n") == 1
    assert why in result.err, result.err  # said before any work, not met later as "Is a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_never_replaces_a_users_own_html_page(cli, tmp_path: Path, db_path: Path) -> None:
    mine = tmp_path / "mine.html"
    mine.write_text("<!doctype html><title>my page</title>")
    result = cli("verify", "--db", db_path, "--html", mine)
    assert result.code == 2 and "not a page written by backfill verify" in result.err
    assert mine.read_text() == "<!doctype html><title>my page</title>"
