"""The words sample names are made of, and the names made from them."""

from __future__ import annotations

import itertools
import random
import unicodedata


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


ADJ = _words(
    "Amber Ashen Blue Broken Burning Cold Crimson Distant Electric Empty Endless Faded Falling Fading Gentle "
    "Glass Golden Heavy Hidden Hollow Honest Last Late Lonely Lost Loud Lucky Midnight Neon Northern Paper "
    "Pale Quiet Restless Runaway Sacred Secret Silent Silver Slow Small Southern Static Strange Sweet Tender "
    "Velvet Wild Wooden Young"
)
NOUN = _words(
    "Anchor Atlas Avenue Bells Birds Bridge Canyon Cathedral Circles Coast Comet Corner Diamonds Dream Echo "
    "Embers Engine Feathers Fever Fire Flowers Garden Ghost Harbor Heart Highway Horizon Island Lanterns Letters "
    "Light Machine Mirror Moon Motel Mountain Ocean Orchard Parade Radio River Rooms Satellite Shadows Signal "
    "Sky Smoke Stars Station Storm Summer Sun Thunder Tides Tower Valley Waves Window Winter Wolves"
)
VERB = _words("Chasing Dancing Falling Holding Leaving Running Waiting Burning Calling Drifting Finding Losing")
FIRST = _words(
    "Ada Aiden Alma Bruno Cara Clara Dario Dev Elena Elliot Felix Freya Greta Hana Hugo Ines Iris Jonas Juno "
    "Kai Kira Lena Leo Luca Mara Milo Nadia Nico Nora Olga Omar Paolo Pia Quinn Rafa Rosa Ruby Sami Sara Tara "
    "Theo Uma Vera Wes Yara Yuri Zara"
)
LAST = _words(
    "Abbott Adler Banks Bellamy Brandt Castro Cole Dawes Ellis Farrow Fischer Grant Haddad Hale Ivers Kane "
    "Keller Kowalski Lang Lindqvist Marsh Mercer Moreau Novak Okafor Orr Pike Quill Reyes Rowe Sato Shaw Stone "
    "Sterling Vance Wade Weller Young"
)
# Letters that NFKD decomposes, so an ASCII spelling of the name exists ("Beyoncé" / "Beyonce").
_ACCENTED_FIRST = _words("Zoë Renée José Chloé Inês Mónica Björn André Noémie Léa Raúl Ángel Iñaki Çelik")
_ACCENTED_LAST = _words("Dvořák Núñez Håkansson Müller Gonçalves Pérez Åberg Jiménez Brontë Dupré Rós")
GENRES = _words(
    "indie rock;dream pop;shoegaze;synthpop;hip hop;trap;jazz;neo soul;r&b;folk;indie folk;techno;house;"
    "ambient;post-punk;metal;pop;k-pop;latin pop;reggaeton;classical;soundtrack;country;blues",
    ";",
)
SUFFIXES = ("Remastered 2011", "Remastered 2016", "2019 Remaster", "Live", "Mono Version", "Single Version")
BONUS = ("Demo", "Acoustic", "Live", "Alternate Take", "Instrumental", "Early Version")
COMMON_ALBUMS = ("Greatest Hits", "Live", "Christmas", "Unplugged", "The Collection", "Demos")
SHOWS = ("The Daily Hum", "Night Owls Radio", "Deep Cuts Podcast", "Tape Deck Stories")
LOCAL_ARTISTS = ("Unknown Artist", "Garage Tapes", "DJ Bootleg", "Uncle Ray")


def fold(name: str) -> str:
    """The ASCII spelling of a name, as an older export or a typed-in row would hold it."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if c.isascii())


def artist_names(rng: random.Random, n: int, accented: int) -> list[str]:
    """n distinct names; the first `accented` carry letters with an ASCII spelling."""
    names: list[str] = []
    seen: set[str] = set()
    patterns = (
        lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        lambda: f"The {rng.choice(ADJ)} {rng.choice(NOUN)}",
        lambda: f"{rng.choice(ADJ)} {rng.choice(NOUN)}",
        lambda: f"{rng.choice(NOUN)} {rng.choice(NOUN)}",
        lambda: f"{rng.choice(FIRST)} & the {rng.choice(NOUN)}",
        lambda: f"DJ {rng.choice(NOUN)}",
    )
    for i in range(n):
        for attempt in itertools.count():
            if i < accented:
                name = f"{rng.choice(_ACCENTED_FIRST)} {rng.choice(_ACCENTED_LAST)}"
            else:
                name = rng.choice(patterns)()
            if attempt > 20:  # the vocabulary ran out: number the name, as bands do
                name = f"{name} {attempt}"
            if name not in seen and name != "Various Artists" and (i >= accented or fold(name) != name):
                break
        seen.add(name)
        names.append(name)
    return names


def shuffled_track_names(rng: random.Random) -> list[str]:
    names = [f"{a} {b}" for a in ADJ for b in NOUN]
    names += [f"{v} {b}" for v in VERB for b in NOUN]
    names += [*NOUN, "Intro", "Outro", "Interlude", "Reprise", "Untitled"]
    rng.shuffle(names)
    return names


def fresh_name(rng: random.Random, taken: set[str]) -> str:
    for attempt in itertools.count():
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if attempt > 20:
            name = f"{name} {attempt}"
        if name not in taken:
            taken.add(name)
            return name
    raise AssertionError("unreachable")
