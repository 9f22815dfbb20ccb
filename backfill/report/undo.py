"""What `undo` prints: its result as text and as JSON."""

from __future__ import annotations

from typing import Any

from backfill.store.journal import UndoResult


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
