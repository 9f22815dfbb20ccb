"""What crosses the network in `backfill sync`, and the digests that keep it small: only the rows Postgres
lacks go up; keys match whatever the database's encoding; a table that lost its primary key still syncs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg

from tests.pg.pgserver import PgServer
from tests.sync.conftest import Production
from tests.sync.relay import Relay
from tests.sync.test_sync import duck_values


def test_only_the_rows_postgres_lacks_travel_up(cli, history: Path, production: Production) -> None:
    duck = duck_values(history)
    # Production as a sync a while ago left it: four in five of today's values already there.
    with production.connect() as con, con.cursor() as cur:
        for tbl, key in (("tracks", "spotify_track_uri"), ("artists", "artist_name")):
            for column, values in duck[tbl].items():
                rows = [(value, k) for i, (k, value) in enumerate(sorted(values.items())) if i % 5]
                cur.executemany(f"UPDATE {tbl} SET {column} = %s WHERE {key} = %s", rows)
    before = production.snapshot()
    everything = needed = 0  # bytes of keys and values: all the history offers, and what Postgres lacks
    lacking: set[tuple[str, str]] = set()
    for tbl, columns in duck.items():
        for column, values in columns.items():
            for key, value in values.items():
                everything += len(key) + len(value)
                if key in before[tbl] and before[tbl][key][column] is None:
                    needed += len(key) + len(value)
                    lacking.add((tbl, key))
    relay = Relay(production.server.port)
    with relay.running():
        url = production.url().replace(f":{production.server.port}/", f":{relay.port}/")
        first = cli("sync", "--db", history, "--postgres", url, "--json")
        first_up, first_down = relay.up, relay.down
        relay.reset()
        second = cli("sync", "--db", history, "--postgres", url, "--json")
    assert first.code == 0 and second.code == 0, first.err + second.err
    assert first.json["rows_sent"] == len(lacking) > 50
    # Down: a 17-byte digest record per track and 26 per artist (key, then per column), not the values.
    assert first.json["digest_bytes"] == 17 * len(before["tracks"]) + 26 * len(before["artists"])
    assert first_down < first.json["digest_bytes"] + 4_000
    # Nothing left to push: the handshake and the queries (under 4 KB) are all that goes up.
    assert second.json["pushed"] == second.json["rows_sent"] == 0
    assert relay.up < 4_000, relay.up
    # Up, besides those: the rows Postgres lacked, about their own size (COPY's text adds little), not the history.
    assert first_up - relay.up < 1.5 * needed + 1_000, (first_up, needed)
    assert first_up < everything / 3, (first_up, everything)


def tiny_history(path: Path, tracks: dict[str, str | None], artists: dict[str, str | None]) -> Path:
    """A history with just the columns sync reads."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE tracks (spotify_track_uri VARCHAR, album_image_url VARCHAR)")
    con.execute("CREATE TABLE artists (artist_name VARCHAR, image_url VARCHAR, spotify_artist_id VARCHAR)")
    for key, value in tracks.items():
        con.execute("INSERT INTO tracks VALUES (?, ?)", [key, value])
    for key, value in artists.items():
        con.execute("INSERT INTO artists VALUES (?, ?, NULL)", [key, value])
    con.close()
    return path


def tiny_production(pg_server: PgServer, name: str, encoding: str, primary_keys: bool, *rows: str) -> str:
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C'")
    pk = " PRIMARY KEY" if primary_keys else ""
    with psycopg.connect(pg_server.url(name)) as con:
        con.execute(f"CREATE TABLE tracks (spotify_track_uri VARCHAR{pk}, album_image_url VARCHAR)")
        con.execute(f"CREATE TABLE artists (artist_name VARCHAR{pk}, image_url VARCHAR, spotify_artist_id VARCHAR)")
        for sql in rows:
            con.execute(sql)
    return pg_server.url(name)


def pg_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as con:
        return sorted(con.execute(sql).fetchall(), key=repr)


def test_keys_match_in_a_latin1_database(cli, tmp_path: Path, pg_server: PgServer) -> None:
    # Digests are of UTF-8 bytes on both sides: a LATIN1 database's own bytes for "Björk" would differ.
    history = tiny_history(
        tmp_path / "h.duckdb",
        {"spotify:track:0000000000000000000001": "https://i.scdn.co/image/t1"},
        {"Björk": "https://i.scdn.co/image/a", "Sigur Rós": "https://i.scdn.co/image/b",
         "Zoë Müller": "https://i.scdn.co/image/c", "Plain": "https://i.scdn.co/image/d"},
    )  # fmt: skip
    url = tiny_production(
        pg_server, "latin1_production", "LATIN1", True,
        "INSERT INTO tracks VALUES ('spotify:track:0000000000000000000001', NULL)",
        "INSERT INTO artists VALUES ('Björk', NULL, NULL), ('Sigur Rós', 'https://i.scdn.co/image/b', NULL), "
        "('Zoë Müller', 'https://elsewhere.example/c', NULL), ('Plain', NULL, NULL)",
    )  # fmt: skip
    result = cli("sync", "--db", history, "--postgres", url, "--json")
    assert result.code == 0, result.err
    assert result.json["artists"]["image_url"] == {
        "pushed": 2,
        "refreshed": 0,
        "already_set": 1,
        "differing": 1,
        "missing_in_postgres": 0,
    }
    assert pg_rows(url, "SELECT artist_name, image_url FROM artists") == [
        ("Björk", "https://i.scdn.co/image/a"), ("Plain", "https://i.scdn.co/image/d"),
        ("Sigur Rós", "https://i.scdn.co/image/b"), ("Zoë Müller", "https://elsewhere.example/c"),
    ]  # fmt: skip
    assert result.json["tracks"]["album_image_url"]["pushed"] == 1


def test_a_table_without_its_primary_key_may_repeat_a_key(cli, tmp_path: Path, pg_server: PgServer) -> None:
    history = tiny_history(
        tmp_path / "h.duckdb",
        {"spotify:track:a": "https://i.scdn.co/image/a", "spotify:track:b": "https://i.scdn.co/image/b"},
        {},
    )
    url = tiny_production(
        pg_server, "no_keys_production", "UTF8", False,
        "INSERT INTO tracks VALUES ('spotify:track:a', NULL), ('spotify:track:a', NULL), "
        "('spotify:track:b', 'https://i.scdn.co/image/b'), ('spotify:track:b', NULL)",
    )  # fmt: skip
    result = cli("sync", "--db", history, "--postgres", url, "--json")
    assert result.code == 0, result.err
    # Counted per Postgres row, as the UPDATE changes them: both copies of a, and the copy of b that lacked it.
    assert result.json["tracks"]["album_image_url"] == {
        "pushed": 3,
        "refreshed": 0,
        "already_set": 1,
        "differing": 0,
        "missing_in_postgres": 0,
    }
    assert result.json["tracks"]["rows_updated"] == 3
    assert pg_rows(url, "SELECT * FROM tracks") == [
        ("spotify:track:a", "https://i.scdn.co/image/a"), ("spotify:track:a", "https://i.scdn.co/image/a"),
        ("spotify:track:b", "https://i.scdn.co/image/b"), ("spotify:track:b", "https://i.scdn.co/image/b"),
    ]  # fmt: skip
