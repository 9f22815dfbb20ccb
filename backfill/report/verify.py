"""What `verify` says about a file: its typed record, and that record as text and JSON (the HTML page, in
report.html, is made from the same record). Light to import: `verify` starts without the fetching side."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backfill.kinds import KINDS
from backfill.records import Plan
from backfill.report.text import LABELS, RULE, fit, number, percent, row
from backfill.store.toplists import Unconfirmed

SOURCE_NAMES = {
    "spotify": "Spotify",
    "deezer": "Deezer",
    "musicbrainz": "MusicBrainz",
    "manual": "set by hand",
    "unknown": "not by backfill",  # values already there, or changed since
}


@dataclass(frozen=True)
class Coverage:
    """One table: how many rows have an image, and why the others do not."""

    total: int
    with_image: int
    unusable: int  # tracks: invalid URIs (never fetched); artists: no usable id
    remembered_not_found: int
    remembered_no_image: int
    pending: int  # what the next run fetches
    recoverable_ids: int | None  # artists: of those, ids recoverable from tracks; tracks: None
    sample: tuple[str, str] | None  # (name, image URL) of one row that has an image
    # rows with an image by who wrote it: spotify, deezer, musicbrainz, manual, unknown (sums to with_image)
    sources: Mapping[str, int] = field(default_factory=dict)

    @property
    def without_image(self) -> int:
        return self.total - self.with_image

    @property
    def coverage(self) -> float | None:
        return round(self.with_image / self.total, 4) if self.total else None


@dataclass(frozen=True)
class VerifyRecord:
    path: str
    tables: Mapping[str, Coverage]  # "tracks", and "artists" when the file has that table
    unconfirmed: int = 0  # rows still without an image for which a fallback provider found unconfirmed candidates
    candidates: tuple[Unconfirmed, ...] = ()  # the first of those, for a person to pick from (`backfill set`)


def verify_record(
    path: str,
    db: dict[str, tuple[int, int]],
    plan: Plan,
    remembered: dict[tuple[str, str], int],
    samples: dict[str, tuple[str, str] | None],
    sources: Mapping[str, Mapping[str, int]] | None = None,
    unconfirmed: tuple[int, list[Unconfirmed]] = (0, []),
) -> VerifyRecord:
    tables: dict[str, Coverage] = {}
    for name, kind in KINDS.items():
        if name not in db:
            continue
        total, with_image = db[name]
        p = getattr(plan, name)
        tables[name] = Coverage(
            total=total,
            with_image=with_image,
            unusable=p.invalid,
            remembered_not_found=remembered.get((kind.log, "not_found"), 0),
            remembered_no_image=remembered.get((kind.log, "no_image"), 0),
            pending=p.pending,
            recoverable_ids=p.recovered if name == "artists" else None,
            sample=samples.get(kind.log),
            sources=dict((sources or {}).get(name, {})),
        )
    return VerifyRecord(path, tables, unconfirmed[0], tuple(unconfirmed[1]))


def verify_json(record: VerifyRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, c in record.tables.items():
        out[name] = {
            "total": c.total,
            "with_image": c.with_image,
            "without_image": c.without_image,
            "coverage": c.coverage,
            "invalid" if name == "tracks" else "no_id": c.unusable,
            "remembered_not_found": c.remembered_not_found,
            "remembered_no_image": c.remembered_no_image,
            "pending": c.pending,
        }
        if c.recoverable_ids is not None:
            out[name]["recovered_ids"] = c.recoverable_ids
        out[name]["sources"] = dict(c.sources)
        out[name]["sample"] = {"name": c.sample[0], "image_url": c.sample[1]} if c.sample else None
    out["unconfirmed"] = {
        "rows": record.unconfirmed,
        "first": [
            {"provider": u.provider, "kind": u.kind, "key": u.key, "name": u.name, "candidates": list(u.candidates)}
            for u in record.candidates
        ],
    }
    return out


def verify_text(record: VerifyRecord) -> str:
    lines = [RULE, f"VERIFY {record.path}", RULE]
    for name, c in record.tables.items():
        lines += [
            "",
            LABELS[name],
            f"  {'Total:':<32}{number(c.total):>9}",
            *row("With image:", c.with_image, f"({percent(c.with_image, c.total)})", 32),
            f"  {'Without image:':<32}{number(c.without_image):>9}",
        ]
        unusable = "  invalid URI (never fetched):" if name == "tracks" else "  no usable artist id:"
        lines += [
            f"  {unusable:<32}{number(c.unusable):>9}",
            f"  {'  known: not on Spotify:':<32}{number(c.remembered_not_found):>9}",
            f"  {'  known: no image on Spotify:':<32}{number(c.remembered_no_image):>9}",
            f"  {'  to fetch on the next run:':<32}{number(c.pending):>9}",
        ]
        if c.recoverable_ids:
            lines.append(f"  {'  (ids recoverable from tracks):':<32}{number(c.recoverable_ids):>9}")
        if c.sources:
            lines.append("  Images by source:")
            lines += [f"  {'  ' + SOURCE_NAMES.get(s, s) + ':':<32}{number(n):>9}" for s, n in c.sources.items()]
        if c.sample:
            lines += [f"  Sample: {c.sample[0]}", f"    {c.sample[1]}"]
    if record.unconfirmed:
        lines += ["", f"  {'Unconfirmed fallback candidates:':<32}{number(record.unconfirmed):>9}"]
        lines.append("  (none confirmed by your history: pick one with `backfill set`; `verify --html` lists them)")
    lines.append(RULE)
    return fit(lines)
