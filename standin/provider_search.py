"""How the stand-in providers find things: their own loose text search, and their query syntaxes.

Deliberately not the tool's matching code: a provider's search is fuzzy (it finds "Celine Dion" for "Céline
Dion", "Blue" for "The Blue", "Nova Sky" for "Nova") and the tool has to judge what it gets back.

- `fold`/`words`: lower case, no diacritics, `&` as "and", punctuation as spaces.
- `finds(text, query)`: every meaningful word of the query (not "the", "a", "and", "of") is in the text.
- `deezer_query`: Deezer's `artist:"A" track:"T" album:"B"` fields and the plain words around them.
- `lucene_query`: MusicBrainz's `artist:"X" AND releasegroup:"Y"` (AND, OR, NOT and brackets read as AND).
"""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset({"the", "a", "an", "and", "of"})
_DEEZER_FIELD = re.compile(r'\b(artist|album|track|label|dur_min|dur_max|bpm_min|bpm_max):"((?:[^"\\]|\\.)*)"')
_LUCENE_TERM = re.compile(r'(?:\b([A-Za-z-]+):)?(?:"((?:[^"\\]|\\.)*)"|([^\s()"]+))')
_LUCENE_OPERATORS = frozenset({"AND", "OR", "NOT", "&&", "||"})


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("&", " and ")
    text = "".join(ch if ch.isalnum() or ch.isspace() else ("" if ch in "'\u2019." else " ") for ch in text)
    return " ".join(text.split())


def words(text: str) -> tuple[str, ...]:
    return tuple(fold(text).split())


def _meaningful(query: str) -> set[str]:
    all_words = set(words(query))
    return (all_words - STOPWORDS) or all_words


def finds(text: str, query: str) -> bool:
    """Whether a search for `query` returns an item whose searchable text is `text`."""
    wanted = _meaningful(query)
    return bool(wanted) and wanted <= set(words(text))


def exact(text: str, query: str) -> bool:
    return fold(text) == fold(query)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def deezer_query(q: str) -> tuple[dict[str, str], str]:
    """(fields, plain words): `artist:"Queen" album:"The Game"` -> ({"artist": "Queen", "album": "The Game"}, "")."""
    fields = {name: _unescape(value) for name, value in _DEEZER_FIELD.findall(q)}
    return fields, " ".join(_DEEZER_FIELD.sub(" ", q).split())


def lucene_query(query: str) -> tuple[dict[str, str], str]:
    """(fields, plain words) of a Lucene query; a field given twice keeps its words from both."""
    fields: dict[str, str] = {}
    plain: list[str] = []
    for field, quoted, bare in _LUCENE_TERM.findall(query):
        value = _unescape(quoted) if quoted else bare
        if not field and value in _LUCENE_OPERATORS:
            continue
        if field:
            key = field.lower()
            fields[key] = f"{fields[key]} {value}" if key in fields else value
        else:
            plain.append(value)
    return fields, " ".join(plain)
