from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backfill.images import choose_image


def img(url: str, w: int | None, h: int | None = None) -> dict[str, object]:
    return {"url": url, "width": w, "height": h if h is not None else w}


def test_album_art_prefers_300() -> None:
    assert choose_image([img("a", 640), img("b", 300), img("c", 64)]) == "b"


def test_artist_photo_takes_320_not_640() -> None:
    assert choose_image([img("a", 640), img("b", 320), img("c", 160)]) == "b"


def test_tie_goes_to_the_larger() -> None:
    assert choose_image([img("small", 250), img("large", 350)]) == "large"
    assert choose_image([img("large", 350), img("small", 250)]) == "large"


def test_empty_or_missing_list_means_no_image() -> None:
    assert choose_image([]) is None
    assert choose_image(None) is None


def test_no_sizes_takes_the_first_entry() -> None:
    assert choose_image([img("first", None), img("second", None)]) == "first"


def test_sized_entries_win_over_unsized() -> None:
    assert choose_image([img("unsized", None), img("big", 1000), img("mid", 280)]) == "mid"


def test_height_only_entry_is_sized_by_height() -> None:
    assert choose_image([{"url": "a", "width": None, "height": 640}, {"url": "b", "width": None, "height": 300}]) == "b"


def test_entries_without_url_are_ignored() -> None:
    assert choose_image([{"url": "", "width": 300, "height": 300}, img("ok", 640)]) == "ok"
    assert choose_image([{"width": 300, "height": 300}]) is None


sizes = st.one_of(st.none(), st.integers(min_value=1, max_value=3000))


@given(st.lists(sizes, min_size=1, max_size=8))
def test_choice_is_nearest_300_ties_larger(widths: list[int | None]) -> None:
    images = [img(f"u{i}", w) for i, w in enumerate(widths)]
    chosen = choose_image(images)
    known = [w for w in widths if w is not None]
    if not known:
        assert chosen == "u0"
        return
    assert chosen is not None
    w = widths[int(chosen[1:])]
    assert w is not None
    for other in known:
        assert abs(w - 300) < abs(other - 300) or (abs(w - 300) == abs(other - 300) and w >= other)
