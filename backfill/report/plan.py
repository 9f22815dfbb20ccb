"""What the tool prints before a run and about a file: the dry-run estimate and `verify`. Light to import:
`verify` starts without the fetching side."""

from __future__ import annotations

import math
from typing import Any

from backfill.records import KindPlan, Plan
from backfill.report.text import LABELS, RULE, duration, fit, number, percent, row
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
            LABELS[kind],
            f"  {'Rows without an image:':<30}{number(p.missing_rows):>9}",
            f"  {'No usable id (never sent):':<30}{number(p.invalid):>9}",
            f"  {'Known misses, skipped:':<30}{number(p.remembered):>9}",
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
    lines.append(RULE)
    return fit(lines)


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
            LABELS[kind],
            f"  {'Total:':<32}{number(r['total']):>9}",
            *row("With image:", r["with_image"], f"({percent(r['with_image'], r['total'])})", 32),
            f"  {'Without image:':<32}{number(r['without_image']):>9}",
        ]
        if kind == "tracks":
            lines.append(f"  {'  invalid URI (never fetched):':<32}{number(r['invalid']):>9}")
        else:
            lines.append(f"  {'  no usable artist id:':<32}{number(r['no_id']):>9}")
        lines += [
            f"  {'  known: not on Spotify:':<32}{number(r['remembered_not_found']):>9}",
            f"  {'  known: no image on Spotify:':<32}{number(r['remembered_no_image']):>9}",
            f"  {'  to fetch on the next run:':<32}{number(r['pending']):>9}",
        ]
        if kind == "artists" and r["recovered_ids"]:
            lines.append(f"  {'  (ids recoverable from tracks):':<32}{number(r['recovered_ids']):>9}")
        if r["sample"]:
            lines += [f"  Sample: {r['sample']['name']}", f"    {r['sample']['image_url']}"]
    lines.append(RULE)
    return fit(lines)
