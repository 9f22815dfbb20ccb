"""What a run prints when it ends: the summary, as text fitted to the terminal or as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backfill.engine.fallbacks import FallbackRun as Phase
from backfill.records import KindCounts, Plan, Replacements, RunRecord
from backfill.report.fallbacks import fallback_lines
from backfill.report.refresh import refresh_rows, refresh_title
from backfill.report.text import LABELS, RULE, duration, fit, number, percent, row
from backfill.sources import SOURCE_NAMES


def requests_saved(stats: KindCounts, requests: int) -> int:
    """Requests saved compared with one request per item that got an answer."""
    return stats.answered - requests


# -- run ------------------------------------------------------------------------------------------


def run_json(
    result: RunRecord, plan: Plan, kinds: tuple[str, ...], db: dict[str, tuple[int, int]], elapsed: float
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("tracks", "artists"):
        s, p = result.stats[kind], getattr(plan, kind)
        active = kind in kinds
        requests = result.requests_of(kind)
        out[kind] = {
            "pending": s.pending,
            "updated": s.updated,
            "no_image": s.no_image,
            "not_found": s.not_found,
            "invalid": p.invalid if active else 0,
            "failed": s.failed,
            "remaining": s.remaining,
            "remembered": p.remembered if active else 0,
            "requests": requests,
            "requests_saved": requests_saved(s, requests),
            "served_by": {src: n for (k, src), n in sorted(result.served.items()) if k == kind},
        }
        if kind == "artists":
            out[kind]["recovered_ids"] = s.recovered  # committed, not planned
        out[kind]["unwritten"] = s.unwritten
    out["requests"] = result.total_requests
    out["requests_by_source"] = {src: sum(result.requests.get(src, {}).values()) for src in SOURCE_NAMES}
    out["pace"] = {
        src: {"ceiling": pace.ceiling, "lowest": round(pace.lowest, 2), "final": round(pace.rate, 2)}
        for src, pace in result.paces.items()
        if pace.adaptive
    }
    out["given_up"] = {src: str(exc) for src, exc in result.given_up.items()}
    out["stopped"] = result.stopped
    out["resume_after"] = result.resume_after.isoformat(timespec="seconds") if result.resume_after else None
    out["error"] = str(result.error) if result.error else None
    out["diagnosis"] = result.diagnosis or None
    out["elapsed_seconds"] = round(elapsed, 3)
    out["database"] = {k: {"total": t, "with_image": w} for k, (t, w) in db.items()}
    return out


NOTHING_TO_FETCH = "Nothing to fetch: every row has an image, has no usable id, or is a known miss (`backfill verify`)."
NOTHING_TO_REFRESH = "Nothing to refresh: no row has an image with a usable id, or --older-than skipped them all."


def _title(result: RunRecord, kinds: tuple[str, ...]) -> str:
    stats = [result.stats[k] for k in kinds]
    filled = sum(s.updated + s.no_image for s in stats)
    misses = sum(s.not_found + s.failed for s in stats)
    if result.stopped == "error" and result.nothing_works:
        return "BACKFILL STOPPED: NOTHING FILLED"
    if result.stopped is not None:
        return {
            "rate_limited": "BACKFILL STOPPED: Spotify rate limit",
            "interrupted": "BACKFILL INTERRUPTED",
            "error": "BACKFILL STOPPED BY AN ERROR",
        }[result.stopped]
    if misses and not filled:
        return "BACKFILL FINISHED: NOTHING FILLED"
    failed = sum(s.failed for s in stats)
    if failed:
        return f"BACKFILL FINISHED WITH {number(failed)} FAILED"
    return "BACKFILL COMPLETE"


def _served(result: RunRecord, kind: str) -> str:
    parts = [f"{SOURCE_NAMES.get(src, src)} {number(n)}" for (k, src), n in sorted(result.served.items()) if k == kind]
    return ", ".join(parts)


def run_text(
    result: RunRecord,
    plan: Plan,
    kinds: tuple[str, ...],
    db: dict[str, tuple[int, int]],
    elapsed: float,
    refreshed: Replacements | None = None,  # a refresh: what it replaced
    fallbacks: tuple[Phase, ...] = (),
) -> str:
    idle = result.stopped is None and not any(result.stats[k].pending or getattr(plan, k).recovered for k in kinds)
    if idle and not any(p.record is not None for p in fallbacks):  # a table of zeros says less than one line
        return fit([NOTHING_TO_REFRESH if refreshed else NOTHING_TO_FETCH])
    title = _title(result, kinds)
    lines = [RULE, refresh_title(title) if refreshed else title, RULE]
    for kind in kinds:
        s, p = result.stats[kind], getattr(plan, kind)
        requests = result.requests_of(kind)
        lines += ["", LABELS[kind]]
        rows = [
            ("Pending", s.pending, ""),
            ("Updated", s.updated, ""),
            ("No image on Spotify", s.no_image, "remembered; --retry-misses to ask again"),
            (
                "Not found",
                s.not_found,
                "not remembered: nothing else worked either"
                if result.unremembered
                else "remembered; --retry-misses to ask again",
            ),
            ("Failed", s.failed, "left empty; the next run tries again"),
        ]
        if s.unwritten:
            rows.append(("Fetched, not written", s.unwritten, "the next run asks again"))
        if s.remaining - s.unwritten:
            rows.append(("Not reached", s.remaining - s.unwritten, "the next run continues"))
        if kind == "tracks":
            rows.append(("Invalid URIs", p.invalid, "local files, episodes, empty: never sent"))
        else:
            rows.append(("No usable id", p.invalid, "no spotify_artist_id to ask for"))
            if s.recovered:
                rows.append(("Ids recovered", s.recovered, "from tracks.primary_artist_id"))
        if p.remembered:
            rows.append(("Skipped, known misses", p.remembered, "from earlier runs"))
        if refreshed:
            rows = refresh_rows(result, kind, p, refreshed)
        saved = requests_saved(s, requests)
        rows.append(("Requests", requests, f"{number(saved)} saved vs one per item" if saved > 0 and s.updated else ""))
        lines += [line for label, value, note in rows for line in row(label + ":", value, note)]
        if served := _served(result, kind):
            lines.append(f"  {'Answered by:':<24}{served}")
    total = result.total_requests
    rate = f" ({total / elapsed:.1f}/s)" if elapsed > 0 and total else ""
    by_source = ", ".join(
        f"{SOURCE_NAMES[src]} {number(sum(result.requests[src].values()))}"
        for src in SOURCE_NAMES
        if src in result.requests
    )
    lines += ["", f"Requests: {number(total)} in {duration(elapsed)}{rate}" + (f" ({by_source})" if by_source else "")]
    for src, pace in result.paces.items():
        if pace.adaptive and pace.lowest < pace.ceiling:  # 429s brought it down: say where it settled
            lines.append(
                f"{SOURCE_NAMES[src]} pace: {pace.rate:.1f}/s at the end (asked for {pace.ceiling:g}/s; "
                f"lowest {pace.lowest:.1f}/s after 429s)"
            )
    lines += fallback_lines(fallbacks, kinds)
    lines += ["", "Database now:"]
    for kind, (rows_, with_image) in db.items():
        lines += row(
            f"{kind.capitalize()} with images:", with_image, f"of {number(rows_)} ({percent(with_image, rows_)})"
        )
    if result.stopped == "rate_limited" and result.resume_after:
        wait = (result.resume_after - datetime.now().astimezone()).total_seconds()
        why = "daily quota used up" if result.quota else "rate limit"
        who = "Spotify's oEmbed endpoint" if result.rate_limited_by == "oembed" else "Spotify"
        when = "%H:%M:%S %Z" if wait < 3600 else "%Y-%m-%d %H:%M %Z"  # a short wait: to the second
        lines += [
            "",
            f"{who} asks to wait {duration(wait)} ({why}). Work done so far is saved.",
            f"Run again after {result.resume_after.strftime(when).strip()} (local time).",
        ]
        if result.rate_limited_by == "api" and "oembed" not in result.requests:
            lines.append("`--source oembed` (or the default, auto) would go on without the Web API.")
    for src, exc in result.given_up.items():
        other = "oEmbed" if src == "api" else "the Web API"
        lines += ["", f"{SOURCE_NAMES[src]} given up ({exc}); {other} did the rest."]
    if result.error:
        lines += ["", f"Error: {result.error}"]
    elif result.diagnosis and (any(result.stats[k].failed for k in kinds) or result.unremembered):
        lines += ["", f"Why: {result.diagnosis}"]
    lines.append(RULE)
    return fit(lines)
