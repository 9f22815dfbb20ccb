"""CHECK constraints on the columns a run fills, tried at set-up against the values the run would write.

A CHECK that rejects every Spotify image URL would only show at the first write, after requests were spent;
and it would fail every write of its kind. So the plan evaluates each such constraint on a row the run would
fill, with that row's column replaced by a value of the form the run writes, and refuses the file (one line)
when any fails. Nothing is written: it is a SELECT.
"""

from __future__ import annotations

import duckdb

from backfill.errors import StoreError
from backfill.store.schema import Schema, one

_HEX = "0" * 24
# The forms the sources hand out: the Web API's i.scdn.co URLs and oEmbed's spotifycdn.com thumbnails.
_TRACK_URLS = (
    f"https://i.scdn.co/image/ab67616d0000b273{_HEX}",
    f"https://image-cdn-fa.spotifycdn.com/image/ab67616d00001e02{_HEX}",
)
_ARTIST_URLS = (
    f"https://i.scdn.co/image/ab6761610000e5eb{_HEX}",
    f"https://image-cdn-fa.spotifycdn.com/image/ab6761610000e5eb{_HEX}",
)
_ARTIST_ID = "0TnOYISbd1XYRBk9myaseg"  # a well-formed id, as recovered from tracks.primary_artist_id

# (table, column the run fills, values it may write, the column that makes a row a candidate)
_FILLED = (
    ("tracks", "album_image_url", _TRACK_URLS, "album_image_url"),
    ("artists", "image_url", _ARTIST_URLS, "image_url"),
    ("artists", "spotify_artist_id", (_ARTIST_ID,), "spotify_artist_id"),
)


def check_constraints(con: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """StoreError when a CHECK constraint on a column the run fills rejects a value the run would write."""
    rows = con.execute(
        "SELECT table_name, expression, constraint_text, constraint_column_names FROM duckdb_constraints() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND constraint_type = 'CHECK'"
    ).fetchall()
    for table, column, values, candidate in _FILLED:
        if table == "artists" and not schema.has_artists:
            continue
        for t, expression, text, columns in rows:
            if t.lower() != table or column not in [c.lower() for c in columns]:
                continue
            for value in values:
                # On a row the run would fill (its column NULL), with the value in place: NULL passes, as in SQL.
                failed = one(
                    con,
                    f"SELECT count(*) FILTER (WHERE NOT coalesce(({expression}), TRUE)) FROM "
                    f"(SELECT * REPLACE (?::VARCHAR AS {column}) FROM {table} WHERE {candidate} IS NULL LIMIT 1)",
                    [value],
                )
                if failed:
                    raise StoreError(
                        f"table '{table}': the constraint {text} rejects the values backfill writes into "
                        f"'{column}' (such as {value}): drop or change it, nothing was written"
                    )
