"""The hand-made part of the provider world: each act and listen here stands for one way matching goes wrong.

An `Act` is a real-world artist, as Deezer and MusicBrainz each spell it (None: that provider lacks it); a
`Listen` is what the user's history holds of it, under the history's own spelling. Several acts may share a
name (namesakes); the history refers to the act the user really played, which is what the right answer is.
Acts are listed in the order Deezer's plain artist search returns namesakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CoverArt = Literal["front", "back", "none", "absent"]  # CAA: a front image, art without a front, 404, not in MB


@dataclass(frozen=True)
class Record:
    title: str  # as the user's history names it
    tracks: tuple[str, ...]
    single: bool = False
    deezer_title: str | None = None  # Deezer's spelling when it differs ("... (2011 Remaster)")
    cover: bool = True  # whether Deezer has a cover (else an empty md5_image)
    on_deezer: bool = True
    caa: CoverArt = "front"


@dataclass(frozen=True)
class Act:
    key: str
    deezer_name: str | None
    mb_name: str | None
    fans: int
    records: tuple[Record, ...]
    photo: bool = True  # whether Deezer has a photo (else its silhouette placeholder)


@dataclass(frozen=True)
class Listen:
    act: str  # an Act key
    artist: str  # the history's spelling of the artist
    record: str  # a Record title of that act
    tracks: tuple[str, ...]  # the tracks of it the user played
    local: bool = False  # the rows are local files (spotify:local:...)
    blank_album: bool = False  # a local file whose tags carry no album


def _r(
    title: str,
    *tracks: str,
    single: bool = False,
    deezer_title: str | None = None,
    cover: bool = True,
    caa: CoverArt = "front",
) -> Record:
    return Record(title, tracks, single=single, deezer_title=deezer_title, cover=cover, caa=caa)


ACTS: tuple[Act, ...] = (
    # Five Deezer artists named exactly "Queen": the first has 75 fans; the user's is the famous one, which a
    # tribute act (sharing a track title) and another Queen (sharing an album title) each confirm once.
    Act("queen-75", "Queen", None, 75, (_r("Demo Tape 1998", "Morning Rain", "Old Roads"),)),
    Act(
        "queen",
        "Queen",
        "Queen",
        12_700_000,
        (
            _r(
                "A Night at the Opera",
                "Death on Two Legs",
                "Bohemian Rhapsody",
                "Love of My Life",
                "You're My Best Friend",
                deezer_title="A Night At The Opera (2011 Remaster)",
            ),
            _r(
                "News of the World",
                "We Will Rock You",
                "We Are the Champions",
                "Spread Your Wings",
                deezer_title="News Of The World (2011 Remaster)",
            ),
            _r("The Game", "Another One Bites the Dust", "Play the Game", "Crazy Little Thing Called Love", caa="none"),
            _r("Greatest Hits", "Bohemian Rhapsody", "Another One Bites the Dust", "Killer Queen"),
        ),
    ),
    Act("queen-tribute", "Queen", None, 4_500, (_r("Killer Queen: A Tribute", "Bohemian Rhapsody", "Somebody"),)),
    Act("queen-1203", "Queen", "Queen", 1_203, (_r("Greatest Hits", "Neon Nights", "Highway Nine"),)),
    Act("queen-88", "Queen", None, 88, (_r("Live in Lagos", "Market Day", "Rain Dance"),), photo=False),
    Act("queen-latifah", "Queen Latifah", "Queen Latifah", 900_000, (_r("Black Reign", "U.N.I.T.Y.", "Listen"),)),
    # Two "Kings": the one with the most fans (and first in the search) is not the user's.
    Act("kings-famous", "Kings", "Kings", 2_100_000, (_r("Crown Heights", "Gold", "Empire"), _r("Royal", "Throne"))),
    Act("kings", "Kings", "Kings", 340, (_r("Harbour Lights", "Tidewater", "Lanterns", "Salt Air"),)),
    # Spelled differently by the history and by the provider.
    Act(
        "celine",
        "Celine Dion",
        "Céline Dion",
        6_000_000,
        (
            _r("Falling into You", "Because You Loved Me", "It's All Coming Back to Me Now"),
            _r("Let's Talk About Love", "My Heart Will Go On", "Immortality"),
        ),
    ),
    Act("boney", "Boney M", "Boney M.", 1_400_000, (_r("Nightflight to Venus", "Rivers of Babylon", "Rasputin"),)),
    Act(
        "marley",
        "Bob Marley and the Wailers",
        "Bob Marley & The Wailers",
        8_000_000,
        (_r("Exodus", "Jamming", "Three Little Birds", deezer_title="Exodus (Deluxe Edition)"),),
    ),
    Act("sigur", "Sigur Rós", "Sigur Rós", 700_000, (_r("Ágætis byrjun", "Svefn-g-englar", "Starálfur"),)),
    # Near misses: another act with a longer or shorter name, sharing titles with the user's act.
    Act("nova-sky", "Nova Sky", "Nova Sky", 50_000, (_r("Lights Out", "Static", "Afterglow"),)),
    Act("nova", None, None, 0, (_r("Lights Out", "Static", "Harbour Wall"),)),
    Act("blue", "Blue", "Blue", 1_800_000, (_r("All Rise", "All Rise", "Too Close"), _r("Tidal", "Undertow"))),
    Act("the-blue", None, "The Blue", 0, (_r("Tidal", "Undertow", "Riptide"),)),
    # Two namesakes, each with one of the user's albums: the artist is a tie, each album is not.
    Act("atlas-a", "Atlas", "Atlas", 900, (_r("First Light", "Embers", "Dawn Run"),)),
    Act("atlas-b", "Atlas", "Atlas", 1_500, (_r("Second Wind", "Gale", "Crosswind"),)),
    # No photo at Deezer (its silhouette), covers all there.
    Act("hollow", "Hollow Pines", "Hollow Pines", 2_300, (_r("Cedar Hall", "Pinewood", "Ash"),), photo=False),
    # Albums without art somewhere: no Deezer cover; CAA 404; CAA art with no front image.
    Act(
        "marrow",
        "Marrow",
        "Marrow",
        12_000,
        (
            _r("Bare Rooms", "Plaster", "Floorboards", cover=False),
            _r("Open Doors", "Hinge", "Threshold", caa="none"),
            _r("Window Seat", "Glass", caa="back"),
        ),
    ),
    # Singles: a local file without an album, a Spotify single named like its track.
    Act(
        "juniper",
        "Juniper Lane",
        "Juniper Lane",
        8_800,
        (_r("Paper Boats", "Paper Boats", single=True), _r("Harbour", "Paper Boats", "Gulls")),
    ),
    Act("mara", "Mara Vell", "Mara Vell", 31_000, (_r("Golden Hour", "Golden Hour", single=True, caa="absent"),)),
    # Known to no provider.
    Act("tapes", None, None, 0, (_r("Basement 1994", "Hiss", "Wow and Flutter"),)),
)

LISTENS: tuple[Listen, ...] = (
    Listen("queen", "Queen", "A Night at the Opera", ("Bohemian Rhapsody", "Love of My Life")),
    Listen("queen", "Queen", "News of the World", ("We Will Rock You",)),
    Listen("queen", "Queen", "The Game", ("Another One Bites the Dust",)),
    Listen("queen", "Queen", "Greatest Hits", ("Killer Queen",)),
    Listen("kings", "Kings", "Harbour Lights", ("Tidewater", "Salt Air")),
    Listen("celine", "Céline Dion", "Falling into You", ("Because You Loved Me",)),
    Listen("celine", "Céline Dion", "Let's Talk About Love", ("My Heart Will Go On",)),
    Listen("boney", "Boney M.", "Nightflight to Venus", ("Rasputin",)),
    Listen("marley", "Bob Marley & The Wailers", "Exodus", ("Jamming", "Three Little Birds")),
    Listen("sigur", "Sigur Ros", "Ágætis byrjun", ("Starálfur",)),
    Listen("nova", "Nova", "Lights Out", ("Static", "Harbour Wall")),
    Listen("the-blue", "The Blue", "Tidal", ("Undertow",)),
    Listen("atlas-a", "Atlas", "First Light", ("Embers",)),
    Listen("atlas-b", "Atlas", "Second Wind", ("Gale",)),
    Listen("hollow", "Hollow Pines", "Cedar Hall", ("Pinewood",)),
    Listen("marrow", "Marrow", "Bare Rooms", ("Plaster",)),
    Listen("marrow", "Marrow", "Open Doors", ("Hinge",)),
    Listen("marrow", "Marrow", "Window Seat", ("Glass",)),
    Listen("juniper", "Juniper Lane", "Paper Boats", ("Paper Boats",), local=True, blank_album=True),
    Listen("juniper", "Juniper Lane", "Harbour", ("Gulls",), local=True),
    Listen("mara", "Mara Vell", "Golden Hour", ("Golden Hour",)),
    Listen("tapes", "Obscure Tapes", "Basement 1994", ("Hiss",), local=True),
)
