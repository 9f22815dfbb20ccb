"""What `run --dry-run` prints: the plan's counts and the requests and time each way the run may go would take."""

from __future__ import annotations

import math
from typing import Any

from backfill.records import FallbackKindPlan, FallbackPlan, KindPlan, Plan
from backfill.report.text import LABELS, RULE, duration, fit, number
from backfill.sources import BATCH_SIZE, SOURCE_NAMES

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
        **({"fallback": _fallback_json(plan.fallback, kinds)} if plan.fallback is not None else {}),
        "error": None,
    }


def _fallback_json(fallback: FallbackPlan, kinds: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"providers": list(fallback.providers)}
    for kind in kinds:
        k: FallbackKindPlan = getattr(fallback, kind)
        out[kind] = {
            "rows": k.rows,
            "unusable": k.unusable,
            "asked": k.asked,
            "remembered": k.remembered,
            "per_provider": dict(k.per_provider),
        }
    return out


def _fallback_lines(fallback: FallbackPlan, kinds: tuple[str, ...]) -> list[str]:
    """What each provider would be asked now (rows Spotify cannot fill; a run adds what Spotify then misses)."""
    lines = ["", f"Fallbacks, in this order: {', '.join(fallback.providers)} (what Spotify cannot fill now):"]
    for kind in kinds:
        k: FallbackKindPlan = getattr(fallback, kind)
        asked = ", ".join(f"{p} {number(n)}" for p, n in k.per_provider.items())
        lines.append(f"  {kind.capitalize() + ':':<30}{number(k.rows)} rows; asked of {asked or 'none'}")
    return lines


_WAYS = {
    "oembed": "oEmbed only (no credentials)",
    "extended_quota": "Extended Quota (batch calls)",
    "development_mode": "Development Mode",
}


def dry_run_text(
    plan: Plan, kinds: tuple[str, ...], rate: float, use_api: bool = True, use_oembed: bool = False,
    oembed_rate: float = 10.0, *, refresh: bool = False,
) -> str:  # fmt: skip
    """`refresh`: the same figures, about the rows that have an image (and the ids checked recently)."""
    title = (
        "DRY RUN (refresh): nothing fetched, nothing written"
        if refresh
        else "DRY RUN: nothing fetched, nothing written"
    )
    lines = [RULE, title, RULE]
    for kind in kinds:
        p = getattr(plan, kind)
        lines += [
            "",
            LABELS[kind],
            f"  {'Rows with an image:' if refresh else 'Rows without an image:':<30}{number(p.missing_rows):>9}",
            f"  {'No usable id (never sent):':<30}{number(p.invalid):>9}",
            f"  {'Just checked, skipped:' if refresh else 'Known misses, skipped:':<30}{number(p.remembered):>9}",
            f"  {'Distinct ids to fetch:':<30}{number(p.pending):>9}",
        ]
        if kind == "artists" and p.recovered:
            lines.append(f"  {'Ids recovered from tracks:':<30}{number(p.recovered):>9}")
    lines += ["", f"Expected requests (Web API at {rate:g}/s, oEmbed at up to {oembed_rate:g}/s):"]
    for way, requests in scenarios(plan, use_api, use_oembed).items():
        parts = ", ".join(f"{SOURCE_NAMES[src]} {number(n)}" for src, n in requests.items() if n or src == "api")
        eta = duration(_seconds(requests, rate, oembed_rate))
        lines.append(f"  {_WAYS[way] + ':':<30}{parts}  ~{eta}")
    if use_api and not use_oembed:
        per_item = estimate(plan)["one_per_item"]
        lines.append(f"  {'(one request per item:':<30}Web API {number(per_item)}  ~{duration(per_item / rate)})")
        lines.append("  (Development Mode: album grouping; a floor, long albums and editions add a little)")
    if plan.fallback is not None:
        lines += _fallback_lines(plan.fallback, kinds)
    lines.append(RULE)
    return fit(lines)
