"""What `undo` prints: its result as text and as JSON."""

from __future__ import annotations

from typing import Any

from backfill.store.journal import UndoResult
from backfill.store.unwrite import SourceUndo

_WHOSE = {"spotify": "Spotify", "deezer": "Deezer", "musicbrainz": "MusicBrainz", "manual": "backfill set"}


def undo_json(result: UndoResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id.isoformat() if result.run_id else None,
        "restored": result.restored,
        "kept": [{"kind": k, "row": key, "value_now": value} for k, key, value in result.kept],
    }


def undo_text(result: UndoResult) -> str:
    restored = sum(result.restored.values())
    if not restored and not result.kept:
        return "Nothing to undo."
    of = f" of the refresh started {result.run_id:%Y-%m-%d %H:%M:%S} UTC" if result.run_id else ""
    lines = [
        f"Restored {result.restored['tracks']:,} track images and {result.restored['artists']:,} artist photos{of}."
    ]
    if result.kept:
        lines.append(f"Left alone, changed since the refresh: {len(result.kept):,}.")
        lines += [f"  {kind[:-1]} {key}: now {value}" for kind, key, value in result.kept[:10]]
    return "\n".join(lines)


def source_undo_json(result: SourceUndo) -> dict[str, Any]:
    return {
        "source": result.source,
        "restored": result.restored,
        "unmarked": result.unmarked,
        "kept": [{"kind": k, "row": key, "value_now": value} for k, key, value in result.kept],
    }


def source_undo_text(result: SourceUndo) -> str:
    whose = _WHOSE.get(result.source, result.source)
    restored, unmarked = result.restored, result.unmarked
    if not any(restored.values()) and not any(unmarked.values()) and not result.kept:
        return f"Nothing to undo: no value {whose} wrote is in the database now."
    back = "to the values they replaced" if result.source == "manual" else "to NULL"
    lines = [
        f"Set back what {whose} wrote, {back}: {restored['tracks']:,} track images and {restored['artists']:,} "
        "artist photos (journaled: `backfill undo --last` walks this back)."
    ]
    if any(unmarked.values()):
        lines.append(
            f"Kept, no longer marked as set by hand (they already held the URL): {unmarked['tracks']:,} tracks, "
            f"{unmarked['artists']:,} artists."
        )
    if result.kept:
        lines.append(f"Left alone, changed since {whose} wrote them (the first 10 of each kind):")
        lines += [f"  {kind[:-1]} {key}: now {value}" for kind, key, value in result.kept]
    return "\n".join(lines)
