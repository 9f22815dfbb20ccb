"""The summary of `run --refresh`: what it checked, replaced and left unchanged (not what a fill would say)."""

from __future__ import annotations

from backfill.records import KindPlan, Replacements, RunRecord


def refresh_title(title: str) -> str:
    """A fill's title said of a refresh: "BACKFILL COMPLETE" → "REFRESH COMPLETE" (a miss replaces nothing)."""
    title = title.replace("BACKFILL", "REFRESH", 1)
    return "REFRESH COMPLETE" if title == "REFRESH FINISHED: NOTHING FILLED" else title


def refresh_rows(result: RunRecord, kind: str, plan: KindPlan, refreshed: Replacements) -> list[tuple[str, int, str]]:
    """(label, value, note) rows for one kind: Checked, Replaced, Unchanged, and what was not asked."""
    s = result.stats[kind]
    checked = s.found + s.no_image + s.not_found  # ids Spotify answered (a miss keeps the stored image)
    rows = [
        ("Checked", checked, "ids asked again; each row had an image"),
        ("Replaced", refreshed.rows[kind], "journaled: `backfill undo --last`"),
        ("Unchanged", max(0, checked - refreshed.ids[kind]), "the same image, or none now: kept"),
    ]
    if s.failed:
        rows.append(("Failed", s.failed, "left as they are; the next refresh asks again"))
    if s.remaining:
        rows.append(("Not reached", s.remaining, "the next refresh continues"))
    if plan.remembered:
        rows.append(("Skipped, just checked", plan.remembered, "--older-than"))
    return rows
