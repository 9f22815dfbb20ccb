"""Generated acts for the provider world: ordinary artists, some with a Deezer namesake, gaps and missing art."""

from __future__ import annotations

import random
from collections.abc import Sequence

from standin.provider_cases import Act, CoverArt, Listen, Record
from standin.provider_search import fold

_FIRST = (
    "Amber", "Silver", "Velvet", "Hollow", "Northern", "Paper", "Electric", "Quiet", "Golden", "Wild", "Lunar",
    "Static", "Crimson", "Pale", "Broken", "Distant", "Copper", "Glass", "Iron", "Midnight",
)  # fmt: skip
_SECOND = (
    "Harbor", "Foxes", "Engines", "Orchard", "Signals", "Rivers", "Lanterns", "Tigers", "Comets", "Gardens",
    "Pilots", "Wolves", "Satellites", "Horses", "Bells", "Canyons", "Ghosts", "Sparrows", "Machines", "Tides",
)  # fmt: skip
_WORDS = (
    "Morning", "Echo", "Drift", "Ember", "Fever", "Hollow", "Shore", "Bloom", "Signal", "Winter", "Ridge",
    "Mercury", "Neon", "Velvet", "Cinder", "Harvest", "Prism", "Meadow", "Thunder", "Violet", "Horizon", "Atlas",
)  # fmt: skip
_ART: tuple[tuple[CoverArt, float], ...] = (("front", 0.6), ("none", 0.3), ("back", 0.05), ("absent", 0.05))


def _title(rng: random.Random, taken: set[str]) -> str:
    while True:
        title = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}" if rng.random() < 0.7 else rng.choice(_WORDS)
        if fold(title) not in taken:
            taken.add(fold(title))
            return title


def _record(rng: random.Random, titles: set[str]) -> Record:
    single = rng.random() < 0.15
    title = _title(rng, titles)
    tracks = (title,) if single else tuple(_title(rng, titles) for _ in range(rng.randint(2, 6)))
    caa = rng.choices([art for art, _ in _ART], [weight for _, weight in _ART])[0]
    return Record(title, tracks, single=single, cover=rng.random() >= 0.05, caa=caa)


def filler_acts(
    rng: random.Random, count: int, namesakes: float, hand_made: Sequence[Act]
) -> tuple[list[Act], list[Listen]]:
    """`count` acts with names unlike every other act's, what the user played of each, and Deezer namesakes."""
    taken = {fold(name) for act in hand_made for name in (act.deezer_name, act.mb_name) if name}
    acts: list[Act] = []
    listens: list[Listen] = []
    for n in range(count):
        while True:
            name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)}"
            if fold(name) not in taken:
                taken.add(fold(name))
                break
        titles: set[str] = set()
        records = tuple(_record(rng, titles) for _ in range(rng.randint(1, 3)))
        if rng.random() < namesakes:
            # Listed first and more famous: the top result and the most fans are both wrong.
            decoy = (_record(rng, titles),)
            acts.append(Act(f"filler-{n}-namesake", name, None, rng.randint(100_000, 900_000), decoy))
        on_deezer, on_mb = rng.random() >= 0.1, rng.random() >= 0.2
        act = Act(
            f"filler-{n}",
            name if on_deezer else None,
            name if on_mb else None,
            rng.randint(50, 90_000),
            records,
            photo=rng.random() >= 0.1,
        )
        acts.append(act)
        for record in rng.sample(records, rng.randint(1, len(records))):
            played = tuple(rng.sample(record.tracks, rng.randint(1, min(3, len(record.tracks)))))
            local = rng.random() < 0.1
            blank = local and record.single and rng.random() < 0.5
            listens.append(Listen(act.key, name, record.title, played, local=local, blank_album=blank))
    return acts, listens
