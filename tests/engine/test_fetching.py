"""The fetcher's rules, through `Fetcher(lineup, emit).run(job)`, `batch_allowed` and `probe_settled`, with fake
sources: batches first, then the single-item sources in turn, each asked only for what the ones before it
could not answer, and a source given up handing its remaining ids on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from backfill.engine.fetching import Fetched, Fetcher, Job
from backfill.sources.answers import NOT_FOUND, Answer
from backfill.sources.base import Lineup, Source
from backfill.sources.health import SourceDown
from backfill.sources.http import RateLimited
from tests.fakes import Call, FakeSource, Request, failed, image_url

T = TypeVar("T")
HANG_GUARD = 10.0  # seconds: only a broken rule ever waits this long


def fetcher(lineup: Lineup) -> tuple[Fetcher, list[Fetched]]:
    """A fetcher over `lineup`, and the list its emitted answers land in."""
    emitted: list[Fetched] = []

    async def emit(fetched: Fetched) -> None:
        emitted.append(fetched)

    return Fetcher(lineup, emit), emitted


def by_id(emitted: list[Fetched]) -> dict[str, tuple[Answer, str]]:
    """Each id's answer and the source named with it; every id emitted once."""
    ids = [f.item_id for f in emitted]
    assert len(ids) == len(set(ids)), f"an id emitted twice: {ids}"
    return {f.item_id: (f.answer, f.source) for f in emitted}


def url(source: str, item_id: str) -> Answer:
    return Answer("updated", image_url(source, item_id))


async def guarded(work: Awaitable[T]) -> T:
    return await asyncio.wait_for(work, HANG_GUARD)


async def until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until `condition` holds (callers bound it with a hang guard). A poll: the state
    watched is the fetcher's own, which has no event to wait on."""
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0)


def test_the_fake_is_a_source() -> None:
    assert isinstance(FakeSource("api", batch="allowed"), Source)
    assert isinstance(FakeSource("oembed"), Source)


# -- batches --------------------------------------------------------------------------------------------


async def test_a_batch_answer_is_used_for_every_id_and_no_single_source_is_asked() -> None:
    api = FakeSource("api", {"t2": Answer("no_image"), "t3": NOT_FOUND}, batch="allowed")
    oembed = FakeSource("oembed")
    fetch, emitted = fetcher(Lineup(batch=(api,), single=(oembed, api)))
    assert fetch.batch_allowed("tracks") is None  # not known before the probe
    await fetch.run(Job("tracks", [["t1", "t2"], ["t3"]], batch=True, probe=True))
    assert fetch.batch_allowed("tracks") is True and fetch.batch_allowed("artists") is None
    await fetch.run(Job("tracks", [["t4"]], batch=True))
    assert by_id(emitted) == {
        "t1": (url("api", "t1"), "api"),
        "t2": (Answer("no_image"), "api"),
        "t3": (NOT_FOUND, "api"),
        "t4": (url("api", "t4"), "api"),
    }
    assert api.calls == [Call("batch", "tracks", ("t1", "t2", "t3")), Call("batch", "tracks", ("t4",))]
    assert oembed.calls == []


async def test_a_refused_probe_returns_nothing_so_that_the_producer_queues_it_again() -> None:
    api = FakeSource("api", batch="refused")
    oembed = FakeSource("oembed")
    fetch, emitted = fetcher(Lineup(batch=(api,), single=(oembed, api)))
    await fetch.run(Job("tracks", [["t1", "t2"], ["t3"]], batch=True, probe=True))
    assert emitted == [] and oembed.calls == []
    assert fetch.batch_allowed("tracks") is False
    assert await guarded(fetch.probe_settled("tracks")) is False


async def test_a_refused_batch_that_is_not_the_probe_goes_to_the_single_item_sources() -> None:
    """Sent while the probe was out, it waits for the probe's refusal, then its ids go one by one."""

    async def hold_the_probe_until_both_are_out(request: Request) -> None:
        await until(lambda: len(api.calls) == 2)

    api = FakeSource("api", batch="refused", before_request=hold_the_probe_until_both_are_out)
    oembed = FakeSource("oembed")
    fetch, emitted = fetcher(Lineup(batch=(api,), single=(oembed, api)))
    probe = Job("tracks", [["t1"]], batch=True, probe=True)
    other = Job("tracks", [["t2", "t3"], ["t4"]], batch=True)
    await guarded(asyncio.gather(fetch.run(probe), fetch.run(other)))
    assert by_id(emitted) == {i: (url("oembed", i), "oembed") for i in ("t2", "t3", "t4")}
    assert oembed.calls == [Call("singles", "tracks", ("t2", "t3")), Call("singles", "tracks", ("t4",))]
    assert [c.how for c in api.calls] == ["batch", "batch"]  # the second one waited and sent nothing
    assert api.requests["tracks"] == 1
    # Once refused, a batch job is not sent as a batch at all.
    await fetch.run(Job("tracks", [["t5"]], batch=True))
    assert len(api.calls) == 2 and emitted[-1].source == "oembed"


async def test_a_batch_source_given_up_hands_its_ids_to_the_single_item_sources() -> None:
    down = SourceDown("api", "the Web API (127.0.0.1:9) cannot be reached")
    api = FakeSource("api", batch="allowed", lose_at=(1, down))
    oembed = FakeSource("oembed")
    fetch, emitted = fetcher(Lineup(batch=(api,), single=(oembed, api)))
    await fetch.run(Job("tracks", [["t1", "t2"]], batch=True, probe=True))  # the probe: given up, not refused
    assert by_id(emitted) == {i: (url("oembed", i), "oembed") for i in ("t1", "t2")}
    assert fetch.given_up == {"api": down} and api.pace.gate.shut_by is down
    assert fetch.batch_allowed("tracks") is False  # no usable batch source is left
    assert await guarded(fetch.probe_settled("tracks")) is None


# -- single items ----------------------------------------------------------------------------------


async def test_single_sources_are_asked_in_turn_each_only_for_what_the_one_before_failed() -> None:
    a = FakeSource("a", {"t2": failed(), "t3": failed(), "t4": failed(), "t5": NOT_FOUND})
    b = FakeSource("b", {"t3": failed(), "t4": failed()})
    c = FakeSource("c", {"t4": failed("c could not", 502)})
    fetch, emitted = fetcher(Lineup(single=(a, b, c)))
    await fetch.run(Job("tracks", [["t1", "t2", "t3", "t4", "t5"]]))
    assert a.calls == [Call("singles", "tracks", ("t1", "t2", "t3", "t4", "t5"))]
    assert b.calls == [Call("singles", "tracks", ("t2", "t3", "t4"))]  # "not found" is an answer: t5 stays
    assert c.calls == [Call("singles", "tracks", ("t3", "t4"))]
    assert by_id(emitted) == {
        "t1": (url("a", "t1"), "a"),
        "t5": (NOT_FOUND, "a"),
        "t2": (url("b", "t2"), "b"),
        "t3": (url("c", "t3"), "c"),
        "t4": (failed("c could not", 502), "c"),  # no later source: the last failure, naming its source
    }
    assert emitted[-1].http_status == 502
    # Answers are counted per source; the failures are not, nor a "not found" of a source asked again.
    assert fetch.served == {("tracks", "a"): 2, ("tracks", "b"): 1, ("tracks", "c"): 1}


async def test_a_failure_with_no_later_source_is_emitted_naming_its_source() -> None:
    only = FakeSource("only", {"t1": failed("timed out", 0)})
    fetch, emitted = fetcher(Lineup(single=(only,)))
    await fetch.run(Job("tracks", [["t1", "t2"]]))
    assert by_id(emitted) == {"t1": (failed("timed out", 0), "only"), "t2": (url("only", "t2"), "only")}
    assert [f.item_id for f in emitted] == ["t1", "t2"]  # emitted as it comes, not held to the group's end
    assert fetch.served == {("tracks", "only"): 1}


async def test_a_failure_whose_later_sources_were_given_up_meanwhile_keeps_its_own_answer() -> None:
    """t1 fails at a while b is still usable; b is given up (by another job) before t1's turn at it comes."""
    fetch: Fetcher

    async def hold_t2_until_b_is_lost(request: Request) -> None:
        if request.ids == ("t2",):
            await until(lambda: "b" in fetch.given_up)

    down = SourceDown("b", "b is not the service")
    a = FakeSource("a", {"t1": failed("a's own failure", 500), "t8": failed()}, before_request=hold_t2_until_b_is_lost)
    b = FakeSource("b", lose_at=(1, down))
    fetch, emitted = fetcher(Lineup(single=(a, b)))
    await guarded(asyncio.gather(fetch.run(Job("tracks", [["t1", "t2"]])), fetch.run(Job("tracks", [["t8"]]))))
    assert by_id(emitted) == {
        "t1": (failed("a's own failure", 500), "a"),
        "t2": (url("a", "t2"), "a"),
        "t8": (Answer("failed", why=str(down)), "b"),  # lost at b: the reason b was given up
    }
    assert b.calls == [Call("singles", "tracks", ("t8",))]
    assert fetch.served == {("tracks", "a"): 1}


async def test_a_source_given_up_mid_group_hands_the_ids_it_did_not_answer_to_the_next() -> None:
    limited = RateLimited(86_400, True, "a")
    a = FakeSource("a", {"t2": failed()}, lose_at=(3, limited))  # the 3rd request: t3
    b = FakeSource("b")
    fetch, emitted = fetcher(Lineup(single=(a, b)))
    await fetch.run(Job("tracks", [["t1", "t2", "t3", "t4"]]))
    assert b.calls == [Call("singles", "tracks", ("t2", "t3", "t4"))]  # t1 was answered; t4 never asked of a
    assert by_id(emitted) == {
        "t1": (url("a", "t1"), "a"),
        "t2": (url("b", "t2"), "b"),
        "t3": (url("b", "t3"), "b"),
        "t4": (url("b", "t4"), "b"),
    }
    assert fetch.given_up == {"a": limited}
    # Its gate is shut: a request of it that was waiting, or comes later, raises the same error ...
    assert a.pace.gate.shut_by is limited
    with pytest.raises(RateLimited):
        async for _ in a.singles("tracks", ["t9"]):
            pass
    # ... and the next jobs do not ask it at all.
    asked_of_a = len(a.calls)
    await fetch.run(Job("tracks", [["t5"]]))
    assert len(a.calls) == asked_of_a and emitted[-1].source == "b"


async def test_a_source_given_up_with_no_other_usable_source_stops_the_run() -> None:
    down = SourceDown("a", "a cannot be reached")
    alone = FakeSource("a", lose_at=(1, down))
    fetch, emitted = fetcher(Lineup(single=(alone,)))
    with pytest.raises(SourceDown) as raised:
        await fetch.run(Job("tracks", [["t1"]]))
    assert raised.value is down and emitted == []


async def test_the_last_usable_source_given_up_stops_the_run() -> None:
    a = FakeSource("a", {"t1": failed()}, lose_at=(3, RateLimited(7200, False, "a")))
    b = FakeSource("b", lose_at=(1, SourceDown("b", "b is mute")))
    fetch, emitted = fetcher(Lineup(single=(a, b)))
    await fetch.run(Job("tracks", [["t1", "t2"]]))  # b given up on t1 while a could still go on
    assert list(fetch.given_up) == ["b"] and [(f.item_id, f.source) for f in emitted] == [("t2", "a"), ("t1", "b")]
    with pytest.raises(RateLimited):
        await fetch.run(Job("tracks", [["t3"]]))
    assert list(fetch.given_up) == ["b"]  # the run stops with a's error; a is not "given up while others went on"


# -- what travels with the answers --------------------------------------------------------------------


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "singles"])
async def test_recovered_artist_names_travel_with_their_own_ids(batch: bool) -> None:
    api = FakeSource("api", {"a2": Answer("no_image")}, batch="allowed" if batch else "none")
    fetch, emitted = fetcher(Lineup(batch=(api,), single=(api,)))
    names = {"a1": ("Name One",), "a3": ("Name Three", "Name Three (alias)")}
    await fetch.run(Job("artists", [["a1"], ["a2"], ["a3"]], batch=batch, probe=batch, names=names))
    assert {f.item_id: f.names for f in emitted} == {"a1": names["a1"], "a2": (), "a3": names["a3"]}
    assert all(f.kind == "artists" for f in emitted)
    assert [c.how for c in api.calls] == (["batch"] if batch else ["singles"] * 3)


# -- the probe ---------------------------------------------------------------------------------------


async def test_probe_settled_waits_for_the_probe_to_end() -> None:
    answer = asyncio.Event()

    async def hold(request: Request) -> None:
        await answer.wait()

    api = FakeSource("api", batch="allowed", before_request=hold)
    fetch, emitted = fetcher(Lineup(batch=(api,), single=(api,)))
    probe = asyncio.create_task(fetch.run(Job("tracks", [["t1"]], batch=True, probe=True)))
    settled = asyncio.create_task(fetch.probe_settled("tracks"))
    await guarded(until(lambda: api.requests["tracks"] == 1))
    for _ in range(20):  # the loop runs on, the probe is still out: nothing settles
        await asyncio.sleep(0)
    assert not settled.done() and fetch.batch_allowed("tracks") is None
    answer.set()
    assert await guarded(settled) is True
    await guarded(probe)
    assert [f.item_id for f in emitted] == ["t1"]


async def test_probe_settled_gives_up_waiting_when_the_batch_source_is_given_up_meanwhile() -> None:
    """The probe hangs; the same source, asked for single items by another job, is given up: no wait for it."""
    release = asyncio.Event()

    async def hold_the_probe(request: Request) -> None:
        if request.how == "batch":
            await release.wait()

    limited = RateLimited(3600, True, "api")
    api = FakeSource("api", batch="allowed", lose_at=(2, limited), before_request=hold_the_probe)
    oembed = FakeSource("oembed", {"t9": failed()})
    fetch, _ = fetcher(Lineup(batch=(api,), single=(oembed, api)))
    probe = asyncio.create_task(fetch.run(Job("tracks", [["t1"]], batch=True, probe=True)))
    settled = asyncio.create_task(fetch.probe_settled("tracks"))
    await guarded(until(lambda: api.requests["tracks"] == 1))
    await fetch.run(Job("tracks", [["t9"]]))  # oEmbed fails it, the API's single call is its 2nd request
    assert fetch.given_up == {"api": limited}
    assert await guarded(settled) is None
    release.set()
    await guarded(probe)


async def test_without_a_batch_source_single_items_are_the_way() -> None:
    fetch, _ = fetcher(Lineup(single=(FakeSource("oembed"),)))
    assert fetch.batch_allowed("tracks") is False
    assert await guarded(fetch.probe_settled("tracks")) is None
