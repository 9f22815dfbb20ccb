"""What the tool prints: the run summary, the dry-run estimate and `verify`, fitted to the terminal."""

from __future__ import annotations

import math
import shutil
import textwrap
from datetime import datetime
from typing import Any

from backfill.pipeline import KindStats, RunResult
from backfill.sources.api import BATCH_SIZE
from backfill.store import KindPlan, Plan
from backfill.watchdog import NothingWorks

RULE = "=" * 70
_LABELS = {"tracks": "TRACKS (album art)", "artists": "ARTISTS (profile photos)"}


def text_width() -> int:
    """The terminal's width (COLUMNS first, 80 when not a terminal), at most 100: longer lines are hard to read."""
    return max(40, min(shutil.get_terminal_size().columns, 100))


def _row(label: str, value: int, note: str = "", pad: int = 24) -> list[str]:
    """`  Label:      1,234  note`; at a narrow width the note goes below, wrapped, rather than mid-word."""
    head = f"  {label:<{pad}}{_n(value):>9}"
    if not note or len(head) + 2 + len(note) <= text_width():
        return [f"{head}  {note}".rstrip()]
    return [head, *_wrap(note, " " * 6)]


def _wrap(text: str, indent: str, hang: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        text_width(),
        initial_indent=indent,
        subsequent_indent=indent + hang,
        break_on_hyphens=False,
        break_long_words=False,  # a URL or a path stays whole
    )


def _fit(lines: list[str]) -> str:
    """The lines, the rules as wide as the terminal allows and longer lines wrapped at spaces."""
    width, out = text_width(), []
    for line in lines:
        if line == RULE:
            out.append(RULE[:width])
        elif len(line) <= width:
            out.append(line)
        else:
            out += _wrap(line.strip(), line[: len(line) - len(line.lstrip())], "  ")
    return "\n".join(out)


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def requests_saved(stats: KindStats, requests: int) -> int:
    """Requests saved compared with one request per item that got an answer."""
    return stats.answered - requests


# -- run ------------------------------------------------------------------------------------------


SOURCE_NAMES = {"api": "Web API", "oembed": "oEmbed"}


def run_json(
    result: RunResult, plan: Plan, kinds: tuple[str, ...], db: dict[str, tuple[int, int]], elapsed: float
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
            out[kind]["recovered_ids"] = p.recovered if active else 0
    out["requests"] = result.total_requests
    out["requests_by_source"] = {src: sum(result.requests.get(src, {}).values()) for src in SOURCE_NAMES}
    out["pace"] = {
        src: {"ceiling": pace.ceiling, "lowest": round(pace.lowest, 2), "final": round(pace.rate, 2)}
        for src, pace in result.paces.items()
        if pace.adaptive
    }
    out["stopped"] = result.stopped
    out["resume_after"] = result.resume_after.isoformat(timespec="seconds") if result.resume_after else None
    out["error"] = str(result.error) if result.error else None
    out["diagnosis"] = result.diagnosis or None
    out["elapsed_seconds"] = round(elapsed, 3)
    out["database"] = {k: {"total": t, "with_image": w} for k, (t, w) in db.items()}
    return out


def _title(result: RunResult, kinds: tuple[str, ...]) -> str:
    stats = [result.stats[k] for k in kinds]
    filled = sum(s.updated + s.no_image for s in stats)
    misses = sum(s.not_found + s.failed for s in stats)
    if result.stopped == "error" and isinstance(result.error, NothingWorks):
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
        return f"BACKFILL FINISHED WITH {_n(failed)} FAILED"
    return "BACKFILL COMPLETE"


def _served(result: RunResult, kind: str) -> str:
    parts = [f"{SOURCE_NAMES.get(src, src)} {_n(n)}" for (k, src), n in sorted(result.served.items()) if k == kind]
    return ", ".join(parts)


def run_text(
    result: RunResult, plan: Plan, kinds: tuple[str, ...], db: dict[str, tuple[int, int]], elapsed: float
) -> str:
    lines = [RULE, _title(result, kinds), RULE]
    for kind in kinds:
        s, p = result.stats[kind], getattr(plan, kind)
        requests = result.requests_of(kind)
        lines += ["", _LABELS[kind]]
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
        if s.remaining:
            rows.append(("Not reached", s.remaining, "the next run continues"))
        if kind == "tracks":
            rows.append(("Invalid URIs", p.invalid, "local files, episodes, empty: never sent"))
        else:
            rows.append(("No usable id", p.invalid, "no spotify_artist_id to ask for"))
            if p.recovered:
                rows.append(("Ids recovered", p.recovered, "from tracks.primary_artist_id"))
        if p.remembered:
            rows.append(("Skipped, known misses", p.remembered, "from earlier runs"))
        saved = requests_saved(s, requests)
        rows.append(("Requests", requests, f"{_n(saved)} saved vs one per item" if saved > 0 and s.updated else ""))
        lines += [line for label, value, note in rows for line in _row(label + ":", value, note)]
        if served := _served(result, kind):
            lines.append(f"  {'Answered by:':<24}{served}")
    total = result.total_requests
    rate = f" ({total / elapsed:.1f}/s)" if elapsed > 0 and total else ""
    by_source = ", ".join(
        f"{SOURCE_NAMES[src]} {_n(sum(result.requests[src].values()))}"
        for src in SOURCE_NAMES
        if src in result.requests
    )
    lines += ["", f"Requests: {_n(total)} in {duration(elapsed)}{rate}" + (f" ({by_source})" if by_source else "")]
    for src, pace in result.paces.items():
        if pace.adaptive and pace.lowest < pace.ceiling:  # 429s brought it down: say where it settled
            lines.append(
                f"{SOURCE_NAMES[src]} pace: {pace.rate:.1f}/s at the end (asked for {pace.ceiling:g}/s; "
                f"lowest {pace.lowest:.1f}/s after 429s)"
            )
    lines += ["", "Database now:"]
    for kind, (rows_, with_image) in db.items():
        lines += _row(f"{kind.capitalize()} with images:", with_image, f"of {_n(rows_)} ({_pct(with_image, rows_)})")
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
    if result.error:
        lines += ["", f"Error: {result.error}"]
    elif result.diagnosis and (any(result.stats[k].failed for k in kinds) or result.unremembered):
        lines += ["", f"Why: {result.diagnosis}"]
    if result.stopped is None and not any(result.stats[k].pending for k in kinds):
        why = "every row has an image, has no usable id, or is a known miss (`backfill verify` shows which)"
        lines += ["", f"Nothing to fetch: {why}."]
    lines.append(RULE)
    return _fit(lines)


# -- dry run --------------------------------------------------------------------------------------


def estimate(plan: Plan) -> dict[str, int]:
    """Requests a run would make: with batch endpoints, and in Development Mode with album grouping.

    The Development Mode figure assumes each album's track list fits one page and every group is one
    edition: a floor, which long albums, other editions and unknown ids raise a little.
    """
    t, a = plan.tracks, plan.artists
    dev_tracks = t.groups.get("singles", 0) + min(2 * t.groups.get("groups", 0), t.groups.get("grouped_tracks", 0))
    return {
        "batch": math.ceil(t.pending / BATCH_SIZE) + math.ceil(a.pending / BATCH_SIZE),
        "development_mode": dev_tracks + a.pending,
        "development_mode_tracks": dev_tracks,
        "one_per_item": t.pending + a.pending,
    }


def _plan_json(p: KindPlan) -> dict[str, int]:
    return {
        "pending": p.pending,
        "rows_without_image": p.missing_rows,
        "invalid": p.invalid,
        "remembered": p.remembered,
        "recovered_ids": p.recovered,
    }


def scenarios(plan: Plan, use_api: bool, use_oembed: bool) -> dict[str, dict[str, int]]:
    """Requests per source for each way the run may go (which one only the first batch call will tell)."""
    est = estimate(plan)
    items = est["one_per_item"]
    probes = int(plan.tracks.pending > 0) + int(plan.artists.pending > 0)
    if not use_api:
        return {"oembed": {"api": 0, "oembed": items}}
    if not use_oembed:
        return {
            "extended_quota": {"api": est["batch"], "oembed": 0},
            "development_mode": {"api": est["development_mode"] + probes, "oembed": 0},
        }
    return {
        "extended_quota": {"api": est["batch"], "oembed": 0},
        "development_mode": {"api": probes, "oembed": items},
    }


def _seconds(requests: dict[str, int], rate: float, oembed_rate: float) -> float:
    # The two sources run side by side, each at its own pace.
    return max(requests.get("api", 0) / rate, requests.get("oembed", 0) / oembed_rate)


def dry_run_json(
    plan: Plan, kinds: tuple[str, ...], rate: float, use_api: bool = True, use_oembed: bool = False,
    oembed_rate: float = 10.0,
) -> dict[str, Any]:  # fmt: skip
    est = estimate(plan)
    ways = scenarios(plan, use_api, use_oembed)
    return {
        "dry_run": True,
        **{k: _plan_json(getattr(plan, k)) for k in kinds},
        "sources": [s for s, used in (("api", use_api), ("oembed", use_oembed)) if used],
        "requests": {k: v for k, v in est.items() if not k.endswith("_tracks")},
        "seconds": {k: round(est[k] / rate, 1) for k in ("batch", "development_mode", "one_per_item")},
        "requests_by_source": ways,
        "seconds_by_way": {way: round(_seconds(r, rate, oembed_rate), 1) for way, r in ways.items()},
        "rate": rate,
        "oembed_rate": oembed_rate,
        "error": None,
    }


_WAYS = {
    "oembed": "oEmbed only (no credentials)",
    "extended_quota": "Extended Quota (batch calls)",
    "development_mode": "Development Mode",
}


def dry_run_text(
    plan: Plan, kinds: tuple[str, ...], rate: float, use_api: bool = True, use_oembed: bool = False,
    oembed_rate: float = 10.0,
) -> str:  # fmt: skip
    lines = [RULE, "DRY RUN: nothing fetched, nothing written", RULE]
    for kind in kinds:
        p = getattr(plan, kind)
        lines += [
            "",
            _LABELS[kind],
            f"  {'Rows without an image:':<30}{_n(p.missing_rows):>9}",
            f"  {'No usable id (never sent):':<30}{_n(p.invalid):>9}",
            f"  {'Known misses, skipped:':<30}{_n(p.remembered):>9}",
            f"  {'Distinct ids to fetch:':<30}{_n(p.pending):>9}",
        ]
        if kind == "artists" and p.recovered:
            lines.append(f"  {'Ids recovered from tracks:':<30}{_n(p.recovered):>9}")
    lines += ["", f"Expected requests (Web API at {rate:g}/s, oEmbed at up to {oembed_rate:g}/s):"]
    for way, requests in scenarios(plan, use_api, use_oembed).items():
        parts = ", ".join(f"{SOURCE_NAMES[src]} {_n(n)}" for src, n in requests.items() if n or src == "api")
        eta = duration(_seconds(requests, rate, oembed_rate))
        lines.append(f"  {_WAYS[way] + ':':<30}{parts}  ~{eta}")
    if use_api and not use_oembed:
        per_item = estimate(plan)["one_per_item"]
        lines.append(f"  {'(one request per item:':<30}Web API {_n(per_item)}  ~{duration(per_item / rate)})")
        lines.append("  (Development Mode: album grouping; a floor, long albums and editions add a little)")
    lines.append(RULE)
    return _fit(lines)


# -- verify ---------------------------------------------------------------------------------------


def verify_json(
    db: dict[str, tuple[int, int]],
    plan: Plan,
    remembered: dict[tuple[str, str], int],
    samples: dict[str, tuple[str, str] | None],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, log_kind in (("tracks", "track"), ("artists", "artist")):
        if kind not in db:
            continue
        total, with_image = db[kind]
        p = getattr(plan, kind)
        out[kind] = {
            "total": total,
            "with_image": with_image,
            "without_image": total - with_image,
            "coverage": round(with_image / total, 4) if total else None,
            "invalid" if kind == "tracks" else "no_id": p.invalid,
            "remembered_not_found": remembered.get((log_kind, "not_found"), 0),
            "remembered_no_image": remembered.get((log_kind, "no_image"), 0),
            "pending": p.pending,
        }
        if kind == "artists":
            out[kind]["recovered_ids"] = p.recovered
        sample = samples.get(kind[:-1])
        out[kind]["sample"] = {"name": sample[0], "image_url": sample[1]} if sample else None
    return out


def verify_text(path: str, report: dict[str, Any]) -> str:
    lines = [RULE, f"VERIFY {path}", RULE]
    for kind, r in report.items():
        lines += [
            "",
            _LABELS[kind],
            f"  {'Total:':<32}{_n(r['total']):>9}",
            *_row("With image:", r["with_image"], f"({_pct(r['with_image'], r['total'])})", 32),
            f"  {'Without image:':<32}{_n(r['without_image']):>9}",
        ]
        if kind == "tracks":
            lines.append(f"  {'  invalid URI (never fetched):':<32}{_n(r['invalid']):>9}")
        else:
            lines.append(f"  {'  no usable artist id:':<32}{_n(r['no_id']):>9}")
        lines += [
            f"  {'  known: not on Spotify:':<32}{_n(r['remembered_not_found']):>9}",
            f"  {'  known: no image on Spotify:':<32}{_n(r['remembered_no_image']):>9}",
            f"  {'  to fetch on the next run:':<32}{_n(r['pending']):>9}",
        ]
        if kind == "artists" and r["recovered_ids"]:
            lines.append(f"  {'  (ids recoverable from tracks):':<32}{_n(r['recovered_ids']):>9}")
        if r["sample"]:
            lines += [f"  Sample: {r['sample']['name']}", f"    {r['sample']['image_url']}"]
    lines.append(RULE)
    return _fit(lines)
