"""The history's `artists` table: names with ids, without (recoverable from `tracks` or not), shared,
malformed, unknown and prefilled."""

from __future__ import annotations

from typing import Any

from standin.sample.catalog_builder import Plan
from standin.sample.names import LOCAL_ARTISTS, fold, fresh_name
from standin.sample.randomness import Draw, other_url, share_count
from standin.sample.world import ENRICHED_FROM, ENRICHED_SPAN, World, preferred_image

_ARTIST_COLUMNS = (
    "artist_name",
    "genres",
    "popularity",
    "followers",
    "spotify_artist_id",
    "image_url",
    "enriched_at",
)


def _bad_id(artist_id: str, form: int) -> str:
    """Ids that are not 22 base-62 characters; a batch call holding one may fail as a whole."""
    return (
        artist_id[:21],
        artist_id + "Q",
        artist_id[:5] + "-" + artist_id[6:],
        "spotify:artist:" + artist_id,
    )[form % 4]


def fill_artists_table(world: World, plan: Plan, draw: Draw, unknown_artists: list[tuple[str, str]]) -> None:
    """The `artists` table (keyed by name) and what a correct backfill can do with each row."""
    spec, catalog, rng = world.spec, world.catalog, draw.rng
    # name -> [genres, popularity, followers, spotify_artist_id, image_url, enriched_at]
    rows: dict[str, list[Any]] = {}

    def enriched() -> int:
        return ENRICHED_FROM + int(rng.random() * ENRICHED_SPAN)

    homonym_ids = {a for pair in plan.homonyms for a in pair}
    # A name two artists share is stored without an id (half the pairs) or with the first one's.
    no_id = {catalog.artists[a].name for a, _ in plan.homonyms[: (len(plan.homonyms) + 1) // 2]}
    for artist in catalog.artists.values():
        if artist.name not in rows:
            artist_id = None if artist.name in no_id else artist.id
            genres = ",".join(artist.genres) or None
            rows[artist.name] = [genres, artist.popularity, artist.followers, artist_id, None, enriched()]
    for artist_id, name in unknown_artists:
        rows[name] = [None, 0, int(10 ** rng.uniform(1, 4)), artist_id, None, enriched()]

    # Names that are primary artists in `tracks` with exactly one id: candidates for a NULL-id row.
    table = world.tracks_table
    track_ids: dict[str, set[str]] = {}
    for name, artist_id in zip(table["primary_artist_name"], table["primary_artist_id"], strict=True):
        if artist_id is not None:
            track_ids.setdefault(name, set()).add(artist_id)
    plain = [
        name
        for name, row in rows.items()
        if row[3] in catalog.artists and row[3] not in homonym_ids and name != "Various Artists"
    ]
    rng.shuffle(plain)
    played = [n for n in plain if track_ids.get(n) == {rows[n][3]}]
    n_rows = len(rows)
    recoverable = played[: share_count(n_rows, spec.recoverable, 2, when=20)]
    for name in recoverable:
        rows[name][3] = None
    rest = [n for n in plain if n not in set(recoverable)]

    # ASCII spellings stored as their own rows with the same id ("Beyoncé" / "Beyonce").
    accented = [n for n in rest if fold(n) != n and fold(n) not in rows]
    aliases: list[tuple[str, str]] = []
    for name in accented[: share_count(n_rows, 0.01, 2, when=20)]:
        alias = fold(name)
        if alias in rows:
            continue
        row = rows[name]
        rows[alias] = [row[0], max(0, row[1] - 5), row[2] // 3, row[3], None, enriched()]
        aliases.append((name, alias))
        world.shared_artist_ids[row[3]] = [name, alias]
    used = {n for pair in aliases for n in pair}
    rest = [n for n in rest if n not in used]

    for form, name in enumerate(rest[: share_count(n_rows, 0.01, 3, when=20)]):
        rows[name][3] = _bad_id(rows[name][3], form)
        world.malformed_artist_ids[name] = rows[name][3]
    rest = [n for n in rest if n not in world.malformed_artist_ids]

    # NULL-id names that no track row can resolve: absent from `tracks`, or present there with no id.
    taken = set(rows) | set(table["primary_artist_name"])
    for _ in range(share_count(n_rows, 0.01, 2, when=20)):
        rows[fresh_name(rng, taken)] = [None, None, None, None, None, None]
    local = sorted(set(LOCAL_ARTISTS) & set(table["primary_artist_name"]))
    if local:
        rows[local[0]] = [None, None, None, None, None, None]

    # Rows filled before: only plain rows (and one of an alias pair, when there are several pairs).
    candidates = rest + ([aliases[-1][1]] if len(aliases) > 1 else [])
    expected = world.expected_artist_url
    ids = {row[3] for row in rows.values()} | set(filter(None, table["primary_artist_id"]))
    for artist_id in ids:
        if artist_id in catalog.artists:
            expected[artist_id] = preferred_image(catalog.artists[artist_id].images)
    for name in sorted(rng.sample(candidates, min(len(candidates), share_count(n_rows, spec.prefilled, 1, when=20)))):
        url = other_url(draw, expected.get(rows[name][3]))
        rows[name][4] = url
        world.prefilled_artists[name] = url

    # What the file lets a backfill recover: only through tracks.primary_artist_id (absent from old files).
    for name, row in rows.items():
        if row[3] is not None:
            continue
        found = set() if spec.old_schema else track_ids.get(name, set())
        if len(found) == 1:
            world.recoverable_artists[name] = next(iter(found))
        else:
            world.unrecoverable_artists.add(name)
            if len(found) > 1:
                world.ambiguous_artists.add(name)

    world.artists_table = {
        "artist_name": list(rows),
        **{column: [row[i] for row in rows.values()] for i, column in enumerate(_ARTIST_COLUMNS[1:])},
    }
