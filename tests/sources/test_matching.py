"""Matching a history row to a provider's candidates: by normalised names and the history's own evidence."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backfill.sources.matching import (
    AlbumCandidate,
    ArtistCandidate,
    ArtistHistory,
    Catalogue,
    Confirmed,
    NotFound,
    PlayedTrack,
    Unconfirmed,
    confirm_artist,
    deezer_image,
    deezer_md5,
    is_deezer_placeholder,
    match_album,
    nearest_size,
    normalise,
    normalise_title,
    same_name,
    same_title,
)

# Names as people and catalogues write them: letters with and without accents, digits, punctuation, spaces.
NAMES = st.text(
    alphabet=st.sampled_from("abcdeEnoyzABCXYZéèêëÉçñøæßÅåüÜ0179 .,'&!-/()[]:+$\t"), min_size=0, max_size=30
)


@pytest.mark.parametrize(
    ("history", "provider"),
    [
        ("Céline Dion", "Celine Dion"),
        ("Boney M.", "Boney M"),
        ("Bob Marley & The Wailers", "Bob Marley and the Wailers"),
        ("  Sigur   Rós ", "sigur ros"),
        ("Beatles, The", "The Beatles"),
        ("Guns N' Roses", "Guns N\u2019 Roses"),
        ("Jay-Z", "JAY Z"),
        ("Mø", "MO"),
        ("\uff21\uff22\uff22\uff21", "ABBA"),  # full-width letters
    ],
)
def test_spellings_of_one_name_are_the_same_name(history: str, provider: str) -> None:
    assert same_name(history, provider)


@pytest.mark.parametrize(
    ("history", "provider"),
    [("The Blue", "Blue"), ("Nova", "Nova Sky"), ("Queen", "Queen Latifah"), ("!!!", "???"), ("Kings", "King")],
)
def test_near_misses_are_different_names(history: str, provider: str) -> None:
    assert not same_name(history, provider)


@given(NAMES)
def test_normalising_twice_changes_nothing(name: str) -> None:
    assert normalise(normalise(name)) == normalise(name)
    assert normalise_title(normalise_title(name)) == normalise_title(name)


@given(NAMES)
def test_case_does_not_count(name: str) -> None:
    assert normalise(name.upper()) == normalise(name.lower()) == normalise(name)


@given(NAMES)
def test_accents_do_not_count(name: str) -> None:
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    assert normalise(bare) == normalise(name)


@given(st.text(alphabet="abcdefghij ", min_size=1, max_size=20), st.randoms(use_true_random=False))
def test_accents_added_to_plain_letters_do_not_count(name: str, rng: random.Random) -> None:
    marked = "".join(ch + (rng.choice("\u0301\u0300\u0308\u0327") if ch.isalpha() else "") for ch in name)
    assert normalise(unicodedata.normalize("NFC", marked)) == normalise(name)


@pytest.mark.parametrize(
    ("history", "provider"),
    [
        ("News of the World", "News Of The World (2011 Remaster)"),
        ("Exodus", "Exodus (Deluxe Edition)"),
        ("Golden Hour", "Golden Hour - Single"),
        ("Abbey Road", "Abbey Road [Super Deluxe Edition]"),
        ("Rumours", "Rumours - 2004 Remaster"),
    ],
)
def test_an_edition_note_does_not_change_the_record(history: str, provider: str) -> None:
    assert same_title(history, provider)


@pytest.mark.parametrize(
    ("history", "provider"),
    [("Fearless", "Fearless (Taylor's Version)"), ("Lights", "Lights Out"), ("Live", "Live (Live)")],
)
def test_other_titles_stay_different(history: str, provider: str) -> None:
    assert not same_title(history, provider)


def test_a_title_that_is_only_an_edition_note_is_kept() -> None:
    assert normalise_title("(Remastered)") == "remastered"


# -- artists ------------------------------------------------------------------------------------------------

QUEEN_HISTORY = ArtistHistory(
    "Queen",
    tracks=("Bohemian Rhapsody", "We Will Rock You", "Killer Queen"),
    albums=("A Night at the Opera", "News of the World", "Greatest Hits"),
)
QUEENS = [
    (ArtistCandidate("1", "Queen", 75), Catalogue(albums=("Demo Tape 1998",), tracks=("Morning Rain",))),
    (
        ArtistCandidate("2", "Queen", 12_700_000),
        Catalogue(
            albums=("A Night At The Opera (2011 Remaster)", "News Of The World (2011 Remaster)", "Greatest Hits"),
            tracks=("Bohemian Rhapsody", "We Will Rock You"),
        ),
    ),
    (ArtistCandidate("3", "Queen", 4_500), Catalogue(albums=("Tribute",), tracks=("Bohemian Rhapsody",))),
    (ArtistCandidate("4", "Queen", 1_203), Catalogue(albums=("Greatest Hits",), tracks=("Neon Nights",))),
    (ArtistCandidate("5", "Queen Latifah", 900_000), Catalogue(albums=("Black Reign",))),
]


def test_the_namesake_with_the_most_of_the_users_titles_is_confirmed_whatever_the_order() -> None:
    for seed in range(6):
        candidates = list(QUEENS)
        random.Random(seed).shuffle(candidates)
        verdict = confirm_artist(QUEEN_HISTORY, candidates)
        assert isinstance(verdict, Confirmed)
        assert verdict.candidate.id == "2"
        assert verdict.evidence == (
            "album: A Night at the Opera",
            "album: Greatest Hits",
            "album: News of the World",
            "track: Bohemian Rhapsody",
            "track: We Will Rock You",
        )


def test_neither_the_first_nor_the_most_followed_is_taken_without_evidence() -> None:
    history = ArtistHistory("Kings", tracks=("Tidewater",), albums=("Harbour Lights",))
    famous = (ArtistCandidate("10", "Kings", 2_100_000), Catalogue(albums=("Crown Heights",), tracks=("Gold",)))
    small = (ArtistCandidate("11", "Kings", 340), Catalogue(albums=("Harbour Lights",), tracks=("Tidewater",)))
    verdict = confirm_artist(history, [famous, small])
    assert isinstance(verdict, Confirmed) and verdict.candidate.id == "11"
    assert confirm_artist(history, [famous]) == Unconfirmed((famous[0],))


def test_a_tie_confirms_none_and_names_the_candidates() -> None:
    history = ArtistHistory("Atlas", tracks=("Embers", "Gale"), albums=("First Light", "Second Wind"))
    a = (ArtistCandidate("20", "Atlas"), Catalogue(albums=("First Light",), tracks=("Embers",)))
    b = (ArtistCandidate("21", "Atlas"), Catalogue(albums=("Second Wind",), tracks=("Gale",)))
    verdict = confirm_artist(history, [a, b])
    assert isinstance(verdict, Unconfirmed)
    assert {c.id for c in verdict.candidates} == {"20", "21"}


def test_the_same_candidate_listed_twice_is_not_a_tie_with_itself() -> None:
    history = ArtistHistory("Atlas", albums=("First Light",))
    a = (ArtistCandidate("20", "Atlas"), Catalogue(albums=("First Light",)))
    verdict = confirm_artist(history, [a, a])
    assert isinstance(verdict, Confirmed) and verdict.candidate.id == "20"


def test_a_near_miss_is_not_found_even_with_the_users_titles() -> None:
    history = ArtistHistory("Nova", tracks=("Static",), albums=("Lights Out",))
    nova_sky = (ArtistCandidate("30", "Nova Sky"), Catalogue(albums=("Lights Out",), tracks=("Static",)))
    assert confirm_artist(history, [nova_sky]) == NotFound()
    blue = (ArtistCandidate("31", "Blue"), Catalogue(albums=("Tidal",)))
    assert confirm_artist(ArtistHistory("The Blue", albums=("Tidal",)), [blue]) == NotFound()
    assert confirm_artist(history, []) == NotFound()


def test_other_spellings_of_the_name_are_confirmed() -> None:
    history = ArtistHistory("Céline Dion", tracks=("My Heart Will Go On",))
    celine = (ArtistCandidate("40", "Celine Dion"), Catalogue(tracks=("My Heart Will Go On",)))
    verdict = confirm_artist(history, [celine])
    assert isinstance(verdict, Confirmed) and verdict.evidence == ("track: My Heart Will Go On",)


# -- albums -------------------------------------------------------------------------------------------------


def album(
    id_: str,
    title: str,
    artist: str = "Queen",
    artist_id: str = "2",
    single: bool | None = None,
    tracks: tuple[str, ...] = (),
) -> AlbumCandidate:
    return AlbumCandidate(id_, title, artist_id, artist, single, tracks)


def test_an_album_needs_the_rows_artist_and_album_title() -> None:
    row = PlayedTrack("Queen", "A Night at the Opera", "Bohemian Rhapsody")
    right = album("100", "A Night At The Opera (2011 Remaster)")
    verdict = match_album(row, [album("101", "A Night at the Opera", "Queen Latifah", "5"), right])
    assert isinstance(verdict, Confirmed) and verdict.candidate == right
    assert match_album(row, [album("102", "A Day at the Races")]) == NotFound()
    near = album("103", "Lights Out", "Nova Sky", "30")
    assert match_album(PlayedTrack("Nova", "Lights Out", "Static"), [near]) == NotFound()


def test_a_single_is_matched_by_artist_and_track_title() -> None:
    single = album("200", "Paper Boats", "Juniper Lane", "50", single=True)
    on_album = album("201", "Harbour", "Juniper Lane", "50", single=False, tracks=("Paper Boats", "Gulls"))
    no_album = PlayedTrack("Juniper Lane", "", "Paper Boats")
    verdict = match_album(no_album, [on_album, single])
    assert isinstance(verdict, Confirmed) and verdict.candidate == single
    # A row that names another album is not a single: the single's cover is not its cover.
    assert match_album(PlayedTrack("Juniper Lane", "Harbour Live", "Paper Boats"), [single]) == NotFound()
    # An album (not a single) named like the track is not taken for a row without an album.
    self_titled = album("202", "Paper Boats", "Juniper Lane", "50", single=False)
    assert match_album(no_album, [self_titled]) == NotFound()


def test_equal_albums_go_to_the_confirmed_artist_or_to_none() -> None:
    row = PlayedTrack("Queen", "Greatest Hits", "Killer Queen")
    real, other = album("300", "Greatest Hits"), album("301", "Greatest Hits", artist_id="4")
    tie = match_album(row, [other, real])
    assert isinstance(tie, Unconfirmed) and {c.id for c in tie.candidates} == {"300", "301"}
    verdict = match_album(row, [other, real], confirmed_artist_id="2")
    assert isinstance(verdict, Confirmed) and verdict.candidate == real
    assert isinstance(match_album(row, [other, real], confirmed_artist_id="9"), Unconfirmed)


def test_the_album_that_lists_the_track_is_better_evidence() -> None:
    row = PlayedTrack("Queen", "Greatest Hits", "Killer Queen")
    real = album("300", "Greatest Hits", tracks=("Killer Queen", "Bohemian Rhapsody"))
    other = album("301", "Greatest Hits", artist_id="4", tracks=("Neon Nights",))
    verdict = match_album(row, [other, real])
    assert isinstance(verdict, Confirmed) and verdict.candidate == real
    assert verdict.evidence == ("artist: Queen", "album: Greatest Hits", "track: Killer Queen")


# -- Deezer's images ----------------------------------------------------------------------------------------

MD5 = "2a96cbd8b46e442fc41c2b86b8215620"
HOST = "https://e-cdns-images.dzcdn.net"


def test_the_deezer_size_nearest_300_px_is_250() -> None:
    assert nearest_size() == 250
    assert nearest_size(375, (250, 500)) == 500  # equally near: the larger
    assert nearest_size(1200) == 1000


def test_an_empty_md5_is_the_placeholder() -> None:
    assert is_deezer_placeholder(f"{HOST}/images/artist//250x250-000000-80-0-0.jpg")
    assert is_deezer_placeholder("https://cdn-images.dzcdn.net/images/cover//500x500-000000-80-0-0.jpg")
    assert not is_deezer_placeholder(f"{HOST}/images/artist/{MD5}/250x250-000000-80-0-0.jpg")
    assert deezer_md5(f"{HOST}/images/cover/{MD5}/56x56-000000-80-0-0.jpg") == MD5
    assert deezer_md5("https://api.deezer.com/artist/27/image") is None
    assert not is_deezer_placeholder("https://api.deezer.com/artist/27/image")


def pictures(md5: str) -> dict[str, object]:
    body: dict[str, object] = {"picture": "https://api.deezer.com/artist/27/image"}
    for name, size in {"small": 56, "medium": 250, "big": 500, "xl": 1000}.items():
        body[f"picture_{name}"] = f"{HOST}/images/artist/{md5}/{size}x{size}-000000-80-0-0.jpg"
    return body


def test_the_stored_picture_is_the_250_px_one_and_never_a_placeholder() -> None:
    assert deezer_image(pictures(MD5), "picture") == f"{HOST}/images/artist/{MD5}/250x250-000000-80-0-0.jpg"
    assert deezer_image(pictures(""), "picture") is None
    assert deezer_image({"picture_medium": 12345}, "picture") is None
    assert deezer_image({"cover_medium": "not a url"}, "cover") is None
    assert deezer_image(["not", "an", "object"], "cover") is None
