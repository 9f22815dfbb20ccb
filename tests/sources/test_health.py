"""When a whole source is given up (sources.health), on a virtual clock: a mute one within about two minutes of
its last answer with the default settings, never while it still answers now and then."""

from __future__ import annotations

import pytest

from backfill.config import DEFAULT_GIVE_UP_AFTER, DEFAULT_TIMEOUT
from backfill.sources import health
from backfill.sources.health import MUTE_LIMIT, Health, SourceDown


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class Gate:
    def __init__(self) -> None:
        self.shut_by: BaseException | None = None

    def shut(self, exc: BaseException) -> None:
        self.shut_by = exc


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(health, "time", fake)
    return fake


def oembed(gate: Gate, timeout: float = DEFAULT_TIMEOUT, give_up_after: float = DEFAULT_GIVE_UP_AFTER) -> Health:
    return Health(gate, "oembed", "oEmbed", "http://cdn.example:8443/oembed", timeout, give_up_after)


def mute_until_given_up(source: Health, clock: Clock, workers: int, timeout: float) -> float:
    """Every worker's request times out after `timeout`, then it sends the next: the virtual time of the give-up."""
    while True:
        clock.now += timeout
        for _ in range(workers):
            try:
                source.no_reply(f"no answer within {timeout:g} s", unreachable=False)
            except SourceDown:
                return clock.now
        assert clock.now < 10_000, "a mute source was never given up"


@pytest.mark.parametrize("workers", [1, 8])
def test_a_mute_source_is_given_up_within_two_minutes_of_its_last_answer(clock: Clock, workers: int) -> None:
    gate = Gate()
    source = oembed(gate)
    source.replied()  # it answered once, then fell silent
    silent_from = clock.now
    given_up_at = mute_until_given_up(source, clock, workers, DEFAULT_TIMEOUT)
    assert DEFAULT_GIVE_UP_AFTER <= given_up_at - silent_from <= 120
    assert isinstance(gate.shut_by, SourceDown)
    message = str(gate.shut_by)
    assert "oEmbed (cdn.example:8443)" in message and f"no answer within {DEFAULT_TIMEOUT:g} s" in message
    assert "SPOTIFY_OEMBED_URL" in message


def test_a_source_that_answers_now_and_then_is_never_given_up(clock: Clock) -> None:
    """Timeouts in a row, but an answer inside every give_up_after: slow, not mute."""
    source = oembed(Gate())
    timeouts = MUTE_LIMIT * 3
    for _ in range(50):
        for _ in range(timeouts):
            clock.now += (DEFAULT_GIVE_UP_AFTER - 1) / timeouts
            source.no_reply("no answer within 30 s", unreachable=False)
        source.replied()


def test_a_few_timeouts_soon_after_an_answer_are_not_mute(clock: Clock) -> None:
    source = oembed(Gate())
    clock.now += DEFAULT_GIVE_UP_AFTER - 1
    for _ in range(MUTE_LIMIT * 10):
        source.no_reply("no answer within 30 s", unreachable=False)  # many at once, still inside the budget
    clock.now += 1
    with pytest.raises(SourceDown, match=f"none answered for {DEFAULT_GIVE_UP_AFTER:.0f} s"):
        source.no_reply("no answer within 30 s", unreachable=False)


def test_two_timeouts_however_long_the_silence_are_not_yet_mute(clock: Clock) -> None:
    source = oembed(Gate())
    clock.now += 10 * DEFAULT_GIVE_UP_AFTER
    for _ in range(MUTE_LIMIT - 1):
        source.no_reply("no answer within 30 s", unreachable=False)
    with pytest.raises(SourceDown):
        source.no_reply("no answer within 30 s", unreachable=False)
