from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backfill.sources.images import Malformed, choose_image, is_image_url

U = "https://i.scdn.co/image/"


def img(url: str, w: object, h: object = None) -> dict[str, object]:
    return {"url": U + url, "width": w, "height": h if h is not None else w}


def test_album_art_prefers_300() -> None:
    assert choose_image([img("a", 640), img("b", 300), img("c", 64)]) == U + "b"


def test_artist_photo_takes_320_not_640() -> None:
    assert choose_image([img("a", 640), img("b", 320), img("c", 160)]) == U + "b"


def test_tie_goes_to_the_larger() -> None:
    assert choose_image([img("small", 250), img("large", 350)]) == U + "large"
    assert choose_image([img("large", 350), img("small", 250)]) == U + "large"


def test_empty_list_means_no_image() -> None:
    assert choose_image([]) is None


def test_no_sizes_takes_the_first_entry() -> None:
    assert choose_image([img("first", None), img("second", None)]) == U + "first"


def test_sized_entries_win_over_unsized() -> None:
    assert choose_image([img("unsized", None), img("big", 1000), img("mid", 280)]) == U + "mid"


def test_height_only_entry_is_sized_by_height() -> None:
    assert choose_image(
        [{"url": U + "a", "width": None, "height": 640}, {"url": U + "b", "width": None, "height": 300}]
    ) == (U + "b")


def test_entries_without_a_usable_url_are_skipped() -> None:
    for bad in ("", 12345, ["x"], {"u": 1}, "not a url at all", "ftp://host/x", "https://", "javascript:alert(1)"):
        assert choose_image([{"url": bad, "width": 300, "height": 300}, img("ok", 640)]) == U + "ok"


def test_a_list_of_only_unusable_entries_is_malformed_not_no_image() -> None:
    for images in ([{"width": 300, "height": 300}], [{"url": 12345, "width": 300}], ["x"], [None]):
        with pytest.raises(Malformed):
            choose_image(images)


def test_images_that_are_not_a_list_are_malformed() -> None:
    for images in (None, "https://i.scdn.co/image/x", {"url": U + "a"}, 3):
        with pytest.raises(Malformed):
            choose_image(images)


def test_sizes_as_strings_and_floats_are_read_as_numbers() -> None:
    assert choose_image([img("big", "640"), img("mid", "300"), img("small", "64")]) == U + "mid"
    assert choose_image([img("big", 640.0), img("mid", 300.0), img("small", 64.0)]) == U + "mid"
    assert choose_image([img("big", 640.5), img("mid", 300.5)]) == U + "mid"
    assert choose_image([img("big", True), img("mid", "3e2")]) == U + "mid"


def test_only_http_urls_count() -> None:
    assert is_image_url("https://image-cdn-ak.spotifycdn.com/image/ab67616d00001e02aa")
    assert is_image_url("http://127.0.0.1:8080/image/x")
    assert not is_image_url("//i.scdn.co/image/x")
    assert not is_image_url("https://i.scdn.co/image/a b")


sizes = st.one_of(st.none(), st.integers(min_value=1, max_value=3000))


@given(st.lists(sizes, min_size=1, max_size=8))
def test_choice_is_nearest_300_ties_larger(widths: list[int | None]) -> None:
    images = [img(f"u{i}", w) for i, w in enumerate(widths)]
    chosen = choose_image(images)
    known = [w for w in widths if w is not None]
    if not known:
        assert chosen == U + "u0"
        return
    assert chosen is not None
    w = widths[int(chosen[len(U) + 1 :])]
    assert w is not None
    for other in known:
        assert abs(w - 300) < abs(other - 300) or (abs(w - 300) == abs(other - 300) and w >= other)
