"""`verify --html` on a history big enough that the dashboard's Top Tracks query, run as written, outgrows the
tool's memory cap; the page must still list what that query lists."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.report.test_verify_html import Items

TRACKS = 300_000  # the dashboard's query as written ran out of memory under the cap from about 250k on


def _big_history(path: Path, n: int) -> Path:
    """A plain history made in SQL (the sample generator takes far longer at this size): two plays per track,
    and plays of tracks missing from `tracks`, some sharing one name under two URIs."""
    con = duckdb.connect(str(path))
    con.execute(
        f"""CREATE TABLE tracks AS SELECT 'spotify:track:' || substr(md5(i::VARCHAR), 1, 22) AS spotify_track_uri,
            'Track ' || i AS track_name, 'Artist ' || (i % 5000) AS primary_artist_name,
            'Album ' || (i // 10) AS album_name,
            CASE WHEN i % 10 = 0 THEN 'https://i.scdn.co/image/' || md5(i::VARCHAR) END AS album_image_url
            FROM range({n}) r(i)"""
    )
    con.execute(
        "CREATE TABLE artists AS SELECT 'Artist ' || i AS artist_name, substr(md5('a' || i), 1, 22) "
        "AS spotify_artist_id, NULL::VARCHAR AS image_url FROM range(5000) r(i)"
    )
    con.execute(
        f"""CREATE TABLE plays AS
            SELECT (hash(j) % 3000000)::BIGINT AS ms_played, t.spotify_track_uri, t.track_name,
                   t.primary_artist_name AS artist_name
            FROM range({2 * n}) r(j) JOIN (SELECT row_number() OVER () - 1 AS i, * FROM tracks) t ON t.i = j % {n}"""
    )
    # Not in `tracks`: one song under two local URIs (the dashboard merges them), and one with no URI at all.
    con.execute(
        """INSERT INTO plays VALUES (90000000, 'spotify:local:a', 'Home Song', 'Me'),
           (90000000, 'spotify:local:b', 'Home Song', 'Me'), (120000000, NULL, 'Unknown Track', 'Unknown Artist')"""
    )
    con.close()
    return path


# The dashboard's Top Tracks, as it runs it (without the tool's memory cap).
DASHBOARD_TOP_TRACKS = """
SELECT p.track_name, p.artist_name, t.album_image_url, count(*) AS n, sum(p.ms_played) AS ms
FROM plays p LEFT JOIN tracks t ON p.spotify_track_uri = t.spotify_track_uri
GROUP BY p.track_name, p.artist_name, t.spotify_track_uri, t.album_image_url
ORDER BY ms DESC, n DESC LIMIT 50"""


def test_top_lists_of_a_large_history_fit_the_memory_cap(cli, tmp_path: Path) -> None:
    db = _big_history(tmp_path / "big.duckdb", TRACKS)
    con = duckdb.connect(str(db), read_only=True)
    expected = con.execute(DASHBOARD_TOP_TRACKS).fetchall()
    con.close()
    out = tmp_path / "page.html"
    result = cli("verify", "--db", db, "--html", out)
    assert result.code == 0, result.err
    items = Items()
    items.feed(out.read_text(encoding="utf-8"))
    tracks = [i for i in items.items if i["kind"] == "track"]
    assert [(i["name"], i["by"], i["src"]) for i in tracks] == [(name, by, url) for name, by, url, *_ in expected]
    home = next(i for i in tracks if i["name"] == "Home Song")
    assert home["stats"].startswith("2 plays")  # two URIs that `tracks` lacks, one entry, as the dashboard shows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.duckdb", "page.html"]  # no spill folder left
