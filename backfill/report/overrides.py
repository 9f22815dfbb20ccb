"""What `set` prints: its result as text and as JSON."""

from __future__ import annotations

from typing import Any

from backfill.store.manual import SetResult


def set_json(result: SetResult, *, dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "replaced": result.replaced,
        "marked": result.marked,
        "unchanged": result.unchanged,
        "run_id": result.run_id.isoformat() if result.run_id and result.writes and not dry_run else None,
    }


def set_text(result: SetResult, *, dry_run: bool) -> str:
    would = "Would set" if dry_run else "Set"
    replaced, marked = result.replaced, result.marked
    if not result.writes:
        return f"Nothing to set: all {result.unchanged:,} already so, set by hand."
    lines = [
        f"{would} by hand: {replaced['tracks']:,} track images and {replaced['artists']:,} artist photos replaced"
        + ("" if dry_run else " (journaled: `backfill undo --last` or `--source manual` puts them back)")
        + "."
    ]
    if marked["tracks"] or marked["artists"]:
        lines.append(
            f"Already held the URL, now marked as set by hand: {marked['tracks']:,} tracks, {marked['artists']:,} "
            "artists."
        )
    if result.unchanged:
        lines.append(f"Already so: {result.unchanged:,}.")
    return "\n".join(lines)
