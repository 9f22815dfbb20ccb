"""`verify --html`: one self-contained page to look at the images, as the dashboard's Top lists show them.

Self-contained: inline CSS and one inline `onerror` handler, no external script, style or font. The only
external references are the stored image URLs themselves (or none, when the pictures are embedded: then each
<img> carries its stored URL in data-url). Every text from the database is escaped.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from backfill.report.verify import SOURCE_NAMES, VerifyRecord
from backfill.store.toplists import Ranking, TopItem

TOP_N = 50
# Marks a page this command wrote: only such a page is ever replaced (a user's own HTML file is not).
MARKER = '<meta name="generator" content="backfill verify">'

_WHY = {
    "invalid_uri": "invalid URI: local file, episode or no track id",
    "no_track_row": "not in the tracks table",
    "no_artist_row": "not in the artists table",
    "no_artist_id": "no artist id",
    "not_found": "remembered miss: not on Spotify",
    "no_image": "remembered miss: Spotify has no image",
    "pending": "not yet fetched",
}
_RANKED = {
    "ms_played": "Ranked as the dashboard ranks them: by listening time (sum of plays.ms_played).",
    "plays": "Ranked by play count: the plays table has no ms_played column.",
    "name": "No plays table: nothing to rank by, so these are the first 50 by name.",
}

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#121212;color:#eee}
main{max-width:1200px;margin:0 auto;padding:16px}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .5em}
.path,.note{color:#aaa;font-size:.9em;overflow-wrap:anywhere}
.cov{display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(min(100%,260px),1fr))}
.box{background:#1e1e1e;border-radius:8px;padding:12px}
.bar{height:8px;background:#333;border-radius:4px;overflow:hidden;margin:6px 0}
.bar span{display:block;height:100%;background:#1db954}
ol.top{list-style:none;padding:0;margin:0;display:grid;gap:8px;
 grid-template-columns:repeat(auto-fill,minmax(min(100%,300px),1fr))}
.item{display:flex;gap:10px;align-items:center;background:#1e1e1e;border-radius:8px;padding:8px;min-width:0}
.rank{width:1.8em;text-align:right;color:#888;flex:none}
.pic{width:64px;height:64px;flex:none;position:relative}
.pic img{width:64px;height:64px;object-fit:cover;border-radius:4px;display:block}
.artist .pic img,.artist .ph{border-radius:50%}
.ph{display:none;width:64px;height:64px;border-radius:4px;background:#3a3a3a;color:#ddd;font-weight:700;
 font-size:20px;align-items:center;justify-content:center;border:2px dashed #777}
.none .ph,.broken .ph{display:flex}.broken img{display:none}
.text{min-width:0;overflow-wrap:anywhere}
.name{font-weight:600}.by,.stats{color:#aaa;font-size:.88em}
.src{color:#8fd19e;font-size:.8em}code{overflow-wrap:anywhere}
.why{color:#f0a35e;font-size:.85em}.why.late{display:none}.broken .why.late{display:block}
table{border-collapse:collapse;width:100%}td{padding:4px 6px;border-bottom:1px solid #2a2a2a}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
"""
# Swaps a picture that failed to load for its placeholder, so no broken-image icon ever shows.
_ON_ERROR = "this.closest('.item').classList.add('broken')"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _n(value: int) -> str:
    return f"{value:,}"


def _initials(name: str | None) -> str:
    words = [w for w in (name or "").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:  # e.g. an unbalanced "[" in the stored value
        return url


def _hours(ms: int | None) -> str:
    return f"{ms / 3_600_000:.2f} h" if ms is not None else ""


def _item(rank: int | None, kind: str, item: TopItem, embedded: Mapping[str, str]) -> str:
    if item.image_url is None:
        state, img = " none", ""
        why = f'<div class="why">no image: {_e(_WHY.get(item.missing or "", item.missing))}</div>'
    else:
        state = ""
        inline = embedded.get(item.image_url)
        src = f'src="{_e(inline)}" data-url="{_e(item.image_url)}"' if inline else f'src="{_e(item.image_url)}"'
        img = f'<img {src} alt="" width="64" height="64" onerror="{_ON_ERROR}">'
        why = f'<div class="why late">image did not load from {_e(_host(item.image_url))}</div>'
    stats = []
    if item.plays is not None:
        stats.append(f"{_n(item.plays)} play{'' if item.plays == 1 else 's'}")
    if item.ms_played is not None:
        stats.append(_hours(item.ms_played))
    by = f'<div class="by">{_e(item.artist)}</div>' if kind == "track" else ""
    if item.image_url is not None:
        source = SOURCE_NAMES.get(item.source or "unknown", item.source)
        why = f'<div class="src" data-source="{_e(item.source or "unknown")}">image: {_e(source)}</div>{why}'
    rank_cell = f'<span class="rank">{rank}</span>' if rank is not None else ""
    return (
        f'<li class="item {kind}{state}" data-kind="{kind}" data-rank="{rank or ""}" data-name="{_e(item.name)}">'
        f'{rank_cell}<div class="pic">{img}<span class="ph" aria-hidden="true">{_e(_initials(item.name))}</span>'
        f'</div><div class="text"><div class="name">{_e(item.name or "(no name)")}</div>{by}'
        f'<div class="stats">{" · ".join(stats)}</div>{why}</div></li>'
    )


def _top(title: str, kind: str, items: list[TopItem], ranking: Ranking, embedded: Mapping[str, str]) -> str:
    if not items:
        return f"<h2>{title}</h2><p class='note'>Nothing to list.</p>"
    rows = "".join(_item(i if ranking != "name" else None, kind, it, embedded) for i, it in enumerate(items, start=1))
    return f'<h2>{title}</h2><ol class="top" id="top-{kind}s">{rows}</ol>'


def _coverage(record: VerifyRecord) -> str:
    boxes = []
    for kind, c in record.tables.items():
        pct = 100 * c.with_image / c.total if c.total else 0.0
        label = "Tracks (album art)" if kind == "tracks" else "Artists (photos)"
        boxes.append(
            f'<div class="box" id="coverage-{kind}"><div class="name">{label}</div>'
            f'<div class="bar"><span style="width:{pct:.1f}%"></span></div>'
            f"{_n(c.with_image)} of {_n(c.total)} with an image ({pct:.1f}%)</div>"
        )
    return f'<h2>Coverage</h2><div class="cov">{"".join(boxes)}</div>'


def _missing(record: VerifyRecord) -> str:
    parts = []
    for kind, c in record.tables.items():
        unusable = (
            "invalid URI (local files, episodes, empty): never fetched" if kind == "tracks" else "no usable artist id"
        )
        rows = [
            (unusable, c.unusable),
            ("remembered miss: not on Spotify", c.remembered_not_found),
            ("remembered miss: no image on Spotify", c.remembered_no_image),
            ("not yet fetched: the next run fetches these", c.pending),
        ]
        if c.recoverable_ids:
            rows.append(("of those, ids recoverable from tracks", c.recoverable_ids))
        cells = "".join(f'<tr><td>{_e(label)}</td><td class="n">{_n(n)}</td></tr>' for label, n in rows)
        title = "Tracks" if kind == "tracks" else "Artists"
        parts.append(
            f'<div class="box" id="missing-{kind}"><div class="name">{title}: {_n(c.without_image)} rows '
            f"without an image</div><table>{cells}</table></div>"
        )
    note = (
        "Ids are counted once however many rows share them; remembered misses are asked again with "
        "<code>backfill run --retry-misses</code>."
    )
    return f'<h2>Still missing, and why</h2><div class="cov">{"".join(parts)}</div><p class="note">{note}</p>'


def _shell(text: str) -> str:
    """A word quoted for a POSIX shell, so the command shown can be pasted as it is."""
    return "'" + text.replace("'", "'\\''") + "'"


def _unconfirmed(record: VerifyRecord) -> str:
    """The rows a fallback found candidates for that the history did not confirm: a person may pick one."""
    if not record.unconfirmed:
        return ""
    rows = []
    for u in record.candidates:
        names = "".join(f"<li>{_e(c)}</li>" for c in u.candidates) or "<li>(none named)</li>"
        command = f"backfill set {u.kind} {_shell(u.key)} URL"
        rows.append(
            f'<tr data-kind="{_e(u.kind)}" data-key="{_e(u.key)}"><td>{_e(u.kind)}</td><td>{_e(u.name)}</td>'
            f"<td>{_e(SOURCE_NAMES.get(u.provider, u.provider))}</td><td><ul>{names}</ul></td>"
            f"<td><code>{_e(command)}</code></td></tr>"
        )
    shown = f" (the {len(record.candidates):,} checked last)" if len(record.candidates) < record.unconfirmed else ""
    return (
        f'<h2 id="unconfirmed">Unconfirmed candidates: {_n(record.unconfirmed)}{shown}</h2>'
        "<p class='note'>A fallback provider found these, but nothing in your history confirmed one (no track or "
        "album of yours in its catalogue), so none was stored. Pick the right picture yourself and set it with "
        "the command shown; nothing later replaces it.</p>"
        f"<table><tr><td>kind</td><td>row</td><td>provider</td><td>candidates</td><td>to set it</td></tr>"
        f"{''.join(rows)}</table>"
    )


def page(
    db_path: str,
    record: VerifyRecord,
    ranking: Ranking,
    tracks: list[TopItem],
    artists: list[TopItem],
    embedded: Mapping[str, str] | None = None,
) -> str:
    """The whole page as one string; `embedded` maps a stored image URL to the data: URI shown instead."""
    embedded = embedded or {}
    body = [
        f"<h1>backfill verify</h1><div class='path'>{_e(db_path)}</div>",
        _coverage(record),
        f"<p class='note' id='ranking'>{_e(_RANKED[ranking])}</p>",
        _top(f"Top {TOP_N} tracks", "track", tracks, ranking, embedded),
        _top(f"Top {TOP_N} artists", "artist", artists, ranking, embedded) if "artists" in record.tables else "",
        _missing(record),
        _unconfirmed(record),
    ]
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">{MARKER}'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>backfill verify: {_e(Path(db_path).name)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def refusal(path: str | Path, db_path: Path) -> str | None:
    """Why `path` must not be written: the database, one of DuckDB's files beside it, or no path at all.
    Given as typed: Path("") is ".", so an empty path can only be told from the string."""
    if not str(path).strip():
        return "an empty path"
    target, db = Path(path).resolve(), db_path.resolve()
    if target == db:
        return "it is the database itself"
    # DuckDB's own files beside the database: its write-ahead log, its temporary folder and what is inside.
    own = (db.with_name(db.name + ".wal"), db.with_name(db.name + ".tmp"))
    if target in own or own[1] in target.parents or target.name.startswith(db.name + "."):
        return f"it is one of the database's own files ({db.name}.wal, {db.name}.tmp, ...)"
    return None


def write_page(path: Path, text: str, db_path: Path) -> None:
    """Write the page atomically. Only a page that this command wrote (it carries MARKER) is replaced.

    Raises OSError (or ValueError for a path that must not be written) with a one-line reason.
    """
    refused = refusal(path, db_path)
    if refused:
        raise ValueError(refused)
    if path.exists():
        with path.open("rb") as f:
            head = f.read(4096)
        if MARKER.encode() not in head:
            raise ValueError("it exists and is not a page written by backfill verify (not replaced)")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
