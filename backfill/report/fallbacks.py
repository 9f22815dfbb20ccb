"""What a run says of its fallback providers: per provider, what it was asked, filled and could not."""

from __future__ import annotations

from typing import Any

from backfill.engine.fallbacks import FallbackRun as Phase
from backfill.report.text import number, row


def fallback_json(phases: tuple[Phase, ...], kinds: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for phase in phases:
        r = phase.record
        doc: dict[str, Any] = {}
        for kind in kinds:
            s = r.stats[kind] if r is not None else None
            doc[kind] = {
                "asked": getattr(phase.plan, kind).pending,
                "filled": s.updated if s else 0,
                "no_image": s.no_image if s else 0,
                "not_found": s.not_found if s else 0,
                "unconfirmed": s.unconfirmed if s else 0,
                "failed": s.failed if s else 0,
                "remaining": s.remaining if s else 0,
            }
        doc["requests"] = r.total_requests if r is not None else 0
        doc["stopped"] = r.stopped if r is not None else None
        doc["error"] = str(r.error) if r is not None and r.error else None
        out[phase.provider] = doc
    return out


def fallback_lines(phases: tuple[Phase, ...], kinds: tuple[str, ...]) -> list[str]:
    """The summary's FALLBACKS section: a few rows per provider, and why one stopped."""
    if not phases:
        return []
    lines = ["", "FALLBACKS (only what Spotify cannot fill; a match needs your history's confirmation)"]
    for phase in phases:
        r = phase.record
        asked = sum(getattr(phase.plan, k).pending for k in kinds)
        if r is None or not asked:
            lines.append(f"  {phase.label}: nothing to ask")
            continue
        lines.append(f"  {phase.label}: {number(asked)} asked, {number(r.total_requests)} requests")
        for kind in kinds:
            s = r.stats[kind]
            if not getattr(phase.plan, kind).pending:
                continue
            rows = [
                (f"{kind.capitalize()} filled", s.updated, ""),
                ("No image there", s.no_image, "remembered"),
                ("Not found", s.not_found, "remembered"),
                ("Unconfirmed", s.unconfirmed, "remembered; candidates: `backfill verify --html`"),
                ("Failed", s.failed, "not remembered: the next run asks again"),
            ]
            if s.remaining:
                rows.append(("Not reached", s.remaining, "the next run continues"))
            lines += [line for label, n, note in rows if n for line in row("  " + label + ":", n, note)]
        if r.stopped == "rate_limited":
            lines.append(f"    {phase.label} asked to wait: the rest waits for the next run.")
        elif r.error is not None:
            lines.append(f"    {phase.label} stopped: {r.error}")
    return lines
